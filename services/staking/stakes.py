"""Stakes: Stake 2.0 writes from wallet addresses (freeze, unfreeze, cancel all unfreezes, withdraw, delegate,
undelegate), each checked against the chain, built here, signed by wallet-manager against its intent, stored before
it is broadcast, and broadcast through tron-client, once per request (`lucid_tron.sending`).

Plain async Python, no grpc: the servicer adapts it to lucid.tron.v1.StakingService, and it raises `lucid_tron.errors`
for the mesh to map. A check that the chain would refuse anyway (more than staked, a receiver that does not exist,
a locked delegation) is made here first, so the caller gets FAILED_PRECONDITION with a reason instead of a node's
refusal after a signature.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from lucid.tron.v1 import common_pb2, wallet_pb2
from lucid_tron.chain import (
    cancel_all_unfreeze_v2,
    delegate_resource,
    freeze_balance_v2,
    format_trx,
    protocol,
    undelegate_resource,
    unfreeze_balance_v2,
    withdraw_expire_unfreeze,
)
from lucid_tron.errors import FailedPrecondition, InvalidArgument
from lucid_tron.peers import TronClientService, WalletService
from lucid_tron.sending import Order, Sender

from .resources import MAX_PENDING_UNFREEZES, RESOURCE_NUMBERS, Resources, ResourceReader, now_ms
from .store import StakingStore

FREEZE = "FreezeBalance"
UNFREEZE = "UnfreezeBalance"
CANCEL_ALL_UNFREEZE = "CancelAllUnfreeze"
WITHDRAW = "WithdrawExpireUnfreeze"
DELEGATE = "DelegateResource"
UNDELEGATE = "UndelegateResource"

TRX_BALANCE_INSUFFICIENT = "TRX_BALANCE_INSUFFICIENT"
UNFREEZE_EXCEEDS_STAKE = "UNFREEZE_EXCEEDS_STAKE"
TOO_MANY_PENDING_UNFREEZES = "TOO_MANY_PENDING_UNFREEZES"
NO_PENDING_UNFREEZE = "NO_PENDING_UNFREEZE"
NOTHING_TO_WITHDRAW = "NOTHING_TO_WITHDRAW"
RECEIVER_NOT_ACTIVATED = "RECEIVER_NOT_ACTIVATED"
DELEGATION_EXCEEDS_AVAILABLE = "DELEGATION_EXCEEDS_AVAILABLE"
UNDELEGATION_EXCEEDS_DELEGATED = "UNDELEGATION_EXCEEDS_DELEGATED"
DELEGATION_LOCKED = "DELEGATION_LOCKED"
LOCK_PERIOD_OUT_OF_RANGE = "LOCK_PERIOD_OUT_OF_RANGE"

#: How long a built transaction stays valid; a request retried after that signs a new one only once the stored one
#: has provably expired (it is refused at broadcast and has no receipt).
TRANSACTION_LIFETIME_S = 120.0
#: java-tron's maxDelegateLockPeriod before a chain sets its own (chain parameter getMaxDelegateLockPeriod): 3 days.
DEFAULT_MAX_LOCK_PERIOD_BLOCKS = 86_400
_MS_PER_DAY = 86_400_000


@dataclass(frozen=True)
class StakeOrder:
    """A checked write request: `order` names it (lucid_tron.sending); `owner` signs; the rest is what the kind
    has ("BANDWIDTH" or "ENERGY" for `resource`, "" where the kind has none)."""

    order: Order
    owner: str
    resource: str = ""
    amount_sun: int = 0
    receiver: str = ""
    lock: bool = False
    lock_period_blocks: int = 0


class Stakes:
    """staking's writes, on its MongoDB store, tron-client and wallet-manager."""

    def __init__(self, store: StakingStore, *, tron_client: TronClientService, wallet_manager: WalletService) -> None:
        self.store = store
        self.reader = ResourceReader(tron_client)
        self.sender = Sender(
            store, tron_client=tron_client, wallet_manager=wallet_manager, lifetime_s=TRANSACTION_LIFETIME_S
        )

    async def freeze(self, order: StakeOrder) -> dict[str, Any]:
        """Stake TRX for a resource (freezebalancev2)."""

        async def check() -> dict[str, Any]:
            account = await self.reader.account(order.owner)
            if account.balance_sun < order.amount_sun:
                raise FailedPrecondition(
                    f"{order.owner} holds {format_trx(account.balance_sun)} TRX, less than the "
                    f"{format_trx(order.amount_sun)} TRX to stake",
                    reason=TRX_BALANCE_INSUFFICIENT,
                    subject="owner_address",
                )
            return {}

        return await self._send(order, wallet_pb2.TRANSACTION_KIND_FREEZE_BALANCE_V2, check,
                                lambda: freeze_balance_v2(order.owner, order.amount_sun, order.resource))

    async def unfreeze(self, order: StakeOrder) -> dict[str, Any]:
        """Start unstaking (unfreezebalancev2); the stored document has `withdrawable_ms`."""

        async def check() -> dict[str, Any]:
            resources = await self.reader.resources(order.owner)
            staked = resources.undelegated_stake(order.resource)
            if order.amount_sun > staked:
                raise FailedPrecondition(
                    f"{order.owner} has {format_trx(staked)} TRX staked for {order.resource} and not delegated, "
                    f"less than the {format_trx(order.amount_sun)} TRX to unstake",
                    reason=UNFREEZE_EXCEEDS_STAKE,
                    subject="amount_sun",
                )
            if len(resources.pending) >= MAX_PENDING_UNFREEZES:
                raise FailedPrecondition(
                    f"{order.owner} already has {len(resources.pending)} unstakes waiting, the most TRON allows; "
                    "wait for one to end, or cancel them all (CancelAllUnfreeze)",
                    reason=TOO_MANY_PENDING_UNFREEZES,
                    subject="owner_address",
                )
            parameters = await self.reader.chain_parameters()
            return {"withdrawable_ms": now_ms() + parameters.unfreeze_delay_days * _MS_PER_DAY}

        return await self._send(order, wallet_pb2.TRANSACTION_KIND_UNFREEZE_BALANCE_V2, check,
                                lambda: unfreeze_balance_v2(order.owner, order.amount_sun, order.resource))

    async def cancel_all_unfreeze(self, order: StakeOrder) -> dict[str, Any]:
        """Cancel every unstake (cancelallunfreezev2); the stored document has `restaked_sun` and `withdrawn_sun`."""

        async def check() -> dict[str, Any]:
            resources = await self.reader.resources(order.owner)
            if not resources.unfreezes:
                raise FailedPrecondition(
                    f"{order.owner} has no unstake to cancel", reason=NO_PENDING_UNFREEZE, subject="owner_address"
                )
            restaked = sum(u.amount_sun for u in resources.pending)
            return {"restaked_sun": restaked,
                    "withdrawn_sun": sum(u.amount_sun for u in resources.unfreezes) - restaked}

        return await self._send(order, wallet_pb2.TRANSACTION_KIND_CANCEL_ALL_UNFREEZE_V2, check,
                                lambda: cancel_all_unfreeze_v2(order.owner))

    async def withdraw(self, order: StakeOrder) -> dict[str, Any]:
        """Withdraw the unstaked TRX whose wait is over (withdrawexpireunfreeze); the stored document has
        `withdrawable_sun`."""

        async def check() -> dict[str, Any]:
            resources = await self.reader.resources(order.owner)
            if resources.withdrawable_sun == 0:
                waiting = f"; the next unstake ends at {_release_time(resources.pending[0])}" if resources.pending else ""
                raise FailedPrecondition(
                    f"{order.owner} has no unstaked TRX whose wait is over{waiting}",
                    reason=NOTHING_TO_WITHDRAW,
                    subject="owner_address",
                )
            return {"withdrawable_sun": resources.withdrawable_sun}

        return await self._send(order, wallet_pb2.TRANSACTION_KIND_WITHDRAW_EXPIRE_UNFREEZE, check,
                                lambda: withdraw_expire_unfreeze(order.owner))

    async def delegate(self, order: StakeOrder) -> dict[str, Any]:
        """Delegate the resource of staked TRX to an activated receiver (delegateresource), optionally locked."""

        async def check() -> dict[str, Any]:
            if order.lock:
                await self._check_lock_period(order.lock_period_blocks)
            receiver = await self.reader.account(order.receiver)
            if not receiver.activated:
                raise FailedPrecondition(
                    f"{order.receiver} is not an activated account and cannot receive resources; send it TRX first",
                    reason=RECEIVER_NOT_ACTIVATED,
                    subject="receiver_address",
                )
            resources = await self.reader.resources(order.owner)
            available = resources.delegatable(order.resource)
            if order.amount_sun > available:
                raise FailedPrecondition(
                    f"{order.owner} can delegate the {order.resource} of at most {format_trx(available)} TRX of "
                    f"stake now, less than {format_trx(order.amount_sun)} TRX",
                    reason=DELEGATION_EXCEEDS_AVAILABLE,
                    subject="amount_sun",
                )
            return {}

        return await self._send(
            order, wallet_pb2.TRANSACTION_KIND_DELEGATE_RESOURCE, check,
            lambda: delegate_resource(order.owner, order.receiver, order.amount_sun, order.resource,
                                      lock=order.lock, lock_period=order.lock_period_blocks),
        )

    async def undelegate(self, order: StakeOrder) -> dict[str, Any]:
        """Take delegated resources back (undelegateresource); refused while the delegation is locked."""

        async def check() -> dict[str, Any]:
            resources = await self.reader.resources(order.owner)
            delegated, unlocked = resources.delegated_to(order.receiver, order.resource)
            if order.amount_sun > delegated:
                raise FailedPrecondition(
                    f"{order.owner} delegated the {order.resource} of {format_trx(delegated)} TRX to "
                    f"{order.receiver}, less than the {format_trx(order.amount_sun)} TRX to take back",
                    reason=UNDELEGATION_EXCEEDS_DELEGATED,
                    subject="amount_sun",
                )
            if order.amount_sun > unlocked:
                raise FailedPrecondition(
                    f"of the {format_trx(delegated)} TRX delegated to {order.receiver}, "
                    f"{format_trx(delegated - unlocked)} TRX is locked{_lock_end(resources, order)}; "
                    f"at most {format_trx(unlocked)} TRX can be taken back now",
                    reason=DELEGATION_LOCKED,
                    subject="receiver_address",
                )
            return {}

        return await self._send(
            order, wallet_pb2.TRANSACTION_KIND_UNDELEGATE_RESOURCE, check,
            lambda: undelegate_resource(order.owner, order.receiver, order.amount_sun, order.resource),
        )

    # -- the steps -----------------------------------------------------------------------------------------------

    async def _send(
        self,
        order: StakeOrder,
        kind: int,
        check: Callable[[], Awaitable[dict[str, Any]]],
        contract: Callable[[], protocol.Transaction.Contract],
    ) -> dict[str, Any]:
        """The request's stored transaction, or: check the chain (`check` returns what to record besides the
        order), sign against the intent, store; then broadcast the stored bytes."""
        stored = await self.sender.stored(order.order)
        if stored is None:
            observed = await check()
            intent = wallet_pb2.TransactionIntent(
                kind=kind,
                owner_address=order.owner,
                recipient_address=order.receiver,
                asset=common_pb2.ASSET_TRX,
                amount_base_units=order.amount_sun,
                resource=RESOURCE_NUMBERS.get(order.resource, common_pb2.RESOURCE_UNSPECIFIED),
                lock=order.lock,
                lock_period_blocks=order.lock_period_blocks,
            )
            details = {
                "owner_address": order.owner,
                "receiver_address": order.receiver,
                "resource": order.resource,
                "amount_sun": order.amount_sun,
                "lock": order.lock,
                "lock_period_blocks": order.lock_period_blocks,
                **observed,
            }
            stored = await self.sender.sign_and_store(order.order, contract(), intent, details)
        return await self.sender.broadcast(stored)

    async def _check_lock_period(self, blocks: int) -> None:
        parameters = await self.reader.chain_parameters()
        values = {parameter.key: parameter.value for parameter in parameters.parameters}
        most = values.get("getMaxDelegateLockPeriod") or DEFAULT_MAX_LOCK_PERIOD_BLOCKS
        if blocks > most:
            raise InvalidArgument.field(
                "lock_period_blocks",
                f"must be between 0 (TRON's default of 3 days) and {most} blocks, the chain's maximum "
                f"(getMaxDelegateLockPeriod), got {blocks}",
                reason=LOCK_PERIOD_OUT_OF_RANGE,
            )


def _release_time(unfreeze: common_pb2.PendingUnfreeze) -> str:
    return unfreeze.withdrawable_time.ToJsonString()


def _lock_end(resources: Resources, order: StakeOrder) -> str:
    ends = [
        d.lock_expire_time.ToJsonString() for d in resources.delegations
        if d.receiver_address == order.receiver and d.HasField("lock_expire_time")
    ]
    return f" until {max(ends)}" if ends else ""
