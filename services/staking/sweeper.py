"""The sweeper: the background job that looks for paid invoices on schedule and moves every open sweep forward, exactly
once per invoice, crash-safe in the way payouts are.

One sweeper works at a time across replicas (the lease "treasury-sweeper"); every write it makes is fenced by the
lease's token. A round takes up to SWEEP_BATCH_SIZE open sweeps (those under way first) and moves each one step, so
a batch advances in lock-step: all its activations land in the same blocks, then all its delegations, and so on.
For each sweep:

- its last step in flight: a solidified receipt decides (SUCCESS, and for USDT the contract's Transfer log of the
  sweep -> CONFIRMED; anything else -> FAILED). Without one, the same stored bytes are broadcast again until they
  expire; after the expiration the step is EXPIRED only once the chain proves it can no longer land (a solidified
  block stamped after the expiration exists and no block from the reference block up to it holds the txid).
- otherwise `treasury.plan` names the next step (or the end): it is built here, signed by wallet-manager against
  its intent (the staking wallet signs activations and delegations; the payment wallet, which derived the deposit
  address, signs the transfer), stored, and only then broadcast.

A crash anywhere leaves a state the next round continues from: no step stored (nothing left the process), a step
stored (its bytes are broadcast again), or a step broadcast (its receipt is followed). Receipts are asked for only
once a solidified block stamped after the step was signed exists, so a waiting sweep costs the chain nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from lucid.tron.v1 import common_pb2, tron_client_pb2, wallet_pb2
from lucid_tron.chain import (
    AbiError,
    UsdtContractSettings,
    build_transaction,
    decode_transfer_log,
    delegate_resource,
    protocol,
    transfer_contract,
    trc20_transfer,
    txid,
    undelegate_resource,
)
from lucid_tron.config import setting
from lucid_tron.errors import FailedPrecondition, LucidError, NotFound
from lucid_tron.peers import PaymentGatewayAddress
from lucid_tron.storage import Fence, LeasedJob, Leases, step_each, utc_now

from . import treasury as t
from .settings import StakingWalletSettings
from .treasury import ChainView, Next, TreasuryPolicy
from .treasury_store import TreasuryStore

if TYPE_CHECKING:
    from lucid_tron.peers import TronClientService, WalletService

    from .treasury import Treasury

LEASE = "treasury-sweeper"
#: A step accepted by a node is sent again at most this often while it waits for a receipt.
REBROADCAST_S = 10.0
USDT_BASE_UNITS = 1_000_000

_log = logging.getLogger("lucid_tron.services.staking.sweeper")

_KINDS = {
    (t.ACTIVATE, "TRX"): wallet_pb2.TRANSACTION_KIND_TRX_TRANSFER,
    (t.DELEGATE, "TRX"): wallet_pb2.TRANSACTION_KIND_DELEGATE_RESOURCE,
    (t.UNDELEGATE, "TRX"): wallet_pb2.TRANSACTION_KIND_UNDELEGATE_RESOURCE,
    (t.TRANSFER, "TRX"): wallet_pb2.TRANSACTION_KIND_TRX_TRANSFER,
    (t.TRANSFER, "USDT"): wallet_pb2.TRANSACTION_KIND_TRC20_TRANSFER,
}


@dataclass(frozen=True, kw_only=True)
class TreasurySettings(PaymentGatewayAddress, UsdtContractSettings, StakingWalletSettings):
    """The wallets sweeps involve, what is worth a sweep, how energy is paid for, and the sweeper's pace."""

    # Sweeps pay into this wallet's first address; empty: nothing is swept (the sweeper logs why).
    payout_wallet_id: str = setting("PAYOUT_WALLET_ID", default="")
    # The wallet that derived the invoices' deposit addresses (payment-gateway's): it signs their transfers.
    payment_wallet_id: str = setting("PAYMENT_WALLET_ID", default="")
    sweep_usdt_threshold_base_units: int = setting("SWEEP_USDT_THRESHOLD_BASE_UNITS", default=10 * USDT_BASE_UNITS,
                                                   ge=1)
    sweep_trx_threshold_sun: int = setting("SWEEP_TRX_THRESHOLD_SUN", default=10_000_000, ge=1)
    # How often paid invoices are looked for (RunSweep looks at once).
    sweep_interval_s: float = setting("SWEEP_INTERVAL_S", default=3600.0, ge=1, le=7 * 86_400)
    # "delegate": energy lent by the staking wallet; "burn": TRX sent to the deposit address and burned for energy.
    sweep_energy_strategy: str = setting(
        "SWEEP_ENERGY_STRATEGY", default=t.DELEGATE_STRATEGY,
        valid_if=(lambda value: value in t.STRATEGIES, " or ".join(t.STRATEGIES)),
    )
    # Energy asked for over estimateenergy, in basis points: covers a rising dynamic energy factor.
    sweep_energy_margin_bps: int = setting("SWEEP_ENERGY_MARGIN_BPS", default=10_000, ge=0, le=100_000)
    # Sweeps a round moves together; the staking wallet needs the stake to lend each of them energy at once.
    sweep_batch_size: int = setting("SWEEP_BATCH_SIZE", default=50, ge=1, le=1_000)
    # How long a signed sweep transaction can land (TRON's default is 60 s, at most 24 h).
    sweep_expiration_s: float = setting("SWEEP_EXPIRATION_S", default=60.0, ge=3, le=86_400)
    sweeper_round_s: float = setting("SWEEPER_ROUND_S", default=3.0, ge=0.05, le=600)
    sweeper_lease_s: float = setting("SWEEPER_LEASE_S", default=15.0, ge=1, le=600)

    def treasury_policy(self) -> TreasuryPolicy:
        return TreasuryPolicy(
            thresholds={"USDT": self.sweep_usdt_threshold_base_units, "TRX": self.sweep_trx_threshold_sun},
            strategy=self.sweep_energy_strategy,
            energy_margin_bps=self.sweep_energy_margin_bps,
            interval_s=self.sweep_interval_s,
        )


