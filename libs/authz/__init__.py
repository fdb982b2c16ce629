"""Authorization policy for the mesh: who may call which method (gRFC A43), audited (gRFC A59), hot reloaded.

    source = PolicySource(Path("/etc/lucid/policy.json"))   # or PolicySource(None): the shipped mesh policy
    verdict = source.current.for_method("/lucid.tron.v1.WalletService/SignTransaction").decide(principal)
    verdict.allowed, verdict.rule

No grpc here: the mesh (`lucid_tron.mesh`) asks it before a request is parsed, in every service and in the
beta-sidecar; a principal is the URI SAN of the caller's verified certificate (`lucid_tron.context.principal()`).
"""

from lucid_tron.authz._policy import (
    ANY,
    AuditCondition,
    Count,
    Counts,
    MethodPolicy,
    Policy,
    PolicyError,
    Rule,
    Verdict,
    parse_policy,
)
from lucid_tron.authz._settings import AclSettings
from lucid_tron.authz._source import MESH_POLICY, SIDECAR_POLICY, PolicySource, shipped_policy_text

__all__ = [
    "ANY",
    "MESH_POLICY",
    "SIDECAR_POLICY",
    "AclSettings",
    "AuditCondition",
    "Count",
    "Counts",
    "MethodPolicy",
    "Policy",
    "PolicyError",
    "PolicySource",
    "Rule",
    "Verdict",
    "parse_policy",
    "shipped_policy_text",
]
