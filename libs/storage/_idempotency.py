"""Idempotency keys (AIP-155 `request_id`): a retried request gets the first answer and never moves money twice.

    keys = IdempotencyKeys.in_database(store.db, service="payout-router")
    response = await keys.run("CreatePayout", request.request_id, request, create_payout, CreatePayoutResponse)

The contract (said once for callers in protos/lucid/tron/v1/common.proto):
- same key, same request: the stored response, without running the work again;
- same key, different request: INVALID_ARGUMENT, reason IDEMPOTENCY_KEY_REUSED, naming the field `request_id`;
- same key while the first is still running: ABORTED (REQUEST_IN_FLIGHT) with RetryInfo;
- a key is kept at least 24 h (a TTL index removes it later); keys are scoped per service and method.

Creates whose whole work is one transaction need no claim: the key is fields of the record they insert
(`embedded_key`, in a collection with a unique index on request_id), written in the same insert. A twin whose
transaction meets the first one's uncommitted record retries on the write conflict until that one ends; then, or
when it comes after the commit, its insert fails on the index (DuplicateKeyError) and it answers from the record
(`embedded_replay`). A crash before the commit leaves no key, so a retry just runs again.

    with keys.creating("CreatePayout", request.request_id, request):
        try:
            await in_transaction(client, work)        # work inserts {**payout, **embedded_key(...)}
        except DuplicateKeyError:
            return Response.FromString(embedded_replay(await payouts.find_one({"request_id": ...}), request))

Within one process, `creating` answers a twin at once (ABORTED, or INVALID_ARGUMENT for another body), before it
waits on anything the first one holds.

A claim is a lease: if the process running the work dies, the key is free again after `lease_s` and the next retry
runs the work. Choose `lease_s` longer than the longest deadline of the method, so a live first attempt is never
taken over. The work itself must still write its effect under a key derived from the request (e.g. a payout's id
from its request_id): between the effect's commit and `complete()` a crash leaves the claim running, and the retry
after the lease runs the work again.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar, TypeVar

import pymongo
from google.protobuf.message import Message
from pymongo import IndexModel, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, PyMongoError

from lucid_tron.errors import Aborted, InvalidArgument

from ._bounds import bounded
from ._mongo import DURABLE_WRITES
from ._transactions import canonical_json, utc_now

__all__ = [
    "IDEMPOTENCY_CLAIM_LOST",
    "IDEMPOTENCY_KEY_REUSED",
    "IdempotencyKeys",
    "IdempotentCall",
    "REQUEST_IN_FLIGHT",
    "embedded_key",
    "embedded_replay",
    "request_digest",
]

IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
REQUEST_IN_FLIGHT = "REQUEST_IN_FLIGHT"
IDEMPOTENCY_CLAIM_LOST = "IDEMPOTENCY_CLAIM_LOST"

#: How long a completed key is kept (AIP-155 asks for at least a day of retries).
RETENTION = timedelta(hours=24)
#: The longest a caller is told to wait before retrying a request that is still running.
_IN_FLIGHT_RETRY_S = 1.0
_REQUEST_ID_MAX_LENGTH = 128
_RUNNING = "running"
_DONE = "done"


M = TypeVar("M", bound=Message)
_log = logging.getLogger("lucid_tron.storage.idempotency")


@dataclass(frozen=True)
class IdempotentCall:
    """One claim on a key: `replay` is the stored response when the request already completed."""

    key: str
    claim: str
    replay: bytes | None


class IdempotencyKeys:
    """The idempotency keys of one service, in one collection (use a durable one: DURABLE_WRITES)."""

    COLLECTION: ClassVar[str] = "idempotency_keys"
    #: For a store's `indexes`: the TTL index that forgets a key once its `expires_at` has passed.
    INDEXES: ClassVar[Mapping[str, list[IndexModel]]] = {
        COLLECTION: [IndexModel("expires_at", expireAfterSeconds=0, name="expire")]
    }

    def __init__(
        self, collection: AsyncCollection[Any], *, service: str, lease_s: float = 60.0, retention: timedelta = RETENTION
    ) -> None:
        self._keys = collection
        self._service = service
        self._lease = timedelta(seconds=lease_s)
        self._retention = retention
        # (method, request_id) -> request digest, of the claim-free creates running in this process (`creating`).
        self._creating: dict[tuple[str, str], str] = {}

    @classmethod
    def in_database(cls, db: AsyncDatabase[Any], *, service: str, lease_s: float = 60.0) -> IdempotencyKeys:
        """The keys in `db`'s COLLECTION, written with DURABLE_WRITES."""
        return cls(db.get_collection(cls.COLLECTION, write_concern=DURABLE_WRITES), service=service, lease_s=lease_s)

    async def run(
        self,
        method: str,
        request_id: str,
        request: Message | Mapping[str, Any],
        work: Callable[[], Awaitable[M]],
        response_type: type[M],
    ) -> M:
        """The response of `work()` for this request, run at most once per key (see the module docstring).

        When `work` raises, the key is released and a retry runs the work again."""
        call = await self.begin(method, request_id, request)
        if call.replay is not None:
            return response_type.FromString(call.replay)
        try:
            response = await work()
        except BaseException:
            await self.abandon(call)
            raise
        await self.complete(call, response)
        return response

    async def begin(self, method: str, request_id: str, request: Message | Mapping[str, Any]) -> IdempotentCall:
        """Claim the key for this request, or find its stored response. Raises InvalidArgument for a missing or
        reused key and Aborted while another claim on the key is running."""
        _check_request_id(request_id)
        key = self._key(method, request_id)
        digest = request_digest(request)
        with bounded():
            while True:
                claim = uuid.uuid4().hex
                now = utc_now()
                try:
                    await self._keys.insert_one(
                        {
                            "_id": key,
                            "request_hash": digest,
                            "state": _RUNNING,
                            "claim": claim,
                            "lease_until": now + self._lease,
                            "expires_at": now + max(self._retention, self._lease),
                        }
                    )
                    return IdempotentCall(key, claim, None)
                except DuplicateKeyError:
                    pass
                existing = await self._keys.find_one({"_id": key})
                if existing is None:
                    continue  # forgotten (TTL) between the insert and the read
                if existing["request_hash"] != digest:
                    raise _reused()
                if existing["state"] == _DONE:
                    return IdempotentCall(key, existing["claim"], existing["response"])
                left = (existing["lease_until"] - now).total_seconds()
                if left > 0:
                    raise _in_flight(min(left, _IN_FLIGHT_RETRY_S))
                # The claim's holder died: take the key over, unless another retry just did.
                taken = await self._keys.find_one_and_update(
                    {"_id": key, "state": _RUNNING, "claim": existing["claim"]},
                    {"$set": {"claim": claim, "lease_until": now + self._lease}},
                    return_document=ReturnDocument.AFTER,
                )
                if taken is not None:
                    return IdempotentCall(key, claim, None)

    async def complete(
        self, call: IdempotentCall, response: Message | bytes, *, session: AsyncClientSession | None = None
    ) -> None:
        """Store the response of a claimed call (pass `session` to store it in the work's own transaction).

        Raises Aborted (IDEMPOTENCY_CLAIM_LOST) when the claim expired and another attempt took the key over."""
        body = response if isinstance(response, bytes) else response.SerializeToString(deterministic=True)
        now = utc_now()
        with bounded():
            result = await self._keys.update_one(
                {"_id": call.key, "state": _RUNNING, "claim": call.claim},
                {
                    "$set": {"state": _DONE, "response": body, "expires_at": now + self._retention},
                    "$unset": {"lease_until": ""},
                },
                session=session,
            )
        if result.matched_count == 0:
            raise Aborted("the idempotency claim expired and was taken over", reason=IDEMPOTENCY_CLAIM_LOST)

    @contextmanager
    def creating(self, method: str, request_id: str, request: Message | Mapping[str, Any]) -> Iterator[None]:
        """Around a claim-free create (module docstring): a twin arriving in this process meanwhile is answered at
        once, ABORTED (REQUEST_IN_FLIGHT) or, for a different request, INVALID_ARGUMENT (IDEMPOTENCY_KEY_REUSED).
        Raises InvalidArgument for a missing or too long key."""
        _check_request_id(request_id)
        running = (method, request_id)
        digest = request_digest(request)
        first = self._creating.get(running)
        if first is not None:
            raise _reused() if first != digest else _in_flight(_IN_FLIGHT_RETRY_S)
        self._creating[running] = digest
        try:
            yield
        finally:
            del self._creating[running]

    def _key(self, method: str, request_id: str) -> str:
        # A string, not a {service, method, request_id} document: SecantusDB (the test server) looks documents up
        # by a document-valued _id with a full scan, which made every key write O(keys kept). request_id comes last,
        # so the parts stay unambiguous whatever it contains.
        return f"{self._service}/{method}/{request_id}"

    async def abandon(self, call: IdempotentCall) -> None:
        """Release a claim whose work failed, so a retry runs it again. Best effort, whatever the deadline left:
        a claim that cannot be released frees itself after the lease."""
        try:
            with pymongo.timeout(_IN_FLIGHT_RETRY_S):
                await self._keys.delete_one({"_id": call.key, "state": _RUNNING, "claim": call.claim})
        except PyMongoError:
            _log.warning("could not release an idempotency claim; it expires with its lease", exc_info=True)