class WalletAddresses:
    """The first address of each wallet the treasury uses, read from wallet-manager once."""

    def __init__(self, wallet_manager: WalletService) -> None:
        self._wallet = wallet_manager
        self._known: dict[str, str] = {}

    async def first(self, wallet_id: str) -> str:
        """The wallet's first address; empty when no wallet is configured."""
        if not wallet_id:
            return ""
        if wallet_id not in self._known:
            answer = await self._wallet.rpc.GetWallet(wallet_pb2.GetWalletRequest(wallet_id=wallet_id))
            self._known[wallet_id] = answer.wallet.first_address
        return self._known[wallet_id]


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


class Sweeper:
    """Runs the treasury's sweeps while holding the lease."""

    def __init__(
        self,
        store: TreasuryStore,
        treasury: Treasury,
        *,
        tron_client: TronClientService,
        wallet_manager: WalletService,
        addresses: WalletAddresses,
        leases: Callable[[], Leases],
        settings: TreasurySettings,
    ) -> None:
        self._store = store
        self._treasury = treasury
        self._tron = tron_client
        self._wallet = wallet_manager
        self._addresses = addresses
        self._job = LeasedJob(LEASE, self._round, leases=leases, interval_s=settings.sweeper_round_s,
                              ready=self._configured)
        # The lease of the round under way, which every write of the round is fenced by.
        self._fence: Fence | None = None
        self._settings = settings
        self._policy = settings.treasury_policy()
        self._usdt = settings.usdt_contract
        self._chain = ChainView(tron_client, usdt_contract=settings.usdt_contract,
                                staking_address=lambda: addresses.first(settings.staking_wallet_id))
        self._warned_unset = False
        # Per round: the head and solidified blocks every step of the round refers to.
        self._head: Any = None
        self._solid: Any = None
        # Only to pace rebroadcasts and to resume a proof of loss: losing them to a restart is harmless.
        self._last_broadcast: dict[str, float] = {}
        self._scanned: dict[str, int] = {}

    async def run(self) -> None:
        """Rounds until cancelled (`LeasedJob`: a failed round is logged and the next one tries again; cancelled,
        the lease is released so a standby takes over at once)."""
        await self._job.run()

    async def run_once(self) -> int:
        """One round: take or renew the lease, look for paid invoices when the schedule says so, then move every
        open sweep of the batch one step; how many sweeps were looked at (0 without the lease)."""
        return await self._job.run_once()

    def _configured(self) -> bool:
        missing = [name for name, value in (("PAYOUT_WALLET_ID", self._settings.payout_wallet_id),
                                            ("PAYMENT_WALLET_ID", self._settings.payment_wallet_id),
                                            ("STAKING_WALLET_ID", self._settings.staking_wallet_id),
                                            ("PAYMENT_GATEWAY_ADDR", self._settings.payment_gateway_addr)) if not value]
        if missing and not self._warned_unset:
            _log.warning("nothing is swept until %s %s set", ", ".join(missing), "is" if len(missing) == 1 else "are")
            self._warned_unset = True
        return not missing

    async def _round(self, fence: Fence) -> int:
        self._fence = fence
        await self._on_schedule()
        sweeps = await self._store.open_sweeps(self._settings.sweep_batch_size)
        if not sweeps:
            return 0
        self._chain.new_round()
        self._head = await self._now_block(common_pb2.FINALITY_HEAD)
        self._solid = await self._now_block(common_pb2.FINALITY_SOLIDIFIED)
        return await step_each(sweeps, self._advance, what="sweep", log=_log)

    async def _on_schedule(self) -> None:
        schedule = await self._store.schedule()
        now = utc_now()
        due = schedule.get("next_run_at")
        if due is not None and due.replace(tzinfo=UTC) > now:
            return
        try:
            started = await self._treasury.discover()
        except LucidError as error:
            # payment-gateway down: the sweeps under way still move; the schedule tries again next round.
            _log.warning("could not look for paid invoices: %s", error.message)
            return
        if started:
            _log.info("the scheduled run started %d sweeps", len(started))
        await self._store.set_schedule(now, now + timedelta(seconds=self._policy.interval_s))

    async def _advance(self, sweep: dict[str, Any]) -> None:
        steps = sweep["steps"]
        if steps and steps[-1]["state"] in t.IN_FLIGHT:
            await self._follow(sweep)
            return
        step = await t.plan(sweep, self._chain, self._policy)
        if step.wait:
            if sweep["state_reason"] != step.wait:
                await self._store.apply(sweep, {"state_reason": step.wait}, lease=self._fence)
            return
        if step.final:
            await self._store.apply(sweep, {"state": step.final, "state_reason": step.reason}, lease=self._fence)
            return
        sweep = await self._sign(sweep, step)
        await self._broadcast(sweep, sweep["steps"][-1])

    # -- signing -----------------------------------------------------------------------------------------------------

    async def _sign(self, sweep: dict[str, Any], step: Next) -> dict[str, Any]:
        staking = step.kind in t.STAKING_KINDS
        wallet_id = self._settings.staking_wallet_id if staking else self._settings.payment_wallet_id
        owner = await self._addresses.first(wallet_id) if staking else sweep["deposit_address"]
        asset = sweep["asset"] if step.kind == t.TRANSFER else "TRX"
        recipient = sweep["destination"] if step.kind == t.TRANSFER else sweep["deposit_address"]
        if step.kind == t.DELEGATE:
            contract = delegate_resource(owner, recipient, step.amount, "ENERGY")
        elif step.kind == t.UNDELEGATE:
            contract = undelegate_resource(owner, recipient, step.amount, "ENERGY")
        elif asset == "USDT":
            contract = trc20_transfer(owner, self._usdt, recipient, step.amount)
        else:
            contract = transfer_contract(owner, recipient, step.amount)
        # The reference block is the solidified head (a reorganisation cannot take it away); the life counts from
        # the head's time.
        block_ms = _ms(self._head.block_time.ToDatetime(UTC))
        expiration_ms = block_ms + int(self._settings.sweep_expiration_s * 1000)
        transaction = build_transaction(
            contract, ref_block_number=self._solid.number, ref_block_id=self._solid.block_id,
            expiration_ms=expiration_ms, timestamp_ms=block_ms, fee_limit_sun=step.fee_limit_sun,
        )
        raw = transaction.raw_data.SerializeToString(deterministic=True)
        expected_txid = txid(raw).hex()
        delegation = step.kind in (t.DELEGATE, t.UNDELEGATE)
        signature = await self._wallet.rpc.SignTransaction(wallet_pb2.SignTransactionRequest(
            wallet_id=wallet_id,
            raw_data=raw,
            intent=wallet_pb2.TransactionIntent(
                kind=_KINDS[(step.kind, asset)],
                owner_address=owner,
                recipient_address=recipient,
                asset=common_pb2.ASSET_USDT if asset == "USDT" else common_pb2.ASSET_TRX,
                amount_base_units=step.amount,
                resource=common_pb2.RESOURCE_ENERGY if delegation else common_pb2.RESOURCE_UNSPECIFIED,
                fee_limit_sun=step.fee_limit_sun,
            ),
            txid=expected_txid,
            reference=f"sweep:{sweep['_id']}:{len(sweep['steps']) + 1}",
        ))
        signed = protocol.Transaction(raw_data=transaction.raw_data, signature=[signature.signature])
        record = {
            "kind": step.kind,
            "txid": expected_txid,
            "state": t.STEP_SIGNED,
            "owner": owner,
            "amount": step.amount,
            "energy": step.energy,
            "fee_limit_sun": step.fee_limit_sun,
            "expiration": datetime.fromtimestamp(expiration_ms / 1000, UTC),
            "ref_block_number": self._solid.number,
            "signed_transaction": signed.SerializeToString(deterministic=True),
            "block_number": 0,
            "fee_sun": 0,
            "result": "",
            "created_at": utc_now(),
        }
        return await self._store.apply(
            sweep, {"steps": [*sweep["steps"], record], "state": t.SWEEPING, "state_reason": ""}, lease=self._fence
        )

    async def _now_block(self, finality: int) -> Any:
        return (await self._tron.rpc.GetNowBlock(tron_client_pb2.GetNowBlockRequest(finality=finality))).block

    # -- following -------------------------------------------------------------------------------------------------

    async def _follow(self, sweep: dict[str, Any]) -> None:
        step = sweep["steps"][-1]
        solid_time = self._solid.block_time.ToDatetime(UTC)
        if solid_time > step["created_at"].replace(tzinfo=UTC):
            # A solidified block from after the signing exists: the receipt may be final now.
            try:
                info = await self._tron.rpc.GetTransactionInfo(tron_client_pb2.GetTransactionInfoRequest(
                    txid=step["txid"], finality=common_pb2.FINALITY_SOLIDIFIED,
                ))
            except NotFound:
                info = None
            if info is not None:
                await self._settle(sweep, info.receipt)
                return
        expiration = step["expiration"].replace(tzinfo=UTC)
        if self._head.block_time.ToDatetime(UTC) <= expiration and time.time() < expiration.timestamp():
            await self._broadcast(sweep, step)
            return
        proof = await self._lost(step, expiration)
        if proof is not None:
            self._scanned.pop(step["txid"], None)
            await self._store.apply(sweep, {"steps": _with_last(sweep, state=t.STEP_EXPIRED, result=proof)},
                                    lease=self._fence)

    async def _broadcast(self, sweep: dict[str, Any], step: Mapping[str, Any]) -> None:
        if step["state"] == t.STEP_BROADCAST and (
            time.monotonic() - self._last_broadcast.get(step["txid"], 0.0) < REBROADCAST_S
        ):
            return
        signed = protocol.Transaction.FromString(step["signed_transaction"])
        try:
            await self._tron.rpc.BroadcastTransaction(tron_client_pb2.BroadcastTransactionRequest(
                raw_data=signed.raw_data.SerializeToString(deterministic=True),
                signatures=list(signed.signature),
                txid=step["txid"],
            ))
        except FailedPrecondition as refusal:
            # Refused (expired, balance, stake to lend): the bytes stay and are sent again until they expire; the
            # proof of loss decides after that. The refusal is shown on the sweep.
            _log.warning("broadcast of sweep %s step %s refused: %s", sweep["_id"], step["kind"], refusal.message)
            if sweep["state_reason"] != refusal.message:
                await self._store.apply(sweep, {"state_reason": refusal.message}, lease=self._fence)
            return
        self._last_broadcast[step["txid"]] = time.monotonic()
        if step["state"] == t.STEP_SIGNED:
            await self._store.apply(sweep, {"steps": _with_last(sweep, state=t.STEP_BROADCAST)}, lease=self._fence)

    async def _settle(self, sweep: dict[str, Any], receipt: Any) -> None:
        """A solidified receipt: CONFIRMED with SUCCESS (and the expected Transfer log for USDT), FAILED otherwise."""
        step = sweep["steps"][-1]
        why = self._shortfall(sweep, step, receipt)
        result = common_pb2.ExecutionResult.Name(receipt.result).removeprefix("EXECUTION_RESULT_")
        steps = _with_last(sweep, state=t.STEP_FAILED if why else t.STEP_CONFIRMED, block_number=receipt.block_number,
                           fee_sun=receipt.fee_sun, result=why or result)
        self._last_broadcast.pop(step["txid"], None)
        await self._store.apply(
            sweep, {"steps": steps, "fee_sun": sum(s["fee_sun"] for s in steps), "state_reason": why or ""},
            lease=self._fence,
        )

    def _shortfall(self, sweep: Mapping[str, Any], step: Mapping[str, Any], receipt: Any) -> str | None:
        """Why the receipt does not prove the step; None when it does. USDT's transfer returns false on mainnet
        although it succeeded, so a USDT transfer is proven by the contract's Transfer log, never the return value."""
        if receipt.result != common_pb2.EXECUTION_RESULT_SUCCESS:
            return f"{step['kind']} failed on chain: {receipt.result_code or 'no result'} {receipt.result_message}"
        if step["kind"] != t.TRANSFER or sweep["asset"] != "USDT":
            return None
        for log in receipt.logs:
            if log.contract_address != self._usdt:
                continue
            try:
                moved = decode_transfer_log(list(log.topics), log.data)
            except AbiError:
                continue
            if moved == (sweep["deposit_address"], sweep["destination"], step["amount"]):
                return None
        return "the transfer succeeded but holds no USDT Transfer log of the sweep"

    async def _lost(self, step: Mapping[str, Any], expiration: datetime) -> str | None:
        """The proof that an expired step can never land, in words, or None while the chain does not prove it: a
        transaction lands only in a block stamped at or before its expiration, so once a solidified block is
        stamped after it and no block from the reference block on holds the txid, it never will."""
        if self._solid.block_time.ToDatetime(UTC) <= expiration:
            return None
        number = self._scanned.get(step["txid"], step["ref_block_number"] + 1)
        while number <= self._solid.number:
            try:
                block = await self._tron.rpc.GetBlock(tron_client_pb2.GetBlockRequest(block_number=number))
            except NotFound:
                return None  # a node behind the others (load-balanced reads): read again next round
            if step["txid"] in block.txids:
                return None  # included: its receipt will follow
            if block.header.block_time.ToDatetime(UTC) > expiration:
                return (f"{step['txid']} expired at {expiration.isoformat()} and is in no block up to solidified "
                        f"block {number}, stamped after it")
            number += 1
            self._scanned[step["txid"]] = number
        return None


def _with_last(sweep: Mapping[str, Any], **changes: Any) -> list[dict[str, Any]]:
    steps = [dict(step) for step in sweep["steps"]]
    steps[-1].update(changes)
    return steps
