"""The treasury: sweeps that gather the credited funds of paid invoices into the payout wallet, and their totals.

Plain async Python, no grpc: `treasury_servicer` adapts it to lucid.tron.v1.TreasuryService and `sweeper` executes the
sweeps. A sweep is recorded once per paid invoice (found through payment-gateway's ListInvoices): its deposit address,
asset, the amount credited (solidified payments only) and the payout address. Its steps are transactions, each
signed and stored before it is broadcast and confirmed at solidification; `plan` says which step comes next from the
steps so far and what the chain says now:

    USDT, energy strategy "delegate" (the deposit address holds no TRX and, having only received USDT, no account):
        ACTIVATE (the staking wallet sends ACTIVATION_SUN: the account is created; the staking wallet's staked
        bandwidth pays the bytes, the chain burns its 1 TRX create-account fee), DELEGATE (energy for the transfer:
        estimateenergy plus the margin, lent from the staking wallet's stake), TRANSFER (the deposit address sends the
        USDT, its 600 free bandwidth points pay the bytes), UNDELEGATE (the stake comes back).
    USDT, energy strategy "burn" (the baseline, and for a node without stake): ACTIVATE with enough TRX to burn for
        the energy, then TRANSFER burning it.
    TRX: TRANSFER of the amount (the address was activated by the payment; free bandwidth pays).

A TRANSFER that fails on chain (OUT_OF_ENERGY when the dynamic energy factor rose past the margin) is planned again
with twice the energy, at most MAX_TRANSFER_FAILURES times; the failed one spent the address's free bandwidth, so the
retry's bytes are paid by TRX the staking wallet sends first (ACTIVATE again). The delegation is always taken back
before the sweep ends.
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lucid.tron.v1 import common_pb2, payment_gateway_pb2, tron_client_pb2
from lucid_tron.chain import SUN_PER_TRX, encode_transfer
from lucid_tron.context import principal
from lucid_tron.errors import FailedPrecondition, NotFound
from lucid_tron.storage import IdempotencyKeys, utc_now

from .treasury_store import TreasuryStore

if TYPE_CHECKING:
    from google.protobuf.message import Message

    from lucid_tron.peers import PaymentGatewayService, TronClientService

PENDING = "PENDING"
SWEEPING = "SWEEPING"
SWEPT = "SWEPT"
FAILED = "FAILED"

ACTIVATE = "ACTIVATE"
DELEGATE = "DELEGATE"
TRANSFER = "TRANSFER"
UNDELEGATE = "UNDELEGATE"
#: Kinds the staking wallet signs; TRANSFER is signed by the payment wallet (the deposit address's key).
STAKING_KINDS = frozenset({ACTIVATE, DELEGATE, UNDELEGATE})

STEP_SIGNED = "SIGNED"
STEP_BROADCAST = "BROADCAST"
STEP_CONFIRMED = "CONFIRMED"
STEP_FAILED = "FAILED"
STEP_EXPIRED = "EXPIRED"
IN_FLIGHT = frozenset({STEP_SIGNED, STEP_BROADCAST})

DELEGATE_STRATEGY = "delegate"
BURN_STRATEGY = "burn"
STRATEGIES = (DELEGATE_STRATEGY, BURN_STRATEGY)

#: TRX an activation sends: the least a transfer may move. The account exists after it; the TRX stays there.
ACTIVATION_SUN = 1
MAX_TRANSFER_FAILURES = 3
#: A sweep whose steps reach this many (expired attempts included) stops trying: FAILED, its delegation taken back.
MAX_STEPS = 16
#: The least stake a delegation may move (TRON's minimum).
MIN_DELEGATION_SUN = SUN_PER_TRX
TRANSFER_SELECTOR = "transfer(address,uint256)"
PRICES_TTL_S = 600.0
#: Bandwidth points a USDT transfer's bytes take, with room (a signed TRC20 transfer is ~345).
TRANSFER_BANDWIDTH = 400
PAYOUT_WALLET_UNSET = "PAYOUT_WALLET_UNSET"
#: What payment-gateway's ListInvoices pages hold when the treasury looks for paid invoices.
_INVOICE_PAGE = 500

Sweep = dict[str, Any]

_log = logging.getLogger("lucid_tron.services.staking.treasury")


@dataclass(frozen=True)
class TreasuryPolicy:
    """What is swept and how: the least credited amount worth a sweep per asset (base units), how energy is paid
    for, and the margin over estimateenergy (basis points; delegated energy comes back, so a large one is free)."""

    thresholds: Mapping[str, int]
    strategy: str = DELEGATE_STRATEGY
    energy_margin_bps: int = 10_000
    interval_s: float = 3600.0


@dataclass(frozen=True)
class Next:
    """The next step of a sweep: a transaction to sign (`kind`, `amount`, `energy`, `fee_limit_sun`), an end
    (`final` SWEPT or FAILED, with `reason`), or nothing this round (`wait`, why)."""

    kind: str = ""
    amount: int = 0
    energy: int = 0
    fee_limit_sun: int = 0
    final: str = ""
    reason: str = ""
    wait: str = ""


def new_sweep_id() -> str:
    return "swp_" + secrets.token_hex(12)


def new_sweep(invoice: payment_gateway_pb2.Invoice, asset: str, destination: str, strategy: str) -> Sweep:
    now = utc_now()
    return {
        "_id": new_sweep_id(),
        "invoice_id": invoice.invoice_id,
        "deposit_address": invoice.deposit_address,
        "asset": asset,
        "amount": invoice.paid_amount_base_units,
        "destination": destination,
        "strategy": strategy,
        "state": PENDING,
        "state_reason": "",
        "steps": [],
        "fee_sun": 0,
        "version": 0,
        "created_at": now,
        "updated_at": now,
    }


# -- what the steps so far add up to ----------------------------------------------------------------------------------


def confirmed(sweep: Mapping[str, Any], kind: str) -> list[Mapping[str, Any]]:
    return [step for step in sweep["steps"] if step["kind"] == kind and step["state"] == STEP_CONFIRMED]


def delegated_sun(sweep: Mapping[str, Any]) -> int:
    """Stake lent to the deposit address by this sweep and not yet taken back."""
    return sum(step["amount"] for step in confirmed(sweep, DELEGATE)) - sum(
        step["amount"] for step in confirmed(sweep, UNDELEGATE)
    )


def transfer_failures(sweep: Mapping[str, Any]) -> int:
    return sum(1 for step in sweep["steps"] if step["kind"] == TRANSFER and step["state"] == STEP_FAILED)


def ending(sweep: Mapping[str, Any]) -> Next | None:
    """The end of the sweep, or the undelegation before it, once the transfer is confirmed or cannot be; None while
    the transfer is still to be made."""
    done = bool(confirmed(sweep, TRANSFER))
    failures = transfer_failures(sweep)
    gave_up = failures >= MAX_TRANSFER_FAILURES or len(sweep["steps"]) >= MAX_STEPS
    if not done and not gave_up:
        return None
    lent = delegated_sun(sweep)
    if lent > 0:
        return Next(kind=UNDELEGATE, amount=lent)
    if done:
        return Next(final=SWEPT, reason="")
    return Next(final=FAILED, reason=f"the transfer failed {failures} times in {len(sweep['steps'])} steps; "
                                     "the funds stay at the deposit address")


def energy_needed(estimate: int, margin_bps: int, failures: int) -> int:
    """estimateenergy plus the margin, doubled for each transfer that ran out of energy."""
    return math.ceil(estimate * (10_000 + margin_bps) / 10_000) * (2**failures)


def stake_for_energy(energy: int, total_energy_limit: int, total_energy_weight: int) -> int:
    """SUN of stake whose energy share is at least `energy` (energy = staked TRX x limit / weight), in whole TRX,
    at least TRON's minimum delegation."""
    if total_energy_limit <= 0:
        return MIN_DELEGATION_SUN
    trx = math.ceil(energy * total_energy_weight / total_energy_limit) + 1
    return max(MIN_DELEGATION_SUN, trx * SUN_PER_TRX)


