"""The one place where domain errors become gRPC statuses (google.rpc.Status with details, AIP-193).

Servicers and domain code raise `lucid_tron.errors` classes and never pick a status code. `answer_error` maps
each class to exactly one code and attaches the details a client needs to act on it (which field, which resource,
when to retry). NotImplementedError (an RPC inherited from the generated servicer base, or a variant of a request
a servicer does not support yet) is UNIMPLEMENTED, naming the method. Anything else is a bug: the caller gets
INTERNAL with the request id (never the exception text, which may carry internals), the traceback goes to the log,
and the process keeps serving. The mesh calls it from the one wrapper it puts around each handler
(`_handlers.serve_in_runtime`).

The other direction is here too: `error_from_peer` turns the status another service answered into the error that
describes the caller's own situation, so that it reaches the caller's caller through the same mapping. A peer that
is down or too slow makes the caller unavailable (UNAVAILABLE, reason PEER_UNAVAILABLE, the peer's RetryInfo
kept); a peer's NOT_FOUND, FAILED_PRECONDITION, PERMISSION_DENIED, RESOURCE_EXHAUSTED and ABORTED are passed on
with their reason and details, since the caller can act on them; anything else (the peer's INTERNAL, or its
INVALID_ARGUMENT for a request this service built) is a bug: PeerFailed, answered INTERNAL and logged with the
peer's status.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

import grpc
from google.protobuf import any_pb2, duration_pb2, text_format
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from lucid_tron import errors
from lucid_tron.context._ids import REQUEST_ID_HEADER

ERROR_DOMAIN = "tron.lucid"
#: The reason of the Unavailable a caller raises when a peer is down or did not answer in time.
PEER_UNAVAILABLE = "PEER_UNAVAILABLE"

log = logging.getLogger("lucid_tron.mesh.errors")

# Most specific first: the first class in an error's MRO found here decides its code.
_CODES: dict[type[errors.LucidError], grpc.StatusCode] = {
    errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    errors.FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    errors.Aborted: grpc.StatusCode.ABORTED,
    errors.ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.Unavailable: grpc.StatusCode.UNAVAILABLE,
    errors.DeadlineExceeded: grpc.StatusCode.DEADLINE_EXCEEDED,
}


async def answer_error(
    context: grpc.aio.ServicerContext[Any, Any], method: str, request_id: str, error: Exception
) -> NoReturn:
    """End the RPC `method` with the status for `error` (raised by its behavior); raises grpc.aio's AbortError."""
    if isinstance(error, errors.LucidError):
        log.info(
            "%s failed: %s %s",
            method,
            _code_of(error).name,
            error.reason,
            extra={"rpc_method": method, "reason": error.reason},
        )
        await abort_with(context, domain_status(error, request_id), request_id)
    elif isinstance(error, NotImplementedError):
        log.info("%s is not implemented", method, extra={"rpc_method": method})
        await abort_with(context, unimplemented_status(method, request_id), request_id)
    else:
        log.error("%s raised an unexpected error", method, extra={"rpc_method": method}, exc_info=error)
        await abort_with(context, internal_status(request_id), request_id)


def domain_status(error: errors.LucidError, request_id: str) -> status_pb2.Status:
    """The google.rpc.Status for a domain error: its code, its message, ErrorInfo, RequestInfo and specific details."""
    code = _code_of(error)
    details: list[Message] = [
        error_details_pb2.ErrorInfo(reason=error.reason, domain=ERROR_DOMAIN),
        error_details_pb2.RequestInfo(request_id=request_id),
    ]
    if isinstance(error, errors.InvalidArgument):
        details.append(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                    for v in error.violations
                ]
            )
        )
    elif isinstance(error, (errors.NotFound, errors.AlreadyExists)):
        details.append(
            error_details_pb2.ResourceInfo(
                resource_type=error.resource_type, resource_name=error.resource_name, description=error.message
            )
        )
    elif isinstance(error, errors.FailedPrecondition):
        shown = error.violations or (errors.PreconditionViolation(error.subject, error.message),)
        details.append(
            error_details_pb2.PreconditionFailure(
                violations=[
                    error_details_pb2.PreconditionFailure.Violation(
                        type=error.reason, subject=v.subject, description=v.description
                    )
                    for v in shown
                ]
            )
        )
    elif isinstance(error, errors.ResourceExhausted) and error.quota is not None:
        quota = error_details_pb2.QuotaFailure.Violation(
            subject=error.quota.subject, description=error.quota.description
        )
        details.append(error_details_pb2.QuotaFailure(violations=[quota]))
    elif isinstance(error, (errors.Unavailable, errors.Aborted)) and error.retry_after_s is not None:
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(round(error.retry_after_s * 1e9))
        details.append(error_details_pb2.RetryInfo(retry_delay=delay))
    return _status(code, error.message, details)


