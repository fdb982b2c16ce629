"""Typed chain reads over `TronGridClient`: TronGrid's JSON is parsed here, once, into plain dataclasses.

    header = await now_block(client, Finality.SOLIDIFIED)          # /walletsolidity/getnowblock
    receipt = await transaction_info(client, txid, Finality.SOLIDIFIED)   # None: no receipt in that view (yet)
    sent = await broadcast(client, signed_tx)                     # BroadcastResult(txid, duplicate)

Every function raises what the client raises (`TronGridUnavailable` and subclasses, `TronGridNodeError`,
`DeadlineExceeded`); an answer whose shape we cannot use raises `TronGridBadResponse`, so a surprising node never
becomes an unexpected exception. "Not found" is a value (None), never an error: the caller decides what it means.

Amounts are int (SUN), times are Unix milliseconds, addresses are base58 ("T..."), ids are lowercase hex. No grpc
import: tron-client and tron-relay map these to their protos, and the relay caches them as they are.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from google.protobuf import empty_pb2
from google.protobuf.unknown_fields import UnknownFieldSet

from lucid_tron import chain
from lucid_tron.chain import ChainError, MalformedTransaction, decode_address, to_base58

from ._client import TronGridClient
from ._responses import decode_node_message
from .exceptions import TronGridBadResponse, TronGridNodeError

if TYPE_CHECKING:
    from lucid_tron.chain import protocol

__all__ = [
    "Account",
    "AccountResources",
    "Block",
    "BlockHeader",
    "BroadcastResult",
    "ChainParameters",
    "ExecutionResult",
    "Finality",
    "Log",
    "Receipt",
    "Transaction",
    "account",
    "account_resources",
    "both",
    "block",
    "broadcast",
    "chain_parameters",
    "estimate_energy",
    "now_block",
    "transaction",
    "transaction_info",
]

_log = logging.getLogger("lucid_tron.trongrid.reads")

A = TypeVar("A")
B = TypeVar("B")

#: TRON's answer to a broadcast of a transaction it already has: the broadcast succeeded earlier.
DUP_TRANSACTION = "DUP_TRANSACTION_ERROR"
_HEX40 = re.compile(r"[0-9a-fA-F]{40}")


class Finality(enum.Enum):
    """Which view a read uses: the node's newest state (/wallet/*) or the solidified one (/walletsolidity/*)."""

    HEAD = "head"
    SOLIDIFIED = "solidified"


class ExecutionResult(enum.Enum):
    """How an included transaction's execution ended (named like lucid.tron.v1.ExecutionResult)."""

    UNSPECIFIED = "UNSPECIFIED"
    SUCCESS = "SUCCESS"
    REVERTED = "REVERTED"
    OUT_OF_ENERGY = "OUT_OF_ENERGY"
    FAILED = "FAILED"


@dataclass(frozen=True)
class BlockHeader:
    number: int
    block_id: str
    parent_block_id: str
    block_time_ms: int
    producer_address: str
    transaction_count: int
    #: Read from the solidified view (or found there): final.
    solidified: bool


@dataclass(frozen=True)
class Block:
    header: BlockHeader
    #: Transaction ids in block order.
    txids: tuple[str, ...]


@dataclass(frozen=True)
class Account:
    address: str
    #: False for an address that never received TRX: TronGrid answers {} for it.
    activated: bool
    balance_sun: int
    #: None when not activated.
    create_time_ms: int | None


@dataclass(frozen=True)
class AccountResources:
    """Named like lucid.tron.v1.AccountResources, field for field."""

    address: str
    free_bandwidth_limit: int
    free_bandwidth_used: int
    bandwidth_limit: int
    bandwidth_used: int
    energy_limit: int
    energy_used: int
    staked_for_bandwidth_sun: int
    staked_for_energy_sun: int
    delegated_bandwidth_out_sun: int
    delegated_energy_out_sun: int
    delegated_bandwidth_in_sun: int
    delegated_energy_in_sun: int
    total_energy_limit: int
    total_energy_weight: int
    total_bandwidth_limit: int
    total_bandwidth_weight: int


@dataclass(frozen=True)
class Transaction:
    #: sha256(raw_data), recomputed here (a txID the node sends that disagrees is a bad response).
    txid: str
    raw_data: bytes
    signatures: tuple[bytes, ...]
    #: TRON's contract type name, e.g. "TransferContract"; the number as text for a type unknown here.
    contract_type: str
    #: "" when the owner cannot be read (no contract).
    owner_address: str
    expiration_ms: int
    #: The ret[0].contractRet code, e.g. "SUCCESS", "REVERT"; "" when not executed.
    contract_result: str


