"""What the current request carries, readable by any code below a servicer: its deadline, request id, trace id and
the caller's principal.

    deadlines.remaining() / deadlines.timeout(default) / deadlines.within(seconds)
    current_request_id(), current_trace_id(), REQUEST_ID_HEADER
    principal()    the caller's verified identity ("spiffe://lucid/tron/payout-router"), None without mutual TLS

No grpc here: the TronGrid client, the storage helpers and domain code read the deadline without loading the gRPC
server runtime. The mesh (`lucid_tron.mesh`) opens a request scope for each incoming RPC (the id and the deadline are
worked out when first read) and forwards them on outgoing calls.
"""

from lucid_tron.context import _deadlines as deadlines
from lucid_tron.context._ids import REQUEST_ID_HEADER, current_request_id, current_trace_id
from lucid_tron.context._scope import principal

__all__ = ["REQUEST_ID_HEADER", "current_request_id", "current_trace_id", "deadlines", "principal"]