def unimplemented_status(method: str, request_id: str) -> status_pb2.Status:
    """UNIMPLEMENTED for a method (e.g. "/lucid.tron.v1.UsdtService/Transfer") the servicer does not implement."""
    details: list[Message] = [
        error_details_pb2.ErrorInfo(reason="UNIMPLEMENTED", domain=ERROR_DOMAIN),
        error_details_pb2.RequestInfo(request_id=request_id),
    ]
    return _status(grpc.StatusCode.UNIMPLEMENTED, f"{method} is not implemented", details)


def internal_status(request_id: str) -> status_pb2.Status:
    """INTERNAL for an unexpected exception: only the request id, so nothing internal leaks to the caller."""
    details: list[Message] = [
        error_details_pb2.ErrorInfo(reason="INTERNAL", domain=ERROR_DOMAIN),
        error_details_pb2.RequestInfo(request_id=request_id),
    ]
    return _status(grpc.StatusCode.INTERNAL, f"internal error (request_id={request_id})", details)


#: The reason of PERMISSION_DENIED for a call the ACL policy does not allow.
ACL_DENIED = "ACL_DENIED"
#: The reason of UNAUTHENTICATED for a call on a TLS server whose caller has no principal.
NO_PRINCIPAL = "NO_PRINCIPAL"


def acl_denied_status(request_id: str) -> status_pb2.Status:
    """PERMISSION_DENIED by the ACL: neither the policy nor its rule is named (they are in the server's audit log)."""
    details: list[Message] = [
        error_details_pb2.ErrorInfo(reason=ACL_DENIED, domain=ERROR_DOMAIN),
        error_details_pb2.RequestInfo(request_id=request_id),
    ]
    return _status(grpc.StatusCode.PERMISSION_DENIED, "the caller may not call this method", details)


def unauthenticated_status(request_id: str) -> status_pb2.Status:
    """UNAUTHENTICATED: a TLS call without a principal (no client certificate with a single spiffe:// URI SAN)."""
    details: list[Message] = [
        error_details_pb2.ErrorInfo(reason=NO_PRINCIPAL, domain=ERROR_DOMAIN),
        error_details_pb2.RequestInfo(request_id=request_id),
    ]
    message = "the caller has no identity: present a client certificate with one spiffe:// URI SAN"
    return _status(grpc.StatusCode.UNAUTHENTICATED, message, details)