@dataclass(frozen=True)
class Log:
    index: int
    contract_address: str
    topics: tuple[bytes, ...]
    data: bytes


@dataclass(frozen=True)
class Receipt:
    """A transaction's TransactionInfo, named like lucid.tron.v1.TransactionReceipt."""

    txid: str
    block_number: int
    block_time_ms: int
    result: ExecutionResult
    result_code: str
    result_message: str
    fee_sun: int
    energy_used: int
    energy_burned: int
    energy_fee_sun: int
    bandwidth_used: int
    bandwidth_fee_sun: int
    contract_address: str
    logs: tuple[Log, ...]
    solidified: bool


@dataclass(frozen=True)
class ChainParameters:
    energy_price_sun: int
    bandwidth_price_sun: int
    create_account_fee_sun: int
    memo_fee_sun: int
    max_fee_limit_sun: int
    unfreeze_delay_days: int
    #: Every parameter as TRON reports it, in its order.
    parameters: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class BroadcastResult:
    txid: str
    #: The node already had it (DUP_TRANSACTION_ERROR): accepted earlier, by this or another broadcast.
    duplicate: bool


# -- reads ----------------------------------------------------------------------------------------------------------


def _view(client: TronGridClient, finality: Finality) -> Callable[..., Coroutine[Any, Any, Any]]:
    return client.solidity if finality is Finality.SOLIDIFIED else client.wallet


async def now_block(client: TronGridClient, finality: Finality) -> BlockHeader:
    """The newest block of the view (getnowblock)."""
    answer = _object(await _view(client, finality)("getnowblock"), "getnowblock")
    if not answer:
        raise _bad("getnowblock answered without a block")
    return _block(answer, solidified=finality is Finality.SOLIDIFIED).header


async def block(client: TronGridClient, number: int) -> Block | None:
    """Block `number` (header and txids), None beyond the head. The solidified view is asked first, so the header
    says whether the block is final; only a block it does not have yet costs a second request."""
    body = {"num": number}
    answer = _object(await client.solidity("getblockbynum", body), "getblockbynum")
    if answer:
        return _block(answer, solidified=True)
    answer = _object(await client.wallet("getblockbynum", body), "getblockbynum")
    return _block(answer, solidified=False) if answer else None


async def account(client: TronGridClient, address: str, finality: Finality) -> Account:
    """The account's TRX state; a never-activated address is an Account with activated=False."""
    answer = _object(await _view(client, finality)("getaccount", {"address": address, "visible": True}), "getaccount")
    if not answer:
        return Account(address=address, activated=False, balance_sun=0, create_time_ms=None)
    json = _Json(answer, "getaccount")
    return Account(
        address=address,
        activated=True,
        balance_sun=json.int("balance"),
        create_time_ms=json.int("create_time") or None,
    )


async def account_resources(client: TronGridClient, address: str) -> AccountResources:
    """Limits and usage (getaccountresource) with the stake behind them (getaccount), both at head, fetched
    concurrently."""
    body = {"address": address, "visible": True}
    resource_answer, account_answer = await both(
        client.wallet("getaccountresource", body), client.wallet("getaccount", body)
    )
    resources = _Json(_object(resource_answer, "getaccountresource"), "getaccountresource")
    state = _Json(_object(account_answer, "getaccount"), "getaccount")
    energy = _Json(state.object("account_resource"), "getaccount.account_resource")
    frozen = {"BANDWIDTH": 0, "ENERGY": 0}
    for entry in state.list("frozenV2"):
        item = _Json(_object(entry, "getaccount.frozenV2[]"), "getaccount.frozenV2[]")
        kind = item.str("type") or "BANDWIDTH"
        if kind in frozen:
            frozen[kind] += item.int("amount")
    delegated_bandwidth_out = state.int("delegated_frozenV2_balance_for_bandwidth")
    delegated_energy_out = energy.int("delegated_frozenV2_balance_for_energy")
    return AccountResources(
        address=address,
        free_bandwidth_limit=resources.int("freeNetLimit"),
        free_bandwidth_used=resources.int("freeNetUsed"),
        bandwidth_limit=resources.int("NetLimit"),
        bandwidth_used=resources.int("NetUsed"),
        energy_limit=resources.int("EnergyLimit"),
        energy_used=resources.int("EnergyUsed"),
        # frozenV2 holds what is staked and not delegated; the delegated part is listed apart.
        staked_for_bandwidth_sun=frozen["BANDWIDTH"] + delegated_bandwidth_out,
        staked_for_energy_sun=frozen["ENERGY"] + delegated_energy_out,
        delegated_bandwidth_out_sun=delegated_bandwidth_out,
        delegated_energy_out_sun=delegated_energy_out,
        delegated_bandwidth_in_sun=state.int("acquired_delegated_frozenV2_balance_for_bandwidth"),
        delegated_energy_in_sun=energy.int("acquired_delegated_frozenV2_balance_for_energy"),
        total_energy_limit=resources.int("TotalEnergyLimit"),
        total_energy_weight=resources.int("TotalEnergyWeight"),
        total_bandwidth_limit=resources.int("TotalNetLimit"),
        total_bandwidth_weight=resources.int("TotalNetWeight"),
    )