def embedded_key(request_id: str, request: Message | Mapping[str, Any], response: Message | bytes) -> dict[str, Any]:
    """The key of a claim-free create as fields of the record it inserts, whose collection has a unique index on
    `request_id`: the record is the key (kept as long as the record), written in the same insert, so a create is
    one document less. The insert failing on that index (DuplicateKeyError) means the key is stored already: read
    the record by request_id and answer with `embedded_replay`. Raises InvalidArgument for a bad key."""
    _check_request_id(request_id)
    body = response if isinstance(response, bytes) else response.SerializeToString(deterministic=True)
    return {"request_id": request_id, "request_hash": request_digest(request), "create_response": body}


def embedded_replay(record: Mapping[str, Any] | None, request: Message | Mapping[str, Any]) -> bytes:
    """The response stored in `record` (fields of `embedded_key`) for a retry of its request; InvalidArgument
    (IDEMPOTENCY_KEY_REUSED) when the request_id was used for a different request, Aborted (REQUEST_IN_FLIGHT) when
    there is no record (a twin's commit took the request_id, and a read does not show it yet)."""
    if record is None:
        raise _in_flight(_IN_FLIGHT_RETRY_S)
    if record["request_hash"] != request_digest(request):
        raise _reused()
    body: bytes = record["create_response"]
    return body