def error_from_peer(peer: str, method: str, failure: grpc.aio.AioRpcError) -> Exception:
    """The error for the status `peer` (e.g. "wallet-manager") answered to `method`, as the caller's situation."""
    code = failure.code()
    message = failure.details() or ""
    details = _details_of(failure)
    info = _first(details, error_details_pb2.ErrorInfo)
    reason = info.reason if info is not None and info.reason else None
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        retry = _first(details, error_details_pb2.RetryInfo)
        retry_after_s = retry.retry_delay.ToNanoseconds() / 1e9 if retry is not None else None
        what = "did not answer in time" if code is grpc.StatusCode.DEADLINE_EXCEEDED else f"is unavailable: {message}"
        return errors.Unavailable(f"{peer} {what}", reason=PEER_UNAVAILABLE, retry_after_s=retry_after_s)
    if code is grpc.StatusCode.NOT_FOUND:
        resource = _first(details, error_details_pb2.ResourceInfo) or error_details_pb2.ResourceInfo()
        not_found = errors.NotFound(resource.resource_type, resource.resource_name, message)
        not_found.reason = reason or not_found.reason
        return not_found
    if code is grpc.StatusCode.FAILED_PRECONDITION:
        failed = _first(details, error_details_pb2.PreconditionFailure)
        subject = failed.violations[0].subject if failed is not None and failed.violations else ""
        return errors.FailedPrecondition(message, reason=reason, subject=subject)
    kept = _KEPT.get(code)
    if kept is not None:
        return kept(message, reason=reason)
    shown = tuple(f"{d.DESCRIPTOR.name} {{{text_format.MessageToString(d, as_one_line=True)}}}" for d in details)
    return errors.PeerFailed(peer, method, code.name, message, shown)


# The peer's codes that describe the caller's situation too, when the peer's details say no more than a reason.
_KEPT: dict[grpc.StatusCode, type[errors.LucidError]] = {
    grpc.StatusCode.PERMISSION_DENIED: errors.PermissionDenied,
    grpc.StatusCode.RESOURCE_EXHAUSTED: errors.ResourceExhausted,
    grpc.StatusCode.ABORTED: errors.Aborted,
}

_DETAIL_TYPES: dict[str, type[Message]] = {
    cls.DESCRIPTOR.full_name: cls
    for cls in (
        error_details_pb2.ErrorInfo,
        error_details_pb2.RequestInfo,
        error_details_pb2.BadRequest,
        error_details_pb2.ResourceInfo,
        error_details_pb2.PreconditionFailure,
        error_details_pb2.RetryInfo,
        error_details_pb2.QuotaFailure,
        error_details_pb2.DebugInfo,
        error_details_pb2.Help,
        error_details_pb2.LocalizedMessage,
    )
}


def _details_of(failure: grpc.aio.AioRpcError) -> list[Message]:
    """The google.rpc.Status details of a failed call that are known types; none when it carried no valid Status."""
    try:
        status = rpc_status.from_call(failure)  # type: ignore[arg-type]
    except ValueError:  # a Status whose code or message disagrees with the call's: not to be trusted
        return []
    unpacked: list[Message] = []
    for packed in status.details if status is not None else ():
        detail_type = _DETAIL_TYPES.get(packed.TypeName())
        if detail_type is not None:
            detail = detail_type()
            packed.Unpack(detail)
            unpacked.append(detail)
    return unpacked


M = TypeVar("M", bound=Message)


def _first(details: list[Message], detail_type: type[M]) -> M | None:
    return next((detail for detail in details if isinstance(detail, detail_type)), None)


def _code_of(error: errors.LucidError) -> grpc.StatusCode:
    # A LucidError subclass outside the documented tree has no agreed code: UNKNOWN says so honestly.
    return next((_CODES[cls] for cls in type(error).__mro__ if cls in _CODES), grpc.StatusCode.UNKNOWN)


def _status(code: grpc.StatusCode, message: str, details: list[Message]) -> status_pb2.Status:
    packed = []
    for detail in details:
        any_detail = any_pb2.Any()
        any_detail.Pack(detail)
        packed.append(any_detail)
    return status_pb2.Status(code=code.value[0], message=message, details=packed)


@dataclass(frozen=True)
class _Status(grpc.Status):
    code: grpc.StatusCode
    details: str
    trailing_metadata: tuple[tuple[str, str | bytes], ...]


async def abort_with(
    context: grpc.aio.ServicerContext[Any, Any], status: status_pb2.Status, request_id: str
) -> NoReturn:
    """End the call with `status` and the request id in its trailers: raises grpc.aio's AbortError."""
    rich = rpc_status.to_status(status)
    # Aborting replaces the trailing metadata set earlier, so the request id goes in again.
    trailing = (*rich.trailing_metadata, (REQUEST_ID_HEADER, request_id))
    await context.abort_with_status(_Status(rich.code, rich.details, trailing))