async def transaction(client: TronGridClient, txid: str, finality: Finality) -> Transaction | None:
    """The included transaction (gettransactionbyid), None when the view does not know it."""
    answer = _object(await _view(client, finality)("gettransactionbyid", {"value": txid}), "gettransactionbyid")
    if not answer:
        return None
    try:
        tx = chain.transaction_from_json(answer)
    except ChainError as error:
        raise _bad(f"gettransactionbyid answered a transaction we cannot read: {error}") from None
    computed = chain.txid(tx).hex()
    if computed != txid:
        raise _bad(f"gettransactionbyid {txid} answered transaction {computed}")
    contract_type, owner = _contract_summary(tx.raw_data)
    return Transaction(
        txid=computed,
        raw_data=tx.raw_data.SerializeToString(deterministic=True),
        signatures=tuple(bytes(signature) for signature in tx.signature),
        contract_type=contract_type,
        owner_address=owner,
        expiration_ms=tx.raw_data.expiration,
        contract_result=_contract_result(tx),
    )


def _contract_result(tx: protocol.Transaction) -> str:
    codes = chain.protocol.Transaction.Result.contractResult
    if not tx.ret or tx.ret[0].contractRet == codes.DEFAULT:
        return ""  # not executed, or TRON did not say
    number = tx.ret[0].contractRet
    return codes.Name(number) if number in codes.values() else str(number)


async def transaction_info(client: TronGridClient, txid: str, finality: Finality) -> Receipt | None:
    """The receipt (gettransactioninfobyid), None when the view holds none: not included, or not solidified yet."""
    answer = _object(await _view(client, finality)("gettransactioninfobyid", {"value": txid}), "gettransactioninfobyid")
    if not answer:
        return None
    return _receipt(answer, txid, solidified=finality is Finality.SOLIDIFIED)


async def chain_parameters(client: TronGridClient) -> ChainParameters:
    """The chain parameters that price fees (getchainparameters); a parameter TRON lists without a value is 0."""
    answer = _Json(_object(await client.wallet("getchainparameters"), "getchainparameters"), "getchainparameters")
    parameters: list[tuple[str, int]] = []
    for entry in answer.list("chainParameter"):
        item = _Json(_object(entry, "chainParameter[]"), "chainParameter[]")
        parameters.append((item.str("key"), item.int("value")))
    values = dict(parameters)
    return ChainParameters(
        energy_price_sun=values.get("getEnergyFee", 0),
        bandwidth_price_sun=values.get("getTransactionFee", 0),
        create_account_fee_sun=(
            values.get("getCreateNewAccountFeeInSystemContract", 0) + values.get("getCreateAccountFee", 0)
        ),
        memo_fee_sun=values.get("getMemoFee", 0),
        max_fee_limit_sun=values.get("getMaxFeeLimit", 0),
        unfreeze_delay_days=values.get("getUnfreezeDelayDays", 0),
        parameters=tuple(parameters),
    )


async def estimate_energy(
    client: TronGridClient,
    *,
    owner_address: str,
    contract_address: str,
    function_selector: str,
    parameter: bytes,
    call_value_sun: int,
) -> int:
    """Energy units the call would use (estimateenergy). A call that would revert is the node's refusal
    (`TronGridNodeError`, e.g. CONTRACT_EXE_ERROR)."""
    body: dict[str, Any] = {
        "owner_address": owner_address,
        "contract_address": contract_address,
        "function_selector": function_selector,
        "parameter": parameter.hex(),
        "visible": True,
    }
    if call_value_sun:
        body["call_value"] = call_value_sun
    answer = _Json(_object(await client.wallet("estimateenergy", body), "estimateenergy"), "estimateenergy")
    if "energy_required" not in answer.raw:
        raise _bad("estimateenergy answered without energy_required")
    return answer.int("energy_required")


