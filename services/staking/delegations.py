"""Delegating and taking back energy from the staking wallet: one transaction at a time, crash-safe.

`DelegationSender` is the one way staking's jobs (the energy planner, the keeper, and later the treasury) lend and
take back energy. Each transaction follows the same steps as usdt-manager's transfers and the payouts:
    1. `sign()` builds raw_data here (DelegateResourceContract / UnDelegateResourceContract) on the newest solidified
       block and has wallet-manager sign it against the intent it states (kind, owner, receiver, resource, amount);
    2. the caller stores the returned `SignedTransaction` (its `document()`) durably, BEFORE anything is sent;
    3. `broadcast()` sends the stored bytes through tron-client, and is called again with the same bytes on every
       retry (DUP_TRANSACTION is success: a node has it);
    4. `receipt()` says whether it is in a block; `can_never_land()` whether it expired without landing, the only
       case where a new transaction may replace it.
A crash anywhere leaves nothing signed (start over) or the stored bytes (broadcast them again), never two
delegations for one purpose.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from lucid.tron.v1 import common_pb2, tron_client_pb2, wallet_pb2
from lucid_tron.chain import build_transaction, delegate_resource, txid, undelegate_resource
from lucid_tron.errors import FailedPrecondition, NotFound
from lucid_tron.peers import TronClientService, WalletService

#: How long a delegate or undelegate transaction stays valid: long enough for a retry to rebroadcast it.
LIFETIME_MS = 120_000
#: How far past the expiration the solidified head must be before a missing transaction counts as never landing
#: (load-balanced nodes answer a few blocks apart; the same margin as usdt-manager's).
EXPIRY_MARGIN_MS = 30_000
TRANSACTION_EXPIRED = "TRANSACTION_EXPIRED"
ENERGY = "ENERGY"

_HEAD = common_pb2.FINALITY_HEAD
_SOLIDIFIED = common_pb2.FINALITY_SOLIDIFIED
_KINDS = {
    True: wallet_pb2.TRANSACTION_KIND_DELEGATE_RESOURCE,
    False: wallet_pb2.TRANSACTION_KIND_UNDELEGATE_RESOURCE,
}


@dataclass(frozen=True)
class SignedTransaction:
    """A signed delegate or undelegate transaction, as it is stored before its first broadcast."""

    txid: str
    raw_data: bytes
    signature: bytes
    expiration_ms: int
    receiver: str
    amount_sun: int

    def document(self) -> dict[str, Any]:
        return {
            "txid": self.txid, "raw_data": self.raw_data, "signature": self.signature,
            "expiration_ms": self.expiration_ms, "receiver": self.receiver, "amount_sun": self.amount_sun,
        }

    @classmethod
    def of(cls, document: dict[str, Any]) -> SignedTransaction:
        return cls(
            document["txid"], document["raw_data"], document["signature"], document["expiration_ms"],
            document["receiver"], document["amount_sun"],
        )


class DelegationSender:
    """Energy delegations from the first address of the wallet `wallet_id`, signed by wallet-manager and broadcast
    through tron-client (see the module docstring for the crash-safe order the caller keeps)."""

    def __init__(self, tron_client: TronClientService, wallet_manager: WalletService, *, wallet_id: str) -> None:
        self._tron_client = tron_client
        self._wallet_manager = wallet_manager
        self.wallet_id = wallet_id
        self._owner = ""
        self._last_timestamp_ms = 0

    async def owner(self) -> str:
        """The staking address: the wallet's first address (read once)."""
        if not self._owner:
            answer = await self._wallet_manager.rpc.GetWallet(wallet_pb2.GetWalletRequest(wallet_id=self.wallet_id))
            self._owner = answer.wallet.first_address
        return self._owner

    async def sign(self, *, delegate: bool, receiver: str, amount_sun: int, reference: str) -> SignedTransaction:
        """A delegation (`delegate`) or undelegation of `amount_sun` of energy stake to/from `receiver`, signed, not
        yet stored nor sent. Unlocked: the planner must be able to take it back at once."""
        owner = await self.owner()
        block = (
            await self._tron_client.rpc.GetNowBlock(tron_client_pb2.GetNowBlockRequest(finality=_SOLIDIFIED))
        ).block
        # Two identical delegations built in the same millisecond would be one txid: keep timestamps apart.
        now_ms = self._last_timestamp_ms = max(int(time.time() * 1000), self._last_timestamp_ms + 1)
        build = delegate_resource if delegate else undelegate_resource
        tx = build_transaction(
            build(owner, receiver, amount_sun, ENERGY),
            ref_block_number=block.number,
            ref_block_id=block.block_id,
            expiration_ms=now_ms + LIFETIME_MS,
            timestamp_ms=now_ms,
        )
        raw_data = tx.raw_data.SerializeToString(deterministic=True)
        expected = txid(raw_data).hex()
        intent = wallet_pb2.TransactionIntent(
            kind=_KINDS[delegate],
            owner_address=owner,
            recipient_address=receiver,
            asset=common_pb2.ASSET_TRX,
            amount_base_units=amount_sun,
            resource=common_pb2.RESOURCE_ENERGY,
        )
        signed = await self._wallet_manager.rpc.SignTransaction(
            wallet_pb2.SignTransactionRequest(
                wallet_id=self.wallet_id, raw_data=raw_data, intent=intent, txid=expected, reference=reference
            )
        )
        return SignedTransaction(expected, raw_data, signed.signature, now_ms + LIFETIME_MS, receiver, amount_sun)

    async def broadcast(self, signed: SignedTransaction) -> None:
        """Send the stored bytes (again). An expired transaction is not an error when it landed; otherwise
        FailedPrecondition TRANSACTION_EXPIRED, and the caller may replace it once `can_never_land`."""
        try:
            await self._tron_client.rpc.BroadcastTransaction(
                tron_client_pb2.BroadcastTransactionRequest(
                    raw_data=signed.raw_data, signatures=[signed.signature], txid=signed.txid
                )
            )
        except FailedPrecondition as refused:
            if refused.reason != TRANSACTION_EXPIRED or await self.receipt(signed.txid) is None:
                raise

    async def receipt(self, txid_hex: str, finality: int = _HEAD) -> common_pb2.TransactionReceipt | None:
        """The transaction's receipt in the `finality` view; None while it is in no block."""
        try:
            answer = await self._tron_client.rpc.GetTransactionInfo(
                tron_client_pb2.GetTransactionInfoRequest(txid=txid_hex, finality=finality)
            )
        except NotFound:
            return None
        return answer.receipt

    async def can_never_land(self, signed: SignedTransaction) -> bool:
        """Whether the solidified chain is past the expiration (with the margin) without the transaction."""
        now = await self._tron_client.rpc.GetNowBlock(tron_client_pb2.GetNowBlockRequest(finality=_SOLIDIFIED))
        if now.block.block_time.ToMilliseconds() < signed.expiration_ms + EXPIRY_MARGIN_MS:
            return False
        return await self.receipt(signed.txid, _SOLIDIFIED) is None

    async def resources(self, address: str) -> common_pb2.AccountResources:
        answer = await self._tron_client.rpc.GetAccountResources(
            tron_client_pb2.GetAccountResourcesRequest(address=address)
        )
        return answer.resources

    async def delegatable_sun(self) -> int:
        """Energy stake the staking address can still lend, in SUN: its own undelegated stake minus the part that
        backs energy it used itself (usage is first set against what others lent it, as java-tron does)."""
        res = await self.resources(await self.owner())
        own = res.staked_for_energy_sun - res.delegated_energy_out_sun
        used_sun = _sun_for_energy(res.energy_used, res) if res.energy_used else 0
        return max(0, own - max(0, used_sun - res.delegated_energy_in_sun))


def _sun_for_energy(energy: int, res: common_pb2.AccountResources) -> int:
    return -(-energy * res.total_energy_weight * 1_000_000 // res.total_energy_limit) if res.total_energy_limit else 0


def stake_for_energy(energy: int, res: common_pb2.AccountResources) -> int:
    """SUN of energy stake that gives at least `energy` units at the network totals in `res`, in whole TRX and at
    least 1 TRX (TRON's minimum delegation). One TRX more than the exact figure absorbs the floor divisions of the
    limit (staked TRX x TotalEnergyLimit / TotalEnergyWeight, each rounded down)."""
    if not res.total_energy_limit:
        raise FailedPrecondition("the chain reports no energy totals", reason="ENERGY_TOTALS_UNKNOWN")
    trx = -(-energy * res.total_energy_weight // res.total_energy_limit) + 1
    return max(trx, 1) * 1_000_000
