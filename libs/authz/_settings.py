"""The ACL settings group, composed into every service's settings (`lucid_tron.mesh.ServiceSettings`)."""

from __future__ import annotations

from dataclasses import dataclass

from lucid_tron.config import Settings, setting

__all__ = ["AclSettings"]


@dataclass(frozen=True, kw_only=True)
class AclSettings(Settings):
    """Which authorization policy the service enforces on its callers, and how."""

    # A JSON policy (gRFC A43; deploy/policies/). Unset: the policy shipped in the package (the mesh's, or the
    # wallet border's for beta-sidecar), never "allow all". Reloaded when it changes; an invalid edit is refused.
    acl_policy_file: str | None = setting("ACL_POLICY_FILE", default=None)
    # Log what the policy would deny and deny nothing: for trying a new policy on live traffic.
    acl_dry_run: bool = setting("ACL_DRY_RUN", default=False)
    # How often the policy file is checked for changes.
    acl_reload_interval_s: float = setting("ACL_RELOAD_INTERVAL_S", default=2.0, ge=0.05, le=300)
