"""RelayService over gRPC: validate the request, read through the cache (lucid_tron.services.tron_relay.relay), map.

Errors are domain errors (the mesh picks the status): bad input InvalidArgument naming the field, no receipt
NotFound, TronGrid unreachable with nothing cached Unavailable. A Redis outage is never an error here: reads go
uncached (see store.py).
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import grpc
from google.protobuf.duration_pb2 import Duration

from lucid.tron.v1 import relay_pb2, relay_pb2_grpc
from lucid_tron import trongrid
from lucid_tron.chain import MAX_INT64
from lucid_tron.errors import NotFound
from lucid_tron.mesh import Registration, metrics
from lucid_tron.trongrid import Finality
from lucid_tron.validation import FieldChecks

from . import messages
from .cache import CacheStatus
from .relay import ChainRelay
from .verify import Expected

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_BLOCKS_PER_CALL",
    "MAX_CONTRACTS_PER_CALL",
    "MAX_PAGE_SIZE",
    "SERVICE_NAME",
    "RelayServicer",
    "registration",
]

#: Bounds of one GetBlockTransfers call: a watcher catching up asks again; one call never holds a TronGrid quota.
MAX_BLOCKS_PER_CALL = 100
MAX_CONTRACTS_PER_CALL = 10
#: TronGrid's own bound of a history page.
MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50
# TronGrid's fingerprints are URL-safe base64; anything else never came from a previous page.
_PAGE_TOKEN = re.compile(r"[A-Za-z0-9_=-]{1,512}", re.ASCII)

SERVICE_NAME: str = relay_pb2.DESCRIPTOR.services_by_name["RelayService"].full_name

Context = grpc.aio.ServicerContext[Any, Any]
Response = TypeVar("Response")

# Where answers came from: the share served from the cache is the TronGrid quota the relay saves.
_ANSWERS = metrics.counter("lucid_relay_answers_total", "Relay answers by where they came from", ["source"])
_ANSWERED_FROM = {  # (from_cache, stale) -> its series, bound once
    (True, False): _ANSWERS.labels("cache"),
    (True, True): _ANSWERS.labels("stale_cache"),
    (False, False): _ANSWERS.labels("trongrid"),
}


def _answered(response: Response, status: CacheStatus) -> Response:
    """`response` with its CacheStatus set, counted by where the answer came from."""
    _ANSWERED_FROM[(status.from_cache, status.stale)].inc()
    messages.set_cache_status(response.cache, status)
    return response


def _max_age(check: FieldChecks, request: Any) -> float | None:
    if not request.HasField("max_age"):
        return None
    age: Duration = request.max_age
    return check.duration("max_age", age.seconds, age.nanos) or None


def _finality(check: FieldChecks, value: int) -> Finality | None:
    return check.enum("finality", value, trongrid.FINALITIES, unspecified=Finality.SOLIDIFIED)


class RelayServicer(relay_pb2_grpc.RelayServiceServicer):
    def __init__(self, relay: ChainRelay) -> None:
        self._relay = relay

    async def GetNowBlock(  # noqa: N802 - the proto's name
        self, request: relay_pb2.RelayServiceGetNowBlockRequest, context: Context
    ) -> relay_pb2.RelayServiceGetNowBlockResponse:
        check = FieldChecks()
        finality = _finality(check, request.finality)
        max_age = _max_age(check, request)
        check.done()
        answer = await self._relay.now_block(finality, max_age)
        block = answer.message(trongrid.block_header_message)
        return _answered(relay_pb2.RelayServiceGetNowBlockResponse(block=block), answer.status)

    async def GetAccount(  # noqa: N802
        self, request: relay_pb2.RelayServiceGetAccountRequest, context: Context
    ) -> relay_pb2.RelayServiceGetAccountResponse:
        check = FieldChecks()
        address = check.address("address", request.address)
        finality = _finality(check, request.finality)
        max_age = _max_age(check, request)
        check.done()
        answer = await self._relay.account(address, finality, max_age)
        account = answer.message(trongrid.account_message)
        return _answered(relay_pb2.RelayServiceGetAccountResponse(account=account), answer.status)

    async def GetAccountResources(  # noqa: N802
        self, request: relay_pb2.RelayServiceGetAccountResourcesRequest, context: Context
    ) -> relay_pb2.RelayServiceGetAccountResourcesResponse:
        check = FieldChecks()
        address = check.address("address", request.address)
        max_age = _max_age(check, request)
        check.done()
        answer = await self._relay.account_resources(address, max_age)
        resources = answer.message(trongrid.account_resources_message)
        return _answered(relay_pb2.RelayServiceGetAccountResourcesResponse(resources=resources), answer.status)

    async def GetTransactionInfo(  # noqa: N802
        self, request: relay_pb2.RelayServiceGetTransactionInfoRequest, context: Context
    ) -> relay_pb2.RelayServiceGetTransactionInfoResponse:
        check = FieldChecks()
        txid = check.txid("txid", request.txid)
        finality = _finality(check, request.finality)
        max_age = _max_age(check, request)
        check.done()
        answer = await self._relay.transaction_info(txid, finality, max_age)
        if answer.value is None:
            raise NotFound(
                "transaction receipt",
                txid,
                f"no receipt for {txid} in the {finality.value} view (not included, or not {finality.value} yet)",
            )
        receipt = answer.message(trongrid.receipt_message)
        return _answered(relay_pb2.RelayServiceGetTransactionInfoResponse(receipt=receipt), answer.status)

    async def VerifyTrc20Transfer(  # noqa: N802
        self, request: relay_pb2.VerifyTrc20TransferRequest, context: Context
    ) -> relay_pb2.VerifyTrc20TransferResponse:
        check = FieldChecks()
        txid = check.txid("txid", request.txid)
        contract = check.address("contract_address", request.contract_address)
        sender = check.address("from_address", request.from_address, required=False)
        recipient = check.address("to_address", request.to_address)
        amount = check.amount("amount_base_units", request.amount_base_units)
        check.done()
        expected = Expected(
            contract_address=contract, from_address=sender, to_address=recipient, amount_base_units=amount
        )
        answer = await self._relay.verify_trc20_transfer(txid, expected)
        verdict = answer.verdict
        response = relay_pb2.VerifyTrc20TransferResponse(
            verified=verdict.verified,
            failure=messages.failure(verdict.failure),
            transfers=[messages.transfer(t) for t in verdict.transfers if messages.fits_int64(t)],
            block_number=verdict.block_number,
        )
        if verdict.matched is not None:
            response.matched_transfer.CopyFrom(messages.transfer(verdict.matched))
        return _answered(response, answer.cache)

    async def GetBlockTransfers(  # noqa: N802
        self, request: relay_pb2.GetBlockTransfersRequest, context: Context
    ) -> relay_pb2.GetBlockTransfersResponse:
        check = FieldChecks()
        first = check.amount("first_block_number", request.first_block_number)
        last = check.non_negative("last_block_number", request.last_block_number) or first
        contracts = _contracts(check, list(request.contract_addresses))
        if first is not None and last is not None:
            if last < first:
                check.fail("last_block_number", f"must not be below first_block_number {first}, got {last}")
            elif last - first >= MAX_BLOCKS_PER_CALL:
                span = last - first + 1
                check.fail("last_block_number", f"a range is at most {MAX_BLOCKS_PER_CALL} blocks, got {span}")
        if not request.contract_addresses and not request.include_trx:
            check.fail("contract_addresses", "required unless include_trx is set: nothing to list")
        finality = _finality(check, request.finality)
        check.done()
        assert first is not None and last is not None and finality is not None  # done() raised otherwise
        answer = await self._relay.block_transfers(first, last, contracts, request.include_trx, finality=finality)
        response = relay_pb2.GetBlockTransfersResponse(
            transfers=[messages.block_transfer(t) for t in answer.transfers if messages.fits_int64(t)],
            last_block_number=answer.last_block_number,
            solidified_block_number=answer.solidified_block_number,
            blocks=[trongrid.block_header_message(header) for header in answer.headers],
        )
        return _answered(response, answer.cache)

    async def ListAddressTransfers(  # noqa: N802
        self, request: relay_pb2.ListAddressTransfersRequest, context: Context
    ) -> relay_pb2.ListAddressTransfersResponse:
        check = FieldChecks()
        address = check.address("address", request.address)
        contract = check.address("contract_address", request.contract_address, required=False) or ""
        min_ms = _time_ms(check, request, "min_block_time")
        max_ms = _time_ms(check, request, "max_block_time")
        if max_ms and min_ms and max_ms < min_ms:
            check.fail("max_block_time", "must not be before min_block_time")
        limit = check.page_size("page_size", request.page_size, default=DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE)
        if request.page_token:
            check.pattern("page_token", request.page_token, _PAGE_TOKEN, expected="a next_page_token of this RPC")
        check.done()
        assert address is not None and limit is not None  # done() raised otherwise
        page = await self._relay.address_transfers(
            address, contract, only_confirmed=request.only_confirmed, min_time_ms=min_ms, max_time_ms=max_ms,
            limit=limit, page_token=request.page_token,
        )  # fmt: skip
        return relay_pb2.ListAddressTransfersResponse(
            transfers=[messages.address_transfer(t) for t in page.transfers if t.amount <= MAX_INT64],
            next_page_token=page.fingerprint,
        )


def _time_ms(check: FieldChecks, request: Any, field: str) -> int:
    """A Timestamp field in Unix milliseconds; 0 when unset."""
    if not request.HasField(field):
        return 0
    value = getattr(request, field)
    if value.seconds < 0 or not 0 <= value.nanos <= 999_999_999:
        check.fail(field, "must be a valid time after 1970")
        return 0
    return int(value.ToMilliseconds())


def _contracts(check: FieldChecks, values: list[str]) -> frozenset[str]:
    if len(values) > MAX_CONTRACTS_PER_CALL:
        check.fail("contract_addresses", f"at most {MAX_CONTRACTS_PER_CALL} contracts, got {len(values)}")
        return frozenset()
    found = [check.address(f"contract_addresses[{i}]", value) for i, value in enumerate(values)]
    contracts = frozenset(a for a in found if a is not None)
    if len(contracts) < len([a for a in found if a is not None]):
        check.fail("contract_addresses", "lists a contract twice")
    return contracts


def registration(servicer: RelayServicer) -> Registration:
    """The servicer as the mesh registers it (health and reflection under SERVICE_NAME)."""
    return Registration(relay_pb2_grpc.add_RelayServiceServicer_to_server, servicer, SERVICE_NAME)
