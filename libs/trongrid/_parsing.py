"""TronGrid's JSON answers parsed, once, into the values of `_values`; a shape we cannot use is TronGridBadResponse.

Each `parse_*` takes the decoded JSON of one answer (and what the request asked for, to check the answer against
it). An empty object is "not found" and handled by the caller; everything here assumes there is something to parse.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from google.protobuf import empty_pb2
from google.protobuf.message import DecodeError
from google.protobuf.unknown_fields import UnknownFieldSet

from lucid_tron import chain
from lucid_tron.chain import ChainError, MalformedTransaction, decode_address, to_base58

from ._exceptions import TronGridBadResponse
from ._responses import decode_node_message
from ._values import (
    Account,
    AccountResources,
    Block,
    BlockHeader,
    BlockReceipts,
    ChainParameters,
    ConstantCall,
    ExecutionResult,
    Log,
    NativeTransfer,
    Receipt,
    HistoryTransfer,
    HistoryPage,
    Stake,
    DelegationRecord,
    Transaction,
    Unfreeze,
)

if TYPE_CHECKING:
    from lucid_tron.chain import protocol

__all__ = [
    "bad_response",
    "json_object",
    "parse_account",
    "parse_account_resources",
    "parse_block",
    "parse_chain_parameters",
    "parse_constant_call",
    "parse_delegation_receivers",
    "parse_energy_required",
    "parse_receipt",
    "parse_stake",
    "parse_transaction",
]

_HEX40 = re.compile(r"[0-9a-fA-F]{40}")
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


def bad_response(message: str) -> TronGridBadResponse:
    """An answer we cannot use; TronGrid said HTTP 200, so the status is that."""
    return TronGridBadResponse(message, status=200)


def json_object(answer: Any, where: str) -> Mapping[str, Any]:
    """`answer` if it is a JSON object, else a bad response naming the call."""
    if not isinstance(answer, Mapping):
        raise bad_response(f"{where} answered {type(answer).__name__}, not a JSON object")
    return answer


class _Json:
    """Typed access to one JSON object of an answer; a wrong type is a TronGridBadResponse naming the key."""

    def __init__(self, raw: Mapping[str, Any], where: str) -> None:
        self.raw = raw
        self.where = where

    def _wrong(self, key: str, what: str) -> TronGridBadResponse:
        return bad_response(f"{self.where}.{key} is not {what}: {self.raw.get(key)!r:.80}")

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


def _address(value: str, where: str) -> str:
    """Base58 of an address TronGrid printed as base58, "41..." hex, or the TVM's bare 20-byte hex (log addresses)."""
    if value == "":
        return ""
    try:
        return to_base58(decode_address("41" + value if _HEX40.fullmatch(value) else value))
    except ChainError:
        raise bad_response(f"{where} is not an address: {value!r:.60}") from None


def _hex_id(value: str, where: str) -> str:
    if not _HEX64.fullmatch(value):
        raise bad_response(f"{where} is not a 32-byte id: {value!r:.80}")
    return value.lower()


def parse_block(answer: Mapping[str, Any], *, solidified: bool) -> Block:
    """A getnowblock / getblockbynum answer; every txid is checked against sha256(raw_data) when it is given."""
    json = _Json(answer, "block")
    raw = _Json(_Json(json.object("block_header"), "block.block_header").object("raw_data"), "block_header.raw_data")
    txids = []
    for entry in json.list("transactions"):
        tx = _Json(json_object(entry, "block.transactions[]"), "block.transactions[]")
        claimed = tx.str("txID").lower()
        if "raw_data_hex" in tx.raw:
            computed = hashlib.sha256(tx.hex("raw_data_hex")).hexdigest()
            if claimed and claimed != computed:
                raise bad_response(f"block transaction txID {claimed} is not sha256(raw_data) {computed}")
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
        raise bad_response(f"block id {header.block_id} is not the id of block {header.number}")
    return Block(header=header, txids=tuple(txids))


def parse_block_receipts(block_answer: Mapping[str, Any], infos_answer: Any, *, solidified: bool) -> BlockReceipts:
    """A getblockbynum answer with the gettransactioninfobyblocknum answer of the same block and view.

    TRX transfers are read from the transactions' raw_data (the only place a TransferContract shows); token
    transfers are left to the receipts' logs, where transfers made from inside other contracts show too.
    """
    body = parse_block_body(block_answer, solidified=solidified)
    return with_receipts(body, parse_receipts(infos_answer, body.block.header.number, solidified=solidified))