async def broadcast(client: TronGridClient, tx: protocol.Transaction) -> BroadcastResult:
    """Send a signed transaction (broadcasttransaction). DUP_TRANSACTION_ERROR is success with duplicate=True;
    any other refusal raises `TronGridNodeError` with TRON's code.

    The client retries this call (it is a POST to a broadcast path) only because the bytes are identical: a
    broadcast that reached the node before its answer was lost comes back as DUP_TRANSACTION_ERROR.
    """
    txid = chain.txid(tx).hex()
    try:
        answer = await client.wallet(
            "broadcasttransaction", chain.transaction_to_json(tx), purpose="broadcast", retry=True
        )
    except TronGridNodeError as refusal:
        if refusal.code == DUP_TRANSACTION:
            return BroadcastResult(txid=txid, duplicate=True)
        raise
    echoed = answer.get("txid") if isinstance(answer, Mapping) else None
    if not isinstance(answer, Mapping) or answer.get("result") is not True:
        raise _bad(f"broadcasttransaction answered neither result=true nor a code: {answer!r:.200}")
    if isinstance(echoed, str) and echoed.lower() != txid:
        # Our txid is sha256 of the bytes we signed; a node naming another one is wrong, not us.
        _log.warning("broadcasttransaction echoed txid %s for our %s", echoed, txid)
    return BroadcastResult(txid=txid, duplicate=False)


async def both(first: Awaitable[A], second: Awaitable[B]) -> tuple[A, B]:
    """Await two calls concurrently; if either fails, raise its error once both are over (none left running)."""
    a, b = await asyncio.gather(first, second, return_exceptions=True)
    for outcome in (a, b):
        if isinstance(outcome, BaseException):
            raise outcome
    return a, b  # type: ignore[return-value]


# -- parsing ----------------------------------------------------------------------------------------------------------


class _Json:
    """Typed access to one JSON object of an answer; a wrong type is a TronGridBadResponse naming the key."""

    def __init__(self, raw: Mapping[str, Any], where: str) -> None:
        self.raw = raw
        self.where = where

    def _wrong(self, key: str, what: str) -> TronGridBadResponse:
        return _bad(f"{self.where}.{key} is not {what}: {self.raw.get(key)!r:.80}")

    def int(self, key: str) -> int:
        value = self.raw.get(key, 0)
        if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,19}", value):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not -(2**63) <= value < 2**63:
            raise self._wrong(key, "an int64")
        return value

    def str(self, key: str) -> str:
        value = self.raw.get(key, "")
        if not isinstance(value, str):
            raise self._wrong(key, "a string")
        return value

    def hex(self, key: str) -> bytes:
        try:
            return bytes.fromhex(self.str(key))
        except ValueError:
            raise self._wrong(key, "hex") from None

    def object(self, key: str) -> Mapping[str, Any]:
        value = self.raw.get(key, {})
        if not isinstance(value, Mapping):
            raise self._wrong(key, "an object")
        return value

    def list(self, key: str) -> list[Any]:
        value = self.raw.get(key, [])
        if not isinstance(value, list):
            raise self._wrong(key, "a list")
        return value

    def address(self, key: str) -> str:
        return _address(self.str(key), f"{self.where}.{key}")


def _bad(message: str) -> TronGridBadResponse:
    """An answer we cannot use; TronGrid said HTTP 200, so the status is that."""
    return TronGridBadResponse(message, status=200)


