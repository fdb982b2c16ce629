"""The one domain-error hierarchy of lucid-tron.

Domain code raises these; it never imports grpc and never picks a status code. The mesh runtime
(`lucid_tron.mesh`) maps each class to exactly one gRPC status code, in one place::

    LucidError
    ├── InvalidArgument        INVALID_ARGUMENT  (BadRequest field violations)
    ├── NotFound               NOT_FOUND         (ResourceInfo)
    ├── AlreadyExists          ALREADY_EXISTS    (ResourceInfo)
    ├── PermissionDenied       PERMISSION_DENIED (ErrorInfo)
    ├── FailedPrecondition     FAILED_PRECONDITION (PreconditionFailure: one violation, or each of `violations`)
    ├── Aborted                ABORTED           (a concurrent change won; RetryInfo when known)
    ├── ResourceExhausted      RESOURCE_EXHAUSTED (a limit or quota; QuotaFailure when `quota` names it)
    ├── Unavailable            UNAVAILABLE       (a dependency is down; RetryInfo when known)
    └── DeadlineExceeded       DEADLINE_EXCEEDED

    PeerFailed                 INTERNAL          (not a LucidError: another service answered in a way that is a bug)

Messages are shown to callers: never put a key, a seed or a secret in one.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Aborted",
    "AlreadyExists",
    "DeadlineExceeded",
    "FailedPrecondition",
    "FieldViolation",
    "InvalidArgument",
    "LucidError",
    "NotFound",
    "PeerFailed",
    "PermissionDenied",
    "PreconditionViolation",
    "QuotaViolation",
    "ResourceExhausted",
    "Unavailable",
]


class LucidError(Exception):
    """Base of every error that a service answers with a status other than INTERNAL.

    `reason` is a stable UPPER_SNAKE_CASE code for machines (google.rpc.ErrorInfo.reason);
    the message is for people.
    """

    reason: str = "LUCID_ERROR"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason


@dataclass(frozen=True)
class FieldViolation:
    """One bad field of a request: `field` is the proto field path, e.g. `payout.amount_sun`."""

    field: str
    description: str


class InvalidArgument(LucidError):
    """The caller sent something malformed. Names every offending field; `reason`, when given, says more precisely
    what is wrong for machines (e.g. IDEMPOTENCY_KEY_REUSED)."""

    reason = "INVALID_ARGUMENT"

    def __init__(self, *violations: FieldViolation, reason: str | None = None) -> None:
        if not violations:
            raise ValueError("InvalidArgument needs at least one FieldViolation")
        self.violations = tuple(violations)
        super().__init__("; ".join(f"{v.field}: {v.description}" for v in self.violations), reason=reason)

    @classmethod
    def field(cls, field: str, description: str, *, reason: str | None = None) -> InvalidArgument:
        """Shorthand for the common case of a single bad field."""
        return cls(FieldViolation(field, description), reason=reason)


class NotFound(LucidError):
    """The named thing does not exist (or the caller may not know that it does)."""

    reason = "NOT_FOUND"

    def __init__(self, resource_type: str, resource_name: str, message: str | None = None) -> None:
        self.resource_type = resource_type
        self.resource_name = resource_name
        super().__init__(message or f"{resource_type} {resource_name!r} not found")


class AlreadyExists(LucidError):
    """A create collided with an existing resource that is not the same request replayed."""

    reason = "ALREADY_EXISTS"

    def __init__(self, resource_type: str, resource_name: str, message: str | None = None) -> None:
        self.resource_type = resource_type
        self.resource_name = resource_name
        super().__init__(message or f"{resource_type} {resource_name!r} already exists")


class PermissionDenied(LucidError):
    """The caller is known but not allowed to do this (for example an ACL refusal)."""

    reason = "PERMISSION_DENIED"


@dataclass(frozen=True)
class PreconditionViolation:
    """One precondition that does not hold: `subject` names what (e.g. the request field `intent.amount_base_units`),
    `description` how."""

    subject: str
    description: str


class FailedPrecondition(LucidError):
    """The request is well-formed but the system is not in a state to do it.

    `subject` names what is not in the right state (e.g. the account address, the invoice id). `violations`, when
    several things fail at once (each field of an intent that the transaction contradicts), lists each; they are
    sent instead of the single (subject, message) violation.
    """

    reason = "FAILED_PRECONDITION"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        subject: str = "",
        violations: tuple[PreconditionViolation, ...] = (),
    ) -> None:
        super().__init__(message, reason=reason)
        self.subject = subject
        self.violations = violations


class Aborted(LucidError):
    """A concurrent change won a race; retrying the whole operation is safe.

    `retry_after_s`, when known (e.g. the same request is still running), is sent as google.rpc.RetryInfo.
    """

    reason = "ABORTED"

    def __init__(
        self, message: str, *, reason: str | None = None, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message, reason=reason)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class QuotaViolation:
    """The limit that was reached: `subject` names it (e.g. "wallet:<id>:USDT:daily"), `description` says what is
    left of it."""

    subject: str
    description: str


class ResourceExhausted(LucidError):
    """A limit was reached: a payout limit, a rate limit, a quota. `quota`, when given, is sent as QuotaFailure."""

    reason = "RESOURCE_EXHAUSTED"

    def __init__(self, message: str, *, reason: str | None = None, quota: QuotaViolation | None = None) -> None:
        super().__init__(message, reason=reason)
        self.quota = quota


class Unavailable(LucidError):
    """A dependency (TronGrid, Tor, MongoDB, Redis, another service) cannot be reached now.

    `retry_after_s`, when known, is sent to the caller as google.rpc.RetryInfo.
    """

    reason = "UNAVAILABLE"

    def __init__(
        self, message: str, *, reason: str | None = None, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message, reason=reason)
        self.retry_after_s = retry_after_s


class DeadlineExceeded(LucidError):
    """The work could not finish within the caller's deadline."""

    reason = "DEADLINE_EXCEEDED"


class PeerFailed(Exception):
    """Another service of the mesh answered a call in a way no caller can act on: a bug, here or there.

    Its INTERNAL, UNKNOWN or UNIMPLEMENTED, or its INVALID_ARGUMENT for a request this service built. Not a
    LucidError on purpose: the mesh answers it like any unexpected error, INTERNAL with the request id only, and
    logs it with the peer's status (its code, message and details), which the text of this exception carries.
    """

    def __init__(self, peer: str, method: str, code: str, message: str, details: tuple[str, ...] = ()) -> None:
        self.peer = peer
        self.method = method
        self.code = code
        self.peer_message = message
        self.details = details
        shown = f" {'; '.join(details)}" if details else ""
        super().__init__(f"{peer} answered {method} with {code}: {message}{shown}")