async def plan(sweep: Mapping[str, Any], chain: ChainView, policy: TreasuryPolicy) -> Next:
    """The next step of an open sweep whose last step is final (confirmed, failed or expired)."""
    end = ending(sweep)
    if end is not None:
        return end
    if sweep["asset"] == "TRX":
        return Next(kind=TRANSFER, amount=sweep["amount"])
    lending = sweep["strategy"] == DELEGATE_STRATEGY
    if lending and not confirmed(sweep, ACTIVATE) and not await chain.activated(sweep["deposit_address"]):
        return Next(kind=ACTIVATE, amount=ACTIVATION_SUN)
    energy = energy_needed(await chain.transfer_energy(sweep), policy.energy_margin_bps, transfer_failures(sweep))
    energy_price, bandwidth_price = await chain.prices_sun()
    fee_limit = energy * energy_price
    resources = await chain.resources(sweep["deposit_address"])
    # The transfer's bytes: free bandwidth (600 a day) pays for one; a retry the same day finds it spent, and the
    # chain then burns TRX for all the bytes, which the staking wallet sends first.
    free = resources.free_bandwidth_limit - resources.free_bandwidth_used
    staked = resources.bandwidth_limit - resources.bandwidth_used
    bytes_fee = 0 if max(free, staked) >= TRANSFER_BANDWIDTH else TRANSFER_BANDWIDTH * bandwidth_price
    trx_needed = bytes_fee if lending else fee_limit + bytes_fee
    if trx_needed:
        balance = await chain.balance_sun(sweep["deposit_address"])
        if balance < trx_needed:
            return Next(kind=ACTIVATE, amount=trx_needed - balance)
    missing = energy - max(0, resources.energy_limit - resources.energy_used) if lending else 0
    if missing > 0:
        stake = await chain.stake_for(missing)
        if not await chain.reserve_stake(stake):
            return Next(wait=f"waits for {stake} SUN of stake to lend (the staking wallet's energy stake is lent "
                             "to other sweeps); it comes back as they end")
        return Next(kind=DELEGATE, amount=stake, energy=missing)
    return Next(kind=TRANSFER, amount=sweep["amount"], energy=energy, fee_limit_sun=fee_limit)