def request_digest(request: Message | Mapping[str, Any]) -> str:
    """sha256 of the request without its `request_id`: deterministic protobuf serialization (with the message's
    full name), or canonical JSON of a mapping (sorted keys, no spaces)."""
    if isinstance(request, Message):
        stripped = type(request)()
        stripped.CopyFrom(request)
        if "request_id" in stripped.DESCRIPTOR.fields_by_name:
            stripped.ClearField("request_id")
        body = stripped.DESCRIPTOR.full_name.encode() + b"\0" + stripped.SerializeToString(deterministic=True)
    else:
        fields = {name: value for name, value in request.items() if name != "request_id"}
        body = canonical_json(fields)
    return hashlib.sha256(body).hexdigest()


def _reused() -> InvalidArgument:
    return InvalidArgument.field(
        "request_id",
        "already used for a different request; use a new request_id for a new request",
        reason=IDEMPOTENCY_KEY_REUSED,
    )


def _in_flight(retry_after_s: float) -> Aborted:
    return Aborted(
        "a request with this request_id is still running; retry later",
        reason=REQUEST_IN_FLIGHT,
        retry_after_s=retry_after_s,
    )


def _check_request_id(request_id: str) -> None:
    if not request_id:
        raise InvalidArgument.field("request_id", "required: a client-chosen idempotency key, a UUID recommended")
    if len(request_id) > _REQUEST_ID_MAX_LENGTH:
        raise InvalidArgument.field("request_id", f"at most {_REQUEST_ID_MAX_LENGTH} characters")
