"""EnergyKeeper: keeps the payout wallet's energy above a floor by delegation from the staking wallet.

Each round (one worker under the lease "energy-keeper"), for each kept address (KEEPER_ADDRESSES, else
PAYOUT_ADDRESS): a delegation of an earlier round that is not in a block yet is broadcast again (or, once it can
never land, marked EXPIRED); otherwise, when the address's available energy is below KEEPER_ENERGY_FLOOR, the
staking wallet lends the stake that brings it back to the floor. Every delegation is stored (signed, before its
broadcast) in keeper_delegations, which is the record of what the keeper lent. These delegations are long-lived:
energy plans count them as the sender's own energy (ENERGY_SOURCE_OWN).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from lucid.tron.v1 import common_pb2, tron_client_pb2
from lucid_tron.chain import is_address
from lucid_tron.config import Settings, setting
from lucid_tron.context import principal
from lucid_tron.peers import TronClientService
from lucid_tron.storage import utc_now

from .delegations import DelegationSender, SignedTransaction, stake_for_energy
from .store import StakingStore

SENT, LANDED, FAILED, EXPIRED = "SENT", "LANDED", "FAILED", "EXPIRED"

_log = logging.getLogger("lucid_tron.staking.keeper")


def _addresses(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


@dataclass(frozen=True, kw_only=True)
class KeeperSettings(Settings):
    """KEEPER_ADDRESSES: comma-separated base58 addresses whose energy the keeper keeps up (default: PAYOUT_ADDRESS,
    the payout wallet's first address). KEEPER_ENERGY_FLOOR: the energy each keeps available (0: the keeper is off).
    KEEPER_INTERVAL_S: the keeper's pace."""

    keeper_addresses: str = setting(
        "KEEPER_ADDRESSES", default="",
        valid_if=(lambda text: all(map(is_address, _addresses(text))), "comma-separated base58 TRON addresses"),
    )
    payout_address: str = setting(
        "PAYOUT_ADDRESS", default="", valid_if=(lambda text: not text or is_address(text), "a base58 TRON address")
    )
    keeper_energy_floor: int = setting("KEEPER_ENERGY_FLOOR", default=0, ge=0, le=10**12)
    keeper_interval_s: float = setting("KEEPER_INTERVAL_S", default=60.0, ge=0.05, le=3600)

    def kept_addresses(self) -> tuple[str, ...]:
        return _addresses(self.keeper_addresses) or _addresses(self.payout_address)


class EnergyKeeper:
    """Tops up `addresses` to `floor` energy from the staking wallet's `DelegationSender`."""

    def __init__(
        self,
        store: StakingStore,
        *,
        tron_client: TronClientService,
        delegations: DelegationSender,
        addresses: tuple[str, ...],
        floor: int,
    ) -> None:
        self.store = store
        self._tron_client = tron_client
        self._delegations = delegations
        self.addresses = addresses
        self.floor = floor
        self._auditing = asyncio.Lock()

    @property
    def enabled(self) -> bool:
        return bool(self.addresses and self.floor and self._delegations.wallet_id)

    async def keep(self) -> int:
        """One round over every kept address; how many addresses were looked at."""
        if not self.enabled:
            return 0
        for address in self.addresses:
            pending = await self.store.pending_keeper_delegation(address)
            if pending is not None:
                await self._follow(SignedTransaction.of(pending))
            else:
                await self._top_up(address)
        return len(self.addresses)

    async def _follow(self, signed: SignedTransaction) -> None:
        receipt = await self._delegations.receipt(signed.txid)
        if receipt is not None:
            state = LANDED if receipt.result == common_pb2.EXECUTION_RESULT_SUCCESS else FAILED
            await self.store.set_keeper_delegation(
                signed.txid, state=state, block_number=receipt.block_number, fee_sun=receipt.fee_sun
            )
        elif await self._delegations.can_never_land(signed):
            await self.store.set_keeper_delegation(signed.txid, state=EXPIRED)
        else:
            await self._delegations.broadcast(signed)

    async def _top_up(self, address: str) -> None:
        account = await self._tron_client.rpc.GetAccount(
            tron_client_pb2.GetAccountRequest(address=address, finality=common_pb2.FINALITY_HEAD)
        )
        if not account.account.activated:
            _log.warning("%s is not activated: it cannot receive delegated energy until it receives TRX", address)
            return
        res = await self._delegations.resources(address)
        available = max(res.energy_limit - res.energy_used, 0)
        if available >= self.floor:
            return
        # Usage beyond the limit (left by energy lent before and taken back) is paid first: lend for it too.
        missing = self.floor - (res.energy_limit - res.energy_used)
        amount = stake_for_energy(missing, res)
        lendable = await self._delegations.delegatable_sun()
        if amount > lendable:
            _log.warning("%s has %d energy, below the floor of %d; the staking wallet can lend only %d SUN, not %d",
                         address, available, self.floor, lendable, amount)
            return
        signed = await self._delegations.sign(delegate=True, receiver=address, amount_sun=amount,
                                              reference=f"energy-keeper:{address}")
        await self.store.insert_keeper_delegation(
            {"_id": signed.txid, **signed.document(), "energy": missing, "energy_before": available, "state": SENT,
             "created_at": utc_now()}
        )
        async with self._auditing:
            await self.store.audit_log.append(
                principal() or "", "keeper.delegate",
                {"txid": signed.txid, "receiver": address, "amount_sun": amount, "energy": missing},
            )
        await self._delegations.broadcast(signed)
