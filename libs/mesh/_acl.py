"""The ACL check of every call: the Beta sidecar's policy (`lucid_tron.authz`), enforced inside each service.

The issue asks for "an interceptor ... before any request parsing". The mesh has no grpc.aio interceptor (see
`_handlers`): every handler is wrapped once at registration, and that wrapper parses the request itself (grpc is
given no deserializer). The check is the first thing the wrapper does, before the request bytes are looked at, for
all four RPC shapes: it is the interceptor, without the cost of one. Health (`grpc.health.v1.Health`) is never
checked: probes carry no identity. Reflection is checked like any other service.

Per method, at registration, `MethodGate` keeps the rules that can match the method (compiled again when the
policy is reloaded); per call it costs the principal's lookup in the method's verdicts.

Identity comes from mutual TLS: a server that listens with TLS enforces (`AclGate.enforcing`, switched on when a
secure port is added): a call without a principal is UNAUTHENTICATED, one the policy does not allow is
PERMISSION_DENIED (reason ACL_DENIED; which rule decided stays in the server's audit log). A plaintext server
(GRPC_INSECURE_PLAINTEXT) has no identity to check: it serves, and the mesh warns once at start that the ACL is not
enforced. With ACL_DRY_RUN, a call the policy denies is logged ("would deny") and served.
"""

from __future__ import annotations

import logging
from typing import Any

import grpc

from lucid_tron.authz import MethodPolicy, PolicySource, Verdict
from lucid_tron.context._scope import RequestScope
from lucid_tron.mesh._errors import abort_with, acl_denied_status, unauthenticated_status

__all__ = ["AclGate", "MethodGate", "refuse"]

audit_log = logging.getLogger("lucid_tron.authz.audit")

_UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED
_PERMISSION_DENIED = grpc.StatusCode.PERMISSION_DENIED


class AclGate:
    """The policy of one server and how it is applied (enforcing or not, dry run)."""

    def __init__(self, source: PolicySource, *, dry_run: bool = False) -> None:
        self.source = source
        self.dry_run = dry_run
        #: Whether calls are checked: True once the server listens with TLS (there is an identity to check).
        self.enforcing = False

    def method(self, method: str) -> MethodGate:
        """The check of calls to `method` ("/package.Service/Method"), prepared once."""
        return MethodGate(self, method)


class MethodGate:
    """The ACL check of one method; `check` per call."""

    __slots__ = ("_compiled", "_gate", "_method", "_version")

    def __init__(self, gate: AclGate, method: str) -> None:
        self._gate = gate
        self._method = method
        self._version = -1
        self._compiled: MethodPolicy | None = None

    def check(self, scope: RequestScope) -> grpc.StatusCode | None:
        """None when the call may proceed, else the status to refuse it with (`refuse`)."""
        gate = self._gate
        if not gate.enforcing:
            return None
        principal = scope.principal
        if principal is None:
            return _UNAUTHENTICATED
        compiled = self._compiled
        if self._version != gate.source.version or compiled is None:
            compiled = self._compiled = gate.source.current.for_method(self._method)
            self._version = gate.source.version
        verdict = compiled.decide(principal)
        verdict.count.value += 1
        if verdict.audited:
            self._audit(verdict, principal, scope)
        if verdict.allowed:
            return None
        if gate.dry_run:
            audit_log.warning(
                "ACL dry run: would deny %s to %s", self._method, principal, extra=self._fields(verdict, principal)
            )
            return None
        return _PERMISSION_DENIED

    def _audit(self, verdict: Verdict, principal: str, scope: RequestScope) -> None:
        fields = self._fields(verdict, principal)
        fields["request_id"] = scope.request_id
        audit_log.info("ACL %s %s to %s", verdict.decision, self._method, principal, extra=fields)

    def _fields(self, verdict: Verdict, principal: str) -> dict[str, Any]:
        return {
            "authz_policy": self._gate.source.current.name,
            "rpc_method": self._method,
            "principal": principal,
            "matched_rule": verdict.rule,
            "decision": verdict.decision,
            "dry_run": self._gate.dry_run,
        }


async def refuse(context: grpc.aio.ServicerContext[Any, Any], code: grpc.StatusCode, request_id: str) -> None:
    """End the call with `code` (from `MethodGate.check`): raises grpc.aio's AbortError."""
    status = unauthenticated_status(request_id) if code is _UNAUTHENTICATED else acl_denied_status(request_id)
    await abort_with(context, status, request_id)
