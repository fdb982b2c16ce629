"""`lucid-tron acl`: who may call what under the shipped ACL policies, as a Markdown table.

Computed by the policy engine itself from the shipped policies (deploy/policies/) and every method of the generated
descriptors, so the README's table is what the services enforce; a test compares them, and another checks each cell
against the issue's rules over real mTLS.
"""

from __future__ import annotations

from lucid_tron.authz import MESH_POLICY, SIDECAR_POLICY, Policy, parse_policy, shipped_policy_text
from lucid_tron.cli._services import BETA_SIDECAR, SERVICES

__all__ = ["acl_matrix"]

OPERATOR = "spiffe://lucid/operator/<name>"


def acl_matrix() -> str:
    """Markdown: one row per group of methods of a service that the same callers may call, one column per caller,
    and who gets through beta-sidecar (its border policy for the caller, then the mesh policy for the sidecar)."""
    from lucid_tron.services.beta_sidecar.proxy import known_shapes

    mesh = parse_policy(shipped_policy_text(MESH_POLICY))
    border = parse_policy(shipped_policy_text(SIDECAR_POLICY))
    names = [service.name for service in (*SERVICES, BETA_SIDECAR)]
    callers = [*(f"spiffe://lucid/tron/{name}" for name in names), OPERATOR]
    rows: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for method in sorted(known_shapes()):
        service, _, name = method.lstrip("/").partition("/")
        cells = tuple("✓" if _allows(mesh, method, caller) else "" for caller in callers)
        through = ", ".join(
            _short(caller) for caller in callers if _allows(border, method, caller) and _allows(mesh, method, callers[-2])
        )
        rows.setdefault((service, (*cells, through)), []).append(name)
    header = ["service: methods", *names, "operator", "through beta-sidecar"]
    lines = [f"| {' | '.join(header)} |", f"|{'---|' * len(header)}"]
    for (service, cells), methods in rows.items():
        lines.append(f"| {service.removeprefix('lucid.tron.v1.')}: {', '.join(methods)} | {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"


def _allows(policy: Policy, method: str, caller: str) -> bool:
    return policy.decide(method, caller.replace("<name>", "alice")).allowed


def _short(principal: str) -> str:
    return "operator" if principal == OPERATOR else principal.rpartition("/")[2]