def _object(answer: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(answer, Mapping):
        raise _bad(f"{where} answered {type(answer).__name__}, not a JSON object")
    return answer


def _address(value: str, where: str) -> str:
    """Base58 of an address TronGrid printed as base58, "41..." hex, or the TVM's bare 20-byte hex (log addresses)."""
    if value == "":
        return ""
    try:
        return to_base58(decode_address("41" + value if _HEX40.fullmatch(value) else value))
    except ChainError:
        raise _bad(f"{where} is not an address: {value!r:.60}") from None


def _hex_id(value: str, where: str) -> str:
    if not re.fullmatch(r"[0-9a-fA-F]{64}", value):
        raise _bad(f"{where} is not a 32-byte id: {value!r:.80}")
    return value.lower()


def _block(answer: Mapping[str, Any], *, solidified: bool) -> Block:
    json = _Json(answer, "block")
    raw = _Json(_Json(json.object("block_header"), "block.block_header").object("raw_data"), "block_header.raw_data")
    txids = []
    for entry in json.list("transactions"):
        tx = _Json(_object(entry, "block.transactions[]"), "block.transactions[]")
        claimed = tx.str("txID").lower()
        if "raw_data_hex" in tx.raw:
            computed = hashlib.sha256(tx.hex("raw_data_hex")).hexdigest()
            if claimed and claimed != computed:
                raise _bad(f"block transaction txID {claimed} is not sha256(raw_data) {computed}")
            claimed = computed
        txids.append(_hex_id(claimed, "block.transactions[].txID"))
    header = BlockHeader(
        number=raw.int("number"),
        block_id=_hex_id(json.str("blockID"), "block.blockID"),
        parent_block_id=_hex_id(raw.str("parentHash"), "block_header.raw_data.parentHash"),
        block_time_ms=raw.int("timestamp"),
        producer_address=raw.address("witness_address"),
        transaction_count=len(txids),
        solidified=solidified,
    )
    if int(header.block_id[:16], 16) != header.number:
        raise _bad(f"block id {header.block_id} is not the id of block {header.number}")
    return Block(header=header, txids=tuple(txids))


_RESULTS = {
    "SUCCESS": ExecutionResult.SUCCESS,
    "REVERT": ExecutionResult.REVERTED,
    "OUT_OF_ENERGY": ExecutionResult.OUT_OF_ENERGY,
}


def _receipt(answer: Mapping[str, Any], txid: str, *, solidified: bool) -> Receipt:
    json = _Json(answer, "transactioninfo")
    if json.str("id").lower() != txid:
        raise _bad(f"gettransactioninfobyid {txid} answered the receipt of {json.str('id')!r:.80}")
    inner = _Json(json.object("receipt"), "transactioninfo.receipt")
    code = inner.str("result")
    if code:
        result = _RESULTS.get(code, ExecutionResult.FAILED)
    else:
        # Native transfers carry no receipt.result: included means executed, unless TRON flags the info FAILED.
        result = ExecutionResult.FAILED if json.str("result") == "FAILED" else ExecutionResult.SUCCESS
    logs = []
    for index, entry in enumerate(json.list("log")):
        log = _Json(_object(entry, "transactioninfo.log[]"), "transactioninfo.log[]")
        topics = []
        for topic in log.list("topics"):
            if not isinstance(topic, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", topic):
                raise _bad(f"log topic is not a 32-byte word: {topic!r:.80}")
            topics.append(bytes.fromhex(topic))
        logs.append(
            Log(index=index, contract_address=log.address("address"), topics=tuple(topics), data=log.hex("data"))
        )
    energy_total = inner.int("energy_usage_total")
    paid_with_stake = inner.int("energy_usage") + inner.int("origin_energy_usage")
    return Receipt(
        txid=txid,
        block_number=json.int("blockNumber"),
        block_time_ms=json.int("blockTimeStamp"),
        result=result,
        result_code=code,
        result_message=decode_node_message(json.str("resMessage")),
        fee_sun=json.int("fee"),
        energy_used=energy_total,
        energy_burned=max(energy_total - paid_with_stake, 0),
        energy_fee_sun=inner.int("energy_fee"),
        bandwidth_used=inner.int("net_usage"),
        bandwidth_fee_sun=inner.int("net_fee"),
        contract_address=json.address("contract_address"),
        logs=tuple(logs),
        solidified=solidified,
    )


def _contract_summary(raw: protocol.Transaction.raw) -> tuple[str, str]:
    """(contract type name, owner address) of any transaction, including types lucid-tron does not build."""
    try:
        decoded = chain.decode_transaction(raw)
    except MalformedTransaction:
        pass
    else:
        return decoded.contract_type, decoded.owner_address
    if not raw.contract:
        return "", ""
    contract = raw.contract[0]
    kinds = chain.protocol.Transaction.Contract.ContractType
    type_name = kinds.Name(contract.type) if contract.type in kinds.values() else str(contract.type)
    # Every TRON contract message has owner_address as field 1, whatever its type.
    holder = empty_pb2.Empty()
    try:
        holder.ParseFromString(contract.parameter.value)
    except Exception:  # protobuf's DecodeError: the parameter is not a message at all
        return type_name, ""
    for field in UnknownFieldSet(holder):
        if field.field_number == 1 and field.wire_type == 2:
            try:
                return type_name, to_base58(field.data)
            except ChainError:
                return type_name, ""
    return type_name, ""