def parse_block_body(block_answer: Mapping[str, Any], *, solidified: bool) -> BlockReceipts:
    """A getblockbynum / getnowblock answer (visible) as a block with its TRX transfers and no receipts yet."""
    block = parse_block(block_answer, solidified=solidified)
    header = block.header
    native = []
    for entry in _Json(block_answer, "block").list("transactions"):
        try:
            tx = chain.transaction_from_json(entry)
        except ChainError as error:
            raise bad_response(f"block {header.number} holds a transaction we cannot read: {error}") from None
        transfer = _native_transfer(tx)
        if transfer is not None:
            native.append(transfer)
    return BlockReceipts(block=block, native_transfers=tuple(native), receipts=())


def parse_receipts(infos_answer: Any, number: int, *, solidified: bool) -> tuple[Receipt, ...]:
    """A gettransactioninfobyblocknum answer: the receipts of block `number`."""
    if not isinstance(infos_answer, list):
        raise bad_response(f"gettransactioninfobyblocknum answered a {type(infos_answer).__name__}, not a list")
    receipts = []
    for entry in infos_answer:
        info = json_object(entry, "gettransactioninfobyblocknum[]")
        receipt = parse_receipt(info, _hex_id(_Json(info, "transactioninfo").str("id"), "transactioninfo.id"),
                                solidified=solidified)
        if receipt.block_number != number:
            raise bad_response(f"the receipts of block {number} include one of block {receipt.block_number}")
        receipts.append(receipt)
    return tuple(receipts)


def with_receipts(body: BlockReceipts, receipts: tuple[Receipt, ...]) -> BlockReceipts:
    return BlockReceipts(block=body.block, native_transfers=body.native_transfers, receipts=receipts)


def _native_transfer(tx: protocol.Transaction) -> NativeTransfer | None:
    contracts = tx.raw_data.contract
    if len(contracts) != 1 or contracts[0].type != chain.protocol.Transaction.Contract.ContractType.TransferContract:
        return None
    value = chain.protocol.TransferContract()
    try:
        value.ParseFromString(contracts[0].parameter.value)
        sender, recipient = to_base58(value.owner_address), to_base58(value.to_address)
    except (ChainError, DecodeError) as error:
        raise bad_response(f"a TransferContract we cannot read: {error}") from None
    return NativeTransfer(
        txid=chain.txid(tx).hex(),
        from_address=sender,
        to_address=recipient,
        amount_sun=value.amount,
        contract_result=_contract_result(tx),
    )


def parse_token_transfer_page(answer: Any) -> HistoryPage:
    """A /v1/accounts/{address}/transactions/trc20 answer: its Transfer events (Approvals left out) and the
    fingerprint of the next page."""
    json = _history_answer(answer, "trc20 history")
    transfers = []
    for entry in json.list("data"):
        item = _Json(json_object(entry, "trc20 history data[]"), "trc20 history data[]")
        if item.str("type") != "Transfer":
            continue
        value = item.str("value")
        if not re.fullmatch(r"[0-9]{1,78}", value):  # a uint256 in decimal
            raise bad_response(f"trc20 history value is not a whole number: {value!r:.80}")
        token = _Json(item.object("token_info"), "trc20 history token_info")
        transfers.append(HistoryTransfer(
            txid=_hex_id(item.str("transaction_id"), "trc20 history transaction_id"),
            contract_address=token.address("address"),
            from_address=item.address("from"),
            to_address=item.address("to"),
            amount=int(value),
            block_time_ms=item.int("block_timestamp"),
        ))  # fmt: skip
    meta = _Json(json.object("meta"), "trc20 history meta")
    return HistoryPage(transfers=tuple(transfers), fingerprint=meta.str("fingerprint"))


