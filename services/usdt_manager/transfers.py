"""UsdtTransfers: USDT transfers and approvals from wallet addresses, sent exactly once, and where each stands.

Plain async Python, no grpc: the servicer adapts it to lucid.tron.v1.UsdtService, and it raises `lucid_tron.errors`
for the mesh to map.

A write, for one request (method, request_id), runs (steps 1, 3, 4 and 5 are lucid_tron.sending's):
    1. the stored transaction of this request, if any, is the answer: go to 5 (a retry never signs again);
    2. check the chain: balances, the recipient's account, the energy, the fee limit under the cap;
    3. build raw_data here (TriggerSmartContract on the configured contract) and have wallet-manager sign it against
       the intent it states (kind, owner, recipient, asset, amount, fee limit);
    4. store the signed bytes (durable) before anything is sent; a concurrent twin that stored first wins and this
       signature is dropped unsent;
    5. broadcast the stored bytes through tron-client; DUP_TRANSACTION is a success (the node has it).
A crash or an outage anywhere leaves either nothing signed (the retry starts over) or the stored bytes (the retry
broadcasts them again). The callers' idempotency keys (AIP-155) sit in front of this and replay the answer.

A transfer's state is read from the chain and never from the contract's return value (mainnet USDT returns
false): CONFIRMED needs a solidified receipt SUCCESS and a Transfer log emitted by the configured contract for the
exact sender, recipient and amount. EXPIRED needs the solidified chain to have moved past the expiration without it.

With an energy planner (STAKING_ADDR), step 2 also makes the transfer's energy plan (StakingService.CreateEnergyPlan,
request id derived from the Transfer's): the transaction carries the plan's fee limit, and once its receipt is seen
(or it can never land) the plan is completed, which takes a delegation back and records what the transfer cost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from lucid.tron.v1 import common_pb2, staking_pb2, tron_client_pb2, wallet_pb2
from lucid_tron.chain import AbiError, decode_transfer_log, trigger_smart_contract
from lucid_tron.errors import FailedPrecondition, LucidError, NotFound
from lucid_tron.peers import TronClientService, WalletService
from lucid_tron.sending import Order, Sender

from .contract import APPROVE, UsdtContract
from .energy_plans import COMPLETED as PLAN_COMPLETED, EnergyPlans, plan_record
from .estimates import (
    FEE_LIMIT_CAP_TOO_LOW,
    RECIPIENT_NOT_ACTIVATED,
    TRX_BALANCE_INSUFFICIENT,
    USDT_BALANCE_INSUFFICIENT,
    Estimate,
    Estimator,
)
from .store import Document, UsdtManagerStore

TRANSFER_METHOD = "Transfer"
APPROVE_METHOD = "Approve"

INCLUDED = "INCLUDED"
CONFIRMED = "CONFIRMED"
FAILED = "FAILED"
EXPIRED = "EXPIRED"
FINAL_STATES = frozenset({CONFIRMED, FAILED, EXPIRED})

NO_TRANSFER_LOG = "NO_TRANSFER_LOG"
#: How far past a transaction's expiration the solidified head must be before its absence proves it can never
#: land: load-balanced nodes answer a few blocks apart, so one node's head may be ahead of another's receipts. A
#: transaction that landed is in a block older than its expiration, so a node would have to lag by this margin plus
#: the 19 blocks of solidification to miss it in both the head and the solidified view that are read before.
EXPIRY_MARGIN_MS = 30_000

#: Transfers whose energy plan one settling round completes at most.
_SETTLE_BATCH = 50

_SOLIDIFIED = common_pb2.FINALITY_SOLIDIFIED
_HEAD = common_pb2.FINALITY_HEAD


@dataclass(frozen=True)
class Balance:
    usdt_base_units: int
    trx_sun: int
    activated: bool


@dataclass(frozen=True)
class WriteOrder:
    """A checked Transfer or Approve request (`method`): `owner` signs and pays, `counterparty` is the recipient or
    the spender; `request_hash` identifies the request's content (the idempotency digest)."""

    method: str
    request_id: str
    request_hash: str
    wallet_id: str
    owner: str
    counterparty: str
    amount: int
    fee_limit_sun: int
    reference: str
    allow_unactivated_recipient: bool = False