class ChainView:
    """What planning reads of the chain, through tron-client: solidified accounts, resources and estimates."""

    def __init__(self, tron_client: TronClientService, *, usdt_contract: str, staking_address: Callable[[], Awaitable[str]]):
        self._tron = tron_client
        self._usdt = usdt_contract
        self._staking_address = staking_address
        # The network's energy totals are read once per round (`new_round`): they move with every stake, a little.
        # The prices change only by a governance proposal: read every PRICES_TTL_S.
        self._totals: tuple[int, int] | None = None
        self._prices: tuple[tuple[int, int], float] | None = None
        # The staking wallet's energy stake not lent yet, read once per round and lowered by each delegation the
        # round signs (they are in no block yet when the next sweep is planned).
        self._lendable: int | None = None

    def new_round(self) -> None:
        self._totals = self._lendable = None

    async def _staking_resources(self) -> None:
        resources = await self._resources(await self._staking_address())
        self._totals = (resources.total_energy_limit, resources.total_energy_weight)
        self._lendable = resources.staked_for_energy_sun - resources.delegated_energy_out_sun

    async def _account(self, address: str) -> Any:
        request = tron_client_pb2.GetAccountRequest(address=address, finality=common_pb2.FINALITY_SOLIDIFIED)
        return (await self._tron.rpc.GetAccount(request)).account

    async def _resources(self, address: str) -> Any:
        request = tron_client_pb2.GetAccountResourcesRequest(address=address)
        return (await self._tron.rpc.GetAccountResources(request)).resources

    async def activated(self, address: str) -> bool:
        return bool((await self._account(address)).activated)

    async def balance_sun(self, address: str) -> int:
        return int((await self._account(address)).balance_sun)

    async def resources(self, address: str) -> Any:
        """The account's energy and bandwidth as of the head."""
        return await self._resources(address)

    async def stake_for(self, energy: int) -> int:
        if self._totals is None:
            await self._staking_resources()
        assert self._totals is not None
        return stake_for_energy(energy, *self._totals)

    async def reserve_stake(self, sun: int) -> bool:
        """Whether the staking wallet can lend `sun` more of its energy stake this round (then counted as lent)."""
        if self._lendable is None:
            await self._staking_resources()
        assert self._lendable is not None
        if sun > self._lendable:
            return False
        self._lendable -= sun
        return True

    async def transfer_energy(self, sweep: Mapping[str, Any]) -> int:
        estimate = await self._estimate(sweep)
        return int(estimate.energy_required)

    async def prices_sun(self) -> tuple[int, int]:
        """SUN burned per energy unit and per bandwidth point, from the chain parameters (getEnergyFee,
        getTransactionFee)."""
        if self._prices is None or time.monotonic() - self._prices[1] > PRICES_TTL_S:
            answer = await self._tron.rpc.GetChainParameters(tron_client_pb2.GetChainParametersRequest())
            self._prices = ((int(answer.energy_price_sun), int(answer.bandwidth_price_sun)), time.monotonic())
        return self._prices[0]

    async def _estimate(self, sweep: Mapping[str, Any]) -> Any:
        return await self._tron.rpc.EstimateEnergy(tron_client_pb2.EstimateEnergyRequest(
            owner_address=sweep["deposit_address"],
            contract_address=self._usdt,
            function_selector=TRANSFER_SELECTOR,
            parameter=encode_transfer(sweep["destination"], sweep["amount"])[4:],
        ))