def parse_trx_history_page(answer: Any, address: str) -> HistoryPage:
    """A /v1/accounts/{address}/transactions answer: the TRX transfers (TransferContract) from or to `address` that
    succeeded (contract calls and failures left out), and the fingerprint of the next page."""
    json = _history_answer(answer, "trx history")
    transfers = []
    for entry in json.list("data"):
        item = _Json(json_object(entry, "trx history data[]"), "trx history data[]")
        try:
            tx = chain.transaction_from_json(item.raw)
        except ChainError as error:
            raise bad_response(f"trx history holds a transaction we cannot read: {error}") from None
        native = _native_transfer(tx)
        if native is None or native.contract_result not in ("", "SUCCESS") or address not in (
            native.from_address, native.to_address
        ):
            continue
        transfers.append(HistoryTransfer(
            txid=native.txid, contract_address="", from_address=native.from_address, to_address=native.to_address,
            amount=native.amount_sun, block_time_ms=item.int("block_timestamp"),
        ))  # fmt: skip
    return HistoryPage(transfers=tuple(transfers), fingerprint=_Json(json.object("meta"), "meta").str("fingerprint"))


def _history_answer(answer: Any, where: str) -> _Json:
    json = _Json(json_object(answer, where), where)
    if json.raw.get("success") is not True:
        raise bad_response(f"{where} answered without success: {json.raw.get('error')!r:.120}")
    return json


def parse_account(answer: Mapping[str, Any], address: str) -> Account:
    """A getaccount answer; `{}` (never activated) is an Account with activated=False."""
    if not answer:
        return Account(address=address, activated=False, balance_sun=0, create_time_ms=None)
    json = _Json(answer, "getaccount")
    return Account(
        address=address,
        activated=True,
        balance_sun=json.int("balance"),
        create_time_ms=json.int("create_time") or None,
    )


def parse_account_resources(resource_answer: Any, account_answer: Any, address: str) -> AccountResources:
    """getaccountresource (limits and usage) with getaccount (the stake behind them), both at head."""
    resources = _Json(json_object(resource_answer, "getaccountresource"), "getaccountresource")
    state = _Json(json_object(account_answer, "getaccount"), "getaccount")
    energy = _Json(state.object("account_resource"), "getaccount.account_resource")
    frozen = {"BANDWIDTH": 0, "ENERGY": 0}
    for entry in state.list("frozenV2"):
        item = _Json(json_object(entry, "getaccount.frozenV2[]"), "getaccount.frozenV2[]")
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


def parse_delegation_receivers(answer: Any) -> list[str]:
    """The addresses an account delegated to (getdelegatedresourceaccountindexv2's toAccounts)."""
    index = _Json(json_object(answer, "getdelegatedresourceaccountindexv2"), "getdelegatedresourceaccountindexv2")
    receivers = []
    for entry in index.list("toAccounts"):
        if not isinstance(entry, str):
            raise bad_response(f"getdelegatedresourceaccountindexv2.toAccounts[] is not an address: {entry!r:.60}")
        receivers.append(_address(entry, "getdelegatedresourceaccountindexv2.toAccounts[]"))
    return receivers


def parse_stake(
    account_answer: Any,
    delegation_answers: Mapping[str, Any],
    bandwidth_answer: Any,
    energy_answer: Any,
    withdraw_answer: Any,
) -> Stake:
    """getaccount (its unfrozenV2), getdelegatedresourcev2 per receiver, getcandelegatedmaxsize for bandwidth and
    for energy, and getcanwithdrawunfreezeamount; TRON leaves out a zero and an empty list, and names BANDWIDTH by
    leaving `type` out."""
    state = _Json(json_object(account_answer, "getaccount"), "getaccount")
    unfreezes = []
    for entry in state.list("unfrozenV2"):
        item = _Json(json_object(entry, "getaccount.unfrozenV2[]"), "getaccount.unfrozenV2[]")
        unfreezes.append(
            Unfreeze(item.str("type") or "BANDWIDTH", item.int("unfreeze_amount"), item.int("unfreeze_expire_time"))
        )
    delegations = []
    for receiver, answer in delegation_answers.items():
        records = _Json(json_object(answer, "getdelegatedresourcev2"), "getdelegatedresourcev2")
        for entry in records.list("delegatedResource"):
            item = _Json(json_object(entry, "delegatedResource[]"), "getdelegatedresourcev2.delegatedResource[]")
            for resource, amount_key, expire_key in (
                ("BANDWIDTH", "frozen_balance_for_bandwidth", "expire_time_for_bandwidth"),
                ("ENERGY", "frozen_balance_for_energy", "expire_time_for_energy"),
            ):
                if amount := item.int(amount_key):
                    delegations.append(DelegationRecord(receiver, resource, amount, item.int(expire_key)))
    return Stake(
        unfreezes=tuple(sorted(unfreezes, key=lambda u: u.withdrawable_ms)),
        delegations=tuple(delegations),
        delegatable_bandwidth_sun=_Json(json_object(bandwidth_answer, "getcandelegatedmaxsize"), "").int("max_size"),
        delegatable_energy_sun=_Json(json_object(energy_answer, "getcandelegatedmaxsize"), "").int("max_size"),
        withdrawable_sun=_Json(json_object(withdraw_answer, "getcanwithdrawunfreezeamount"), "").int("amount"),
    )


