"""EnergyPlanner: the energy of each USDT transfer the node sends, paid the cheapest way the policy allows.

Plain async Python, no grpc: the servicer adapts it to StakingService.CreateEnergyPlan / GetEnergyPlan /
CompleteEnergyPlan, and it raises `lucid_tron.errors` for the mesh to map.

A plan (one per request_id) estimates the transfer with estimateenergy and adds ENERGY_MARGIN_PERCENT, because the
dynamic energy factor can change at a maintenance period boundary between the estimate and the block that runs the
transfer; then it takes the first source that fits, cheapest first:
    OWN        the sender's available energy covers the planned energy: nothing to do;
    DELEGATED  the staking wallet (STAKING_WALLET_ID's first address) lends the missing energy for the moment: the
               delegation is signed, stored with the plan, broadcast, and the plan is READY once it is in a block;
               CompleteEnergyPlan takes it back (RELEASING until the undelegation is in a block, then COMPLETED);
    BURN       the sender burns TRX for the missing energy, within max_burn_sun or ENERGY_MAX_BURN_SUN;
and otherwise refuses with FAILED_PRECONDITION ENERGY_UNAVAILABLE. The transfer's fee limit is the planned energy at
the current price (TRON counts staked and delegated energy against the fee limit too).

Every state change is a compare-and-set on the stored state, and every delegate or undelegate transaction is stored
with its plan before it is broadcast (`DelegationSender`), so the caller's retries, CompleteEnergyPlan and the reaper
can race without lending twice or taking back twice. The reaper (`EnergyReaper`, one worker under a lease) takes
back the delegation of every plan nobody completed within ENERGY_PLAN_TIMEOUT_S, so a caller that crashed never
leaves energy lent for good; it also drives RELEASING plans to COMPLETED.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from lucid.tron.v1 import common_pb2, tron_client_pb2
from lucid_tron.chain import TRANSFER_SIGNATURE, encode_address, encode_uint256
from lucid_tron.config import setting
from lucid_tron.context import principal
from lucid_tron.errors import Aborted, FailedPrecondition, InvalidArgument, LucidError, NotFound
from lucid_tron.peers import TronClientService
from lucid_tron.storage import IDEMPOTENCY_KEY_REUSED, utc_now

from .delegations import DelegationSender, SignedTransaction, stake_for_energy
from .settings import StakingWalletSettings
from .store import Document, StakingStore

ENERGY_UNAVAILABLE = "ENERGY_UNAVAILABLE"
SENDER_NOT_ACTIVATED = "SENDER_NOT_ACTIVATED"
TRANSFER_NOT_IN_BLOCK = "TRANSFER_NOT_IN_BLOCK"
DELEGATION_PENDING = "DELEGATION_PENDING"
PLAN_TRANSFER_MISMATCH = "PLAN_TRANSFER_MISMATCH"

OWN, DELEGATED, BURN = "OWN", "DELEGATED", "BURN"
DELEGATING, READY, RELEASING, COMPLETED = "DELEGATING", "READY", "RELEASING", "COMPLETED"

#: How often a CreateEnergyPlan waiting for its delegation to be in a block asks for the receipt.
_RECEIPT_POLL_S = 0.25
#: Plans the reaper looks at per round and state.
_REAP_BATCH = 50
_HEAD = common_pb2.FINALITY_HEAD

_log = logging.getLogger("lucid_tron.staking.energy")


@dataclass(frozen=True, kw_only=True)
class EnergySettings(StakingWalletSettings):
    """STAKING_WALLET_ID (StakingWalletSettings): the wallet whose first address lends energy (empty: no delegation).
    ENERGY_MARGIN_PERCENT: how far above estimateenergy a plan goes (default 30 %: mainnet's dynamic energy factor
    rises by at most a fraction of that per maintenance period).
    ENERGY_MAX_BURN_SUN: the most a planned transfer may burn for energy when the caller sets no max_burn_sun
    (default 20 TRX). ENERGY_DELEGATION: whether plans may lend from the staking wallet (default true).
    ENERGY_PLAN_TIMEOUT_S: after this long the reaper takes back the delegation of a plan nobody completed
    (default 600 s; keep it above the transfers' TRANSACTION_LIFETIME_S). ENERGY_DELEGATION_WAIT_S: how long
    CreateEnergyPlan waits for its delegation to be in a block before answering ABORTED DELEGATION_PENDING (a retry
    with the same request_id waits again). ENERGY_REAPER_INTERVAL_S: the reaper's pace."""

    energy_margin_percent: int = setting("ENERGY_MARGIN_PERCENT", default=30, ge=0, le=1000)
    energy_max_burn_sun: int = setting("ENERGY_MAX_BURN_SUN", default=20_000_000, ge=0, le=15_000_000_000)
    energy_delegation: bool = setting("ENERGY_DELEGATION", default=True)
    energy_plan_timeout_s: float = setting("ENERGY_PLAN_TIMEOUT_S", default=600.0, ge=1, le=86_400)
    energy_delegation_wait_s: float = setting("ENERGY_DELEGATION_WAIT_S", default=30.0, ge=0.1, le=600)
    energy_reaper_interval_s: float = setting("ENERGY_REAPER_INTERVAL_S", default=10.0, ge=0.05, le=3600)

    def energy_policy(self) -> EnergyPolicy:
        return EnergyPolicy(
            margin_percent=self.energy_margin_percent,
            max_burn_sun=self.energy_max_burn_sun,
            delegation=self.energy_delegation and bool(self.staking_wallet_id),
            timeout_s=self.energy_plan_timeout_s,
            wait_s=self.energy_delegation_wait_s,
        )


@dataclass(frozen=True)
class EnergyPolicy:
    margin_percent: int
    max_burn_sun: int
    delegation: bool
    timeout_s: float
    wait_s: float

    def planned(self, estimated: int) -> int:
        """The estimate with the margin, rounded up."""
        return -(-estimated * (100 + self.margin_percent) // 100)


@dataclass(frozen=True)
class PlanRequest:
    """A checked CreateEnergyPlan request; `request_hash` identifies its content (the idempotency digest)."""

    request_id: str
    request_hash: str
    sender: str
    recipient: str
    amount: int
    max_burn_sun: int


class EnergyPlanner:
    """Energy plans on staking's store, through tron-client and the staking wallet's `DelegationSender`."""

    def __init__(
        self,
        store: StakingStore,
        *,
        tron_client: TronClientService,
        delegations: DelegationSender,
        usdt_contract: str,
        policy: EnergyPolicy,
    ) -> None:
        self.store = store
        self._tron_client = tron_client
        self._delegations = delegations
        self._usdt_contract = usdt_contract
        self.policy = policy
        # The audit log admits one successor per entry: appends from this process go one at a time.
        self._auditing = asyncio.Lock()

    # -- CreateEnergyPlan ----------------------------------------------------------------------------------------

    async def create(self, request: PlanRequest) -> Document:
        """The plan of `request` (made once per request_id), READY once its energy is there."""
        plan = await self.store.plan_for(request.request_id)
        if plan is None:
            plan = await self._new_plan(request)
        elif plan["request_hash"] != request.request_hash:
            raise InvalidArgument.field(
                "request_id",
                "already used for a different request; use a new request_id for a new request",
                reason=IDEMPOTENCY_KEY_REUSED,
            )
        if plan["state"] == DELEGATING:
            plan = await self._await_delegation(plan)
        if plan.get("failure"):
            raise FailedPrecondition(plan["failure"], reason=ENERGY_UNAVAILABLE, subject=plan["_id"])
        return plan

    async def _new_plan(self, request: PlanRequest) -> Document:
        rpc = self._tron_client.rpc
        account = await rpc.GetAccount(tron_client_pb2.GetAccountRequest(address=request.sender, finality=_HEAD))
        if not account.account.activated:
            raise FailedPrecondition(
                f"{request.sender} is not an activated account: it can neither send nor receive delegated energy; "
                "send it TRX first",
                reason=SENDER_NOT_ACTIVATED,
                subject="sender_address",
            )
        resources, parameters, estimate = await asyncio.gather(
            rpc.GetAccountResources(tron_client_pb2.GetAccountResourcesRequest(address=request.sender)),
            rpc.GetChainParameters(tron_client_pb2.GetChainParametersRequest()),
            rpc.EstimateEnergy(
                tron_client_pb2.EstimateEnergyRequest(
                    owner_address=request.sender,
                    contract_address=self._usdt_contract,
                    function_selector=TRANSFER_SIGNATURE,
                    parameter=encode_address(request.recipient) + encode_uint256(request.amount),
                )
            ),
        )
        res = resources.resources
        price = parameters.energy_price_sun
        estimated = estimate.energy_required
        planned = self.policy.planned(estimated)
        # Energy promised to the sender's other open plans is not this transfer's to spend (concurrent transfers
        # from one address would otherwise all count on the same energy); usage beyond the limit (left by energy
        # lent before and taken back) must be covered first.
        free = res.energy_limit - res.energy_used - await self.store.energy_reserved(request.sender)
        available = max(free, 0)
        plan: Document = {
            "_id": f"ep_{uuid.uuid4().hex[:24]}",
            "request_id": request.request_id,
            "request_key": request.request_id,
            "request_hash": request.request_hash,
            "sender": request.sender,
            "recipient": request.recipient,
            "amount_base_units": request.amount,
            "energy_estimated": estimated,
            "energy_planned": planned,
            "energy_available": available,
            "fee_limit_sun": planned * price,
            "delegated_sun": 0,
            "plan_trx_burned_sun": 0,
            "created_at": utc_now(),
        }
        if available >= planned:
            return await self.store.insert_plan({**plan, "source": OWN, "state": READY})
        shortfall = planned - free
        lent = await self._lendable(shortfall, res)
        if lent:
            signed = await self._delegations.sign(
                delegate=True, receiver=request.sender, amount_sun=lent, reference=f"energy-plan:{plan['_id']}"
            )
            plan.update(source=DELEGATED, state=DELEGATING, delegated_sun=lent, delegate=signed.document())
            stored = await self.store.insert_plan(plan)
            if stored["_id"] == plan["_id"]:
                await self._audit("energy.delegate", stored, signed)
            return stored
        burn = shortfall * price
        cap = request.max_burn_sun or self.policy.max_burn_sun
        if burn > cap or burn > account.account.balance_sun:
            lending = "the staking wallet cannot lend it" if self.policy.delegation else "delegation is off"
            raise FailedPrecondition(
                f"the transfer needs {planned} energy ({estimated} estimated + {self.policy.margin_percent} %), "
                f"{request.sender} has {available}; {lending}, and burning {burn} SUN for the rest exceeds "
                + (f"the cap of {cap} SUN" if burn > cap else f"its {account.account.balance_sun} SUN"),
                reason=ENERGY_UNAVAILABLE,
                subject="sender_address",
            )
        return await self.store.insert_plan({**plan, "source": BURN, "state": READY})

    async def _lendable(self, shortfall: int, res: common_pb2.AccountResources) -> int:
        """SUN of stake to lend for `shortfall` energy, or 0 when the policy or the staking wallet cannot."""
        if not self.policy.delegation:
            return 0
        needed = stake_for_energy(shortfall, res)
        return needed if needed <= await self._delegations.delegatable_sun() else 0

    async def _await_delegation(self, plan: Document) -> Document:
        """Broadcast the stored delegation (again) and wait until it is in a block: the plan READY."""
        signed = SignedTransaction.of(plan["delegate"])
        try:
            await self._delegations.broadcast(signed)
        except FailedPrecondition as refused:
            # The node refused the stored bytes (they expired, or the stake is no longer there): they can never
            # land, since only this plan holds them; close the plan with nothing lent.
            return await self._failed(plan, f"the delegation was refused: {refused.message}")
        deadline = time.monotonic() + self.policy.wait_s
        while (receipt := await self._delegations.receipt(signed.txid)) is None:
            if time.monotonic() >= deadline:
                raise Aborted(
                    f"the delegation {signed.txid} is not in a block yet; retry with the same request_id",
                    reason=DELEGATION_PENDING,
                    retry_after_s=3.0,
                )
            await asyncio.sleep(_RECEIPT_POLL_S)
        return await self._delegation_landed(plan, receipt)

    async def _delegation_landed(self, plan: Document, receipt: common_pb2.TransactionReceipt) -> Document:
        if receipt.result != common_pb2.EXECUTION_RESULT_SUCCESS:
            return await self._failed(
                plan, f"the delegation failed in block {receipt.block_number}: {receipt.result_code}",
                plan_trx_burned_sun=receipt.fee_sun,
            )
        return await self._moved(plan, DELEGATING, state=READY, plan_trx_burned_sun=receipt.fee_sun)

    # -- GetEnergyPlan / CompleteEnergyPlan ----------------------------------------------------------------------

    async def get(self, plan_id: str) -> Document:
        """The plan; a RELEASING one is checked against the chain first (best effort: a chain outage answers the
        stored plan)."""
        plan = await self._plan(plan_id)
        if plan["state"] == RELEASING:
            try:
                plan = await self._release(plan)
            except LucidError as error:
                _log.info("plan %s: undelegation not checked: %s", plan_id, error.message)
        return plan

    async def complete(self, plan_id: str, transfer_txid: str) -> Document:
        """Close the plan after its transfer `transfer_txid` is in a block ("" when it will not be sent): record the
        transfer's cost and take a delegation back. Idempotent."""
        plan = await self._plan(plan_id)
        known = plan.get("transfer_txid", "")
        if transfer_txid and known and known != transfer_txid:
            raise FailedPrecondition(
                f"plan {plan_id} was completed for transfer {known}, not {transfer_txid}",
                reason=PLAN_TRANSFER_MISMATCH,
                subject="transfer_txid",
            )
        return await self._close(plan, transfer_txid, reaped=False)

    async def _close(self, plan: Document, transfer_txid: str, *, reaped: bool) -> Document:
        if plan["state"] == DELEGATING:
            plan = await self._settle_delegation(plan)
        if plan["state"] == READY:
            # Closed without a transfer, the plan frees its request_id: a caller that comes back with the same one
            # (after the reaper took its energy back, say) gets a new plan, never a closed one.
            cost = await self._transfer_cost(transfer_txid) if transfer_txid else {
                "request_key": f"{plan['request_id']}/closed/{plan['_id']}"
            }
            if plan["source"] != DELEGATED:
                return await self._moved(plan, READY, state=COMPLETED, reaped=reaped, complete_time=utc_now(), **cost)
            signed = await self._delegations.sign(
                delegate=False, receiver=plan["sender"], amount_sun=plan["delegated_sun"],
                reference=f"energy-plan:{plan['_id']}",
            )
            moved = await self.store.move_plan(
                plan["_id"], READY, state=RELEASING, undelegate=signed.document(), reaped=reaped, **cost
            )
            if moved is not None:
                await self._audit("energy.undelegate", moved, signed)
                await self._delegations.broadcast(signed)
                return moved
            plan = await self._plan(plan["_id"])  # a concurrent close won; go on from where it left the plan
        if plan["state"] == RELEASING:
            return await self._release(plan)
        return plan

    async def _settle_delegation(self, plan: Document) -> Document:
        """A DELEGATING plan being closed: READY once its delegation is in a block, COMPLETED once it can never
        be; ABORTED DELEGATION_PENDING in between."""
        signed = SignedTransaction.of(plan["delegate"])
        receipt = await self._delegations.receipt(signed.txid)
        if receipt is not None:
            return await self._delegation_landed(plan, receipt)
        if await self._delegations.can_never_land(signed):
            return await self._failed(plan, "the delegation expired without landing")
        raise Aborted(
            f"the delegation {signed.txid} is not in a block yet; retry later", reason=DELEGATION_PENDING,
            retry_after_s=3.0,
        )

    async def _transfer_cost(self, transfer_txid: str) -> dict[str, Any]:
        receipt = await self._delegations.receipt(transfer_txid)
        if receipt is None:
            raise FailedPrecondition(
                f"transfer {transfer_txid} is not in a block yet: complete the plan once it is (taking the energy "
                "back first would make it burn TRX)",
                reason=TRANSFER_NOT_IN_BLOCK,
                subject="transfer_txid",
            )
        return {
            "transfer_txid": transfer_txid,
            "energy_used": receipt.energy_used - receipt.energy_burned,
            "trx_burned_sun": receipt.fee_sun,
            "bandwidth_used": receipt.bandwidth_used,
        }

    async def _release(self, plan: Document) -> Document:
        """A RELEASING plan: COMPLETED once its undelegation is in a block with SUCCESS; otherwise the stored
        undelegation is broadcast again, or replaced when it can never land (or failed)."""
        signed = SignedTransaction.of(plan["undelegate"])
        receipt = await self._delegations.receipt(signed.txid)
        if receipt is not None and receipt.result == common_pb2.EXECUTION_RESULT_SUCCESS:
            return await self._moved(
                plan, RELEASING, state=COMPLETED, complete_time=utc_now(),
                plan_trx_burned_sun=plan["plan_trx_burned_sun"] + receipt.fee_sun,
            )
        if receipt is None and not await self._delegations.can_never_land(signed):
            await self._delegations.broadcast(signed)
            return plan
        replacement = await self._delegations.sign(
            delegate=False, receiver=plan["sender"], amount_sun=plan["delegated_sun"],
            reference=f"energy-plan:{plan['_id']}",
        )
        burned = receipt.fee_sun if receipt is not None else 0
        moved = await self.store.move_plan(
            plan["_id"], RELEASING, expect={"undelegate.txid": signed.txid}, undelegate=replacement.document(),
            plan_trx_burned_sun=plan["plan_trx_burned_sun"] + burned,
        )
        if moved is None:
            return await self._plan(plan["_id"])
        await self._audit("energy.undelegate", moved, replacement)
        await self._delegations.broadcast(replacement)
        return moved

    # -- the reaper's round --------------------------------------------------------------------------------------

    async def reap(self) -> int:
        """Close every plan nobody completed within the timeout (taking its delegation back) and move RELEASING
        plans on; how many plans were looked at. A plan that cannot move now is left for the next round."""
        stale = await self.store.plans_to_reap(
            [DELEGATING, READY], utc_now() - timedelta(seconds=self.policy.timeout_s), _REAP_BATCH
        )
        releasing = await self.store.plans_to_reap([RELEASING], utc_now(), _REAP_BATCH)
        for plan in stale + releasing:
            try:
                if plan["state"] == RELEASING:
                    await self._release(plan)
                else:
                    _log.warning("energy plan %s was not completed in %.0f s: taking its energy back", plan["_id"],
                                 self.policy.timeout_s)
                    await self._close(plan, "", reaped=True)
            except LucidError as error:
                _log.info("energy plan %s waits: %s", plan["_id"], error.message)
        return len(stale) + len(releasing)

    # -- helpers -------------------------------------------------------------------------------------------------

    async def _plan(self, plan_id: str) -> Document:
        plan = await self.store.plan(plan_id)
        if plan is None:
            raise NotFound("energy plan", plan_id)
        return plan

    async def _failed(self, plan: Document, failure: str, **fields: Any) -> Document:
        """Close a DELEGATING plan whose delegation can never land, nothing lent. Its request_id is freed (kept
        with a suffix): as for any failed request, a retry with the same request_id plans anew."""
        return await self._moved(
            plan, DELEGATING, state=COMPLETED, failure=failure, complete_time=utc_now(),
            request_key=f"{plan['request_id']}/failed/{plan['_id']}", **fields,
        )

    async def _moved(self, plan: Document, from_state: str, **fields: Any) -> Document:
        """The plan moved from `from_state`, or as a concurrent writer left it."""
        moved = await self.store.move_plan(plan["_id"], from_state, **fields)
        return moved if moved is not None else await self._plan(plan["_id"])

    async def _audit(self, action: str, plan: Document, signed: SignedTransaction) -> None:
        async with self._auditing:
            await self.store.audit_log.append(
                principal() or "",
                action,
                {"plan_id": plan["_id"], "txid": signed.txid, "receiver": signed.receiver,
                 "amount_sun": signed.amount_sun},
            )