# -- the API's side -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AssetTotals:
    asset: str
    swept: int = 0
    swept_count: int = 0
    pending: int = 0
    pending_count: int = 0
    failed_count: int = 0
    fee_sun: int = 0


@dataclass(frozen=True)
class TreasuryView:
    payout_address: str
    totals: list[AssetTotals]
    last_run_at: datetime | None
    next_run_at: datetime | None
    strategy: str


class Treasury:
    """Sweeps as the API sees them, and finding the paid invoices to sweep (on schedule and on request)."""

    def __init__(
        self,
        store: TreasuryStore,
        *,
        payment_gateway: PaymentGatewayService | None,
        policy: TreasuryPolicy,
        payout_address: Callable[[], Awaitable[str]],
        lender_address: Callable[[], Awaitable[str]],
    ) -> None:
        self.store = store
        self.policy = policy
        self._gateway = payment_gateway
        self._payout_address = payout_address
        self._lender_address = lender_address

    @property
    def idempotency_keys(self) -> IdempotencyKeys:
        return self.store.idempotency_keys

    async def planned_transfers(self, address: str) -> int:
        """The USDT transfers `address` will lend energy for: the open USDT sweeps when it is the staking wallet's
        (with the delegate strategy, each sweep's transfer runs on energy lent from it)."""
        if self.policy.strategy != DELEGATE_STRATEGY or address != await self._lender_address():
            return 0
        return await self.store.open_sweep_count("USDT")

    async def discover(self, *, include_below_threshold: bool = False) -> list[Sweep]:
        """Record a sweep for every PAID invoice without one whose credited amount reaches its asset's threshold
        (or any credited amount, when told); the sweeps recorded now."""
        destination = await self._payout_address()
        if not destination or self._gateway is None:
            return []  # no payout wallet or no payment-gateway (PAYMENT_GATEWAY_ADDR): nothing to sweep into or from
        started: list[Sweep] = []
        token = ""
        while True:
            page = await self._gateway.rpc.ListInvoices(payment_gateway_pb2.ListInvoicesRequest(
                statuses=[payment_gateway_pb2.INVOICE_STATUS_PAID], page_size=_INVOICE_PAGE, page_token=token,
            ))
            known = await self.store.swept_invoices([invoice.invoice_id for invoice in page.invoices])
            for invoice in page.invoices:
                asset = common_pb2.Asset.Name(invoice.asset).removeprefix("ASSET_")
                if invoice.invoice_id in known or asset not in self.policy.thresholds:
                    continue
                credited = invoice.paid_amount_base_units
                if credited <= 0 or (credited < self.policy.thresholds[asset] and not include_below_threshold):
                    continue
                sweep = new_sweep(invoice, asset, destination, self.policy.strategy)
                if await self.store.insert_sweep(sweep):
                    started.append(sweep)
            token = page.next_page_token
            if not token:
                return started

    async def run_sweep(self, request_id: str, request: Message, include_below_threshold: bool,
                        respond: Callable[[list[Sweep]], Message], response_type: type[Any]) -> Any:
        """RunSweep, at most once per request_id."""

        async def work() -> Message:
            if not await self._payout_address():
                raise FailedPrecondition("no payout wallet is configured (PAYOUT_WALLET_ID): nothing can be swept",
                                         reason=PAYOUT_WALLET_UNSET, subject="PAYOUT_WALLET_ID")
            started = await self.discover(include_below_threshold=include_below_threshold)
            await self._audit("treasury.run_sweep", {"request_id": request_id, "started": len(started),
                                                     "include_below_threshold": include_below_threshold})
            return respond(started)

        return await self.idempotency_keys.run("RunSweep", request_id, request, work, response_type)

    async def _audit(self, action: str, details: Mapping[str, Any]) -> None:
        """Who asked for a sweep now. A failure is logged, not raised: the sweeps it started stand."""
        try:
            await self.store.audit_log.append(principal() or "unauthenticated", action, details)
        except Exception:
            _log.warning("could not append %s to the audit log", action, exc_info=True)

    async def get(self, sweep_id: str) -> Sweep:
        sweep = await self.store.sweep(sweep_id)
        if sweep is None:
            raise NotFound("sweep", sweep_id)
        return sweep

    async def list_page(
        self, query: Mapping[str, Any], page_size: int, after: tuple[datetime, str] | None
    ) -> tuple[list[Sweep], tuple[datetime, str] | None]:
        """One page, newest first, and the (creation time, id) to continue after (None on the last page)."""
        if after is not None:
            created_at, sweep_id = after
            query = {**query, "$or": [{"created_at": {"$lt": created_at}},
                                      {"created_at": created_at, "_id": {"$lt": sweep_id}}]}
        page = await self.store.list_sweeps(query, page_size + 1)
        if len(page) > page_size:
            last = page[page_size - 1]
            return page[:page_size], (last["created_at"], last["_id"])
        return page, None

    async def view(self) -> TreasuryView:
        rows = await self.store.totals()
        totals = []
        for asset in sorted(self.policy.thresholds):
            mine = {row["_id"]["state"]: row for row in rows if row["_id"]["asset"] == asset}

            def of(state: str, field: str, rows_of: Mapping[str, Mapping[str, Any]] = mine) -> int:
                return int(rows_of.get(state, {}).get(field, 0))

            totals.append(AssetTotals(
                asset=asset,
                swept=of(SWEPT, "amount"),
                swept_count=of(SWEPT, "count"),
                pending=of(PENDING, "amount") + of(SWEEPING, "amount"),
                pending_count=of(PENDING, "count") + of(SWEEPING, "count"),
                failed_count=of(FAILED, "count"),
                fee_sun=sum(of(state, "fee_sun") for state in (PENDING, SWEEPING, SWEPT, FAILED)),
            ))
        schedule = await self.store.schedule()
        return TreasuryView(await self._payout_address(), totals, schedule.get("last_run_at"),
                            schedule.get("next_run_at"), self.policy.strategy)