def parse_transaction(answer: Mapping[str, Any], txid: str) -> Transaction:
    """A gettransactionbyid answer for `txid`; its txid is recomputed from raw_data and must be the one asked for."""
    try:
        tx = chain.transaction_from_json(answer)
    except ChainError as error:
        raise bad_response(f"gettransactionbyid answered a transaction we cannot read: {error}") from None
    computed = chain.txid(tx).hex()
    if computed != txid:
        raise bad_response(f"gettransactionbyid {txid} answered transaction {computed}")
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


_RESULTS = {
    "SUCCESS": ExecutionResult.SUCCESS,
    "REVERT": ExecutionResult.REVERTED,
    "OUT_OF_ENERGY": ExecutionResult.OUT_OF_ENERGY,
}


def parse_receipt(answer: Mapping[str, Any], txid: str, *, solidified: bool) -> Receipt:
    """A gettransactioninfobyid answer, which must be the receipt of `txid`."""
    json = _Json(answer, "transactioninfo")
    if json.str("id").lower() != txid:
        raise bad_response(f"gettransactioninfobyid {txid} answered the receipt of {json.str('id')!r:.80}")
    inner = _Json(json.object("receipt"), "transactioninfo.receipt")
    code = inner.str("result")
    if code:
        result = _RESULTS.get(code, ExecutionResult.FAILED)
    else:
        # Native transfers carry no receipt.result: included means executed, unless TRON flags the info FAILED.
        result = ExecutionResult.FAILED if json.str("result") == "FAILED" else ExecutionResult.SUCCESS
    logs = []
    for index, entry in enumerate(json.list("log")):
        log = _Json(json_object(entry, "transactioninfo.log[]"), "transactioninfo.log[]")
        topics = []
        for topic in log.list("topics"):
            if not isinstance(topic, str) or not _HEX64.fullmatch(topic):
                raise bad_response(f"log topic is not a 32-byte word: {topic!r:.80}")
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


def parse_chain_parameters(answer: Any) -> ChainParameters:
    """A getchainparameters answer; a parameter TRON lists without a value is 0."""
    json = _Json(json_object(answer, "getchainparameters"), "getchainparameters")
    parameters: list[tuple[str, int]] = []
    for entry in json.list("chainParameter"):
        item = _Json(json_object(entry, "chainParameter[]"), "chainParameter[]")
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


def parse_constant_call(answer: Any) -> ConstantCall:
    """A triggerconstantcontract answer. A revert is data, not an error: TRON answers result.result true with a
    message, and marks the transaction's ret FAILED."""
    json = _Json(json_object(answer, "triggerconstantcontract"), "triggerconstantcontract")
    outputs = json.list("constant_result") if "constant_result" in json.raw else []
    if len(outputs) > 1 or not all(isinstance(output, str) for output in outputs):
        raise bad_response(f"triggerconstantcontract.constant_result is not one hex string: {outputs!r:.80}")
    try:
        output = bytes.fromhex(outputs[0]) if outputs else b""
    except ValueError:
        raise bad_response(f"triggerconstantcontract.constant_result is not hex: {outputs[0]!r:.80}") from None
    transaction = json.raw.get("transaction")
    rets = transaction.get("ret") if isinstance(transaction, Mapping) else None
    failed = isinstance(rets, list) and any(isinstance(r, Mapping) and r.get("ret") == "FAILED" for r in rets)
    energy = json.int("energy_used") if "energy_used" in json.raw else 0
    return ConstantCall(output=output, energy_used=energy, reverted=failed)


def parse_energy_required(answer: Any) -> int:
    """An estimateenergy answer: the energy units the call would use."""
    json = _Json(json_object(answer, "estimateenergy"), "estimateenergy")
    if "energy_required" not in json.raw:
        raise bad_response("estimateenergy answered without energy_required")
    return json.int("energy_required")