_log = logging.getLogger("lucid_tron.usdt_manager.transfers")

_KINDS = {
    TRANSFER_METHOD: wallet_pb2.TRANSACTION_KIND_TRC20_TRANSFER,
    APPROVE_METHOD: wallet_pb2.TRANSACTION_KIND_TRC20_APPROVE,
}


def _check_trx(order: WriteOrder, estimate: Estimate, burn_sun: int) -> None:
    if estimate.sender_trx_sun < burn_sun:
        raise FailedPrecondition(
            f"{order.owner} holds {estimate.sender_trx_sun} SUN; the transfer would burn about {burn_sun} SUN for "
            "the energy and bandwidth it lacks",
            reason=TRX_BALANCE_INSUFFICIENT,
            subject="from_address",
        )


class UsdtTransfers:
    """usdt-manager's writes and their status, on its MongoDB store, tron-client, wallet-manager and the USDT
    contract."""

    def __init__(
        self,
        store: UsdtManagerStore,
        *,
        tron_client: TronClientService,
        wallet_manager: WalletService,
        contract: UsdtContract,
        estimator: Estimator,
        lifetime_s: float,
        energy: EnergyPlans | None = None,
    ) -> None:
        self.store = store
        self.energy = energy
        self._tron_client = tron_client
        self._sender = Sender(store, tron_client=tron_client, wallet_manager=wallet_manager, lifetime_s=lifetime_s)
        self.contract = contract
        self.estimator = estimator

    async def balance(self, address: str, finality: int) -> Balance:
        """The address's USDT (balanceOf) and TRX in the `finality` view."""
        usdt, account = await asyncio.gather(
            self.contract.balance_of(address, finality),
            self._tron_client.rpc.GetAccount(tron_client_pb2.GetAccountRequest(address=address, finality=finality)),
        )
        return Balance(usdt, account.account.balance_sun, account.account.activated)

    # -- Transfer ------------------------------------------------------------------------------------------------

    async def transfer(self, order: WriteOrder) -> Document:
        """Send `order` (a Transfer) once (see the module docstring); the stored transaction, BROADCAST or later."""
        stored = await self._stored(order)
        if stored is None:
            estimate = await self.estimator.transfer(order.owner, order.counterparty, order.amount)
            if RECIPIENT_NOT_ACTIVATED in estimate.warnings and not order.allow_unactivated_recipient:
                raise FailedPrecondition(
                    f"{order.counterparty} is not an activated account: it would receive the USDT but could not "
                    "move it until someone sends it TRX; send it TRX first, or set allow_unactivated_recipient",
                    reason=RECIPIENT_NOT_ACTIVATED,
                    subject="to_address",
                )
            if USDT_BALANCE_INSUFFICIENT in estimate.warnings:
                raise FailedPrecondition(
                    f"{order.owner} holds {estimate.sender_usdt_base_units} USDT base units, less than {order.amount}",
                    reason=USDT_BALANCE_INSUFFICIENT,
                    subject="from_address",
                )
            call = self.contract.transfer_call(order.counterparty, order.amount)
            if self.energy is not None:
                stored = await self._planned_transfer(order, estimate, call, self.energy)
            else:
                fee_limit = self.estimator.fee_limit(
                    order.fee_limit_sun, estimate.energy_required, estimate.energy_price_sun
                )
                _check_trx(order, estimate, estimate.burn_fee_sun)
                stored = await self._sign_and_store(order, call, fee_limit)
        return await self._sender.broadcast(stored)

    async def _planned_transfer(
        self, order: WriteOrder, estimate: Estimate, call: bytes, energy: EnergyPlans
    ) -> Document:
        """Plan the energy, then sign and store the transfer with the plan's fee limit; a plan whose transfer is
        refused before it is stored is completed at once (nothing will be sent)."""
        cap = self.estimator.policy.cap_sun
        plan = await energy.plan(
            order.request_id, order.owner, order.counterparty, order.amount, max_burn_sun=order.fee_limit_sun or cap
        )
        try:
            if plan.fee_limit_sun > cap:
                raise FailedPrecondition(
                    f"the energy plan needs a fee limit of {plan.fee_limit_sun} SUN ({plan.energy_planned} energy), "
                    f"above FEE_LIMIT_CAP_SUN {cap}",
                    reason=FEE_LIMIT_CAP_TOO_LOW,
                    subject="fee_limit_sun",
                )
            # The sender burns TRX for energy only when the plan says so; for bandwidth whatever the plan.
            energy_burn = max(estimate.energy_required - estimate.energy_available, 0) * estimate.energy_price_sun
            burn = estimate.burn_fee_sun if plan.source == staking_pb2.ENERGY_SOURCE_BURN else (
                estimate.burn_fee_sun - energy_burn
            )
            _check_trx(order, estimate, burn)
            return await self._sign_and_store(order, call, plan.fee_limit_sun, energy_plan=plan_record(plan))
        except Exception:
            with suppress(LucidError):  # MongoDB down as well: the reaper takes the energy back
                if await self._sender.transactions.for_request(order.method, order.request_id) is None:
                    await energy.abandon(plan.plan_id)
            raise

    # -- Approve -------------------------------------------------------------------------------------------------

    async def approve(self, order: WriteOrder) -> Document:
        """Set the spender's allowance once (an Approve `order`); the stored transaction, BROADCAST or later."""
        stored = await self._stored(order)
        if stored is None:
            call = self.contract.approve_call(order.counterparty, order.amount)
            energy, price, account = await asyncio.gather(
                self.estimator.call_energy(order.owner, APPROVE, call[4:]),
                self.estimator.energy_price_sun(),
                self._tron_client.rpc.GetAccount(tron_client_pb2.GetAccountRequest(address=order.owner, finality=_HEAD)),
            )
            fee_limit = self.estimator.fee_limit(order.fee_limit_sun, energy, price)
            if account.account.balance_sun < energy * price:
                raise FailedPrecondition(
                    f"{order.owner} holds {account.account.balance_sun} SUN; the approval may burn up to "
                    f"{energy * price} SUN for energy",
                    reason=TRX_BALANCE_INSUFFICIENT,
                    subject="owner_address",
                )
            stored = await self._sign_and_store(order, call, fee_limit)
        return await self._sender.broadcast(stored)

    # -- the steps (lucid_tron.sending) ------------------------------------------------------------------------

    async def _stored(self, order: WriteOrder) -> Document | None:
        return await self._sender.stored(self._sending_order(order))

    async def _sign_and_store(self, order: WriteOrder, call_data: bytes, fee_limit_sun: int, **extra: Any) -> Document:
        """Have wallet-manager sign the call against the order's intent and store it (a concurrent twin that stored
        first wins: its document is returned and this signature is dropped unsent)."""
        intent = wallet_pb2.TransactionIntent(
            kind=_KINDS[order.method],
            owner_address=order.owner,
            recipient_address=order.counterparty,
            asset=common_pb2.ASSET_USDT,
            amount_base_units=order.amount,
            fee_limit_sun=fee_limit_sun,
        )
        details = {"from_address": order.owner, "to_address": order.counterparty, "amount_base_units": order.amount,
                   "fee_limit_sun": fee_limit_sun, **extra}
        return await self._sender.sign_and_store(
            self._sending_order(order), trigger_smart_contract(order.owner, self.contract.address, call_data),
            intent, details, fee_limit_sun=fee_limit_sun,
        )

    @staticmethod
    def _sending_order(order: WriteOrder) -> Order:
        return Order(order.method, order.request_id, order.request_hash, order.wallet_id, order.reference)

    # -- status --------------------------------------------------------------------------------------------------

    async def transfer_status(self, txid: str) -> Document:
        """The transfer sent as `txid`, with its state read from the chain (final states are stored)."""
        stored = await self._sender.transactions.get(txid)
        if stored is None or stored["kind"] != TRANSFER_METHOD:
            raise NotFound("transfer", txid, f"usdt-manager sent no transfer {txid}")
        if stored["state"] not in FINAL_STATES:
            stored = await self._chain_state(stored)
        return await self._settle_energy(stored)

    async def _settle_energy(self, transfer: Document) -> Document:
        """Complete the transfer's energy plan once its receipt is seen (or it can never land), and keep the plan's
        state until it is COMPLETED; staking's outages and refusals leave it for the next look."""
        plan = transfer.get("energy_plan")
        if self.energy is None or plan is None or plan["state"] == PLAN_COMPLETED:
            return transfer
        if transfer["state"] == EXPIRED:
            transfer_txid = ""
        elif transfer["state"] in (INCLUDED, CONFIRMED, FAILED):
            transfer_txid = transfer["_id"]
        else:
            return transfer
        try:
            completed = await self.energy.complete(plan["plan_id"], transfer_txid)
        except LucidError as error:
            _log.info("energy plan %s of %s not completed yet: %s", plan["plan_id"], transfer["_id"], error.message)
            return transfer
        record = plan_record(completed)
        await self.store.record_energy_plan(transfer["_id"], record)
        return {**transfer, "energy_plan": record}

    async def settle_energy_plans(self) -> int:
        """One round of completing the energy plans of transfers nobody asked about; how many were looked at."""
        pending = await self.store.transfers_with_open_plans(_SETTLE_BATCH)
        for transfer in pending:
            try:
                await self.transfer_status(transfer["_id"])
            except LucidError as error:
                _log.info("transfer %s not followed: %s", transfer["_id"], error.message)
        return len(pending)

    async def _chain_state(self, stored: Document) -> Document:
        txid = stored["_id"]
        solidified = await self._receipt(txid, _SOLIDIFIED)
        if solidified is not None:
            state, failure = self._judge(stored, solidified)
            outcome = {
                "block_number": solidified.block_number,
                "fee_sun": solidified.fee_sun,
                "energy_used": solidified.energy_used,
                "bandwidth_used": solidified.bandwidth_used,
                "failure_reason": failure,
            }
            await self._sender.transactions.set_state(txid, state, **outcome)
            return {**stored, "state": state, **outcome}
        head = await self._receipt(txid, _HEAD)
        if head is not None:
            return {
                **stored,
                "state": INCLUDED,
                "block_number": head.block_number,
                "fee_sun": head.fee_sun,
                "energy_used": head.energy_used,
                "bandwidth_used": head.bandwidth_used,
            }
        if await self._can_never_land(stored):
            await self._sender.transactions.set_state(txid, EXPIRED)
            return {**stored, "state": EXPIRED}
        return stored

    def _judge(self, stored: Mapping[str, Any], receipt: common_pb2.TransactionReceipt) -> tuple[str, str]:
        """(state, failure reason) of a solidified receipt: SUCCESS and the exact Transfer log of the configured
        contract, or FAILED."""
        if receipt.result != common_pb2.EXECUTION_RESULT_SUCCESS:
            return FAILED, receipt.result_code or common_pb2.ExecutionResult.Name(receipt.result)
        expected = (stored["from_address"], stored["to_address"], stored["amount_base_units"])
        for log in receipt.logs:
            if log.contract_address != self.contract.address:
                continue
            try:
                moved = decode_transfer_log(list(log.topics), log.data)
            except AbiError:
                continue  # another event of the contract (Approval, ...)
            if moved == expected:
                return CONFIRMED, ""
        return FAILED, NO_TRANSFER_LOG

    async def _can_never_land(self, stored: Mapping[str, Any]) -> bool:
        """Whether the solidified chain is past the expiration (with the margin) and the transaction is not in it:
        a block only takes a transaction that has not expired at the block's time."""
        now = await self._tron_client.rpc.GetNowBlock(tron_client_pb2.GetNowBlockRequest(finality=_SOLIDIFIED))
        if now.block.block_time.ToMilliseconds() < stored["expiration_ms"] + EXPIRY_MARGIN_MS:
            return False
        # Read the receipt after the head, so the head cannot be ahead of what the receipt read saw.
        return await self._receipt(stored["_id"], _SOLIDIFIED) is None

    async def _receipt(self, txid: str, finality: int) -> common_pb2.TransactionReceipt | None:
        try:
            answer = await self._tron_client.rpc.GetTransactionInfo(
                tron_client_pb2.GetTransactionInfoRequest(txid=txid, finality=finality)
            )
        except NotFound:
            return None
        return answer.receipt
