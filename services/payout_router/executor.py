"""The payout executor: signs approved payouts, broadcasts them, and follows each to a solidified receipt, exactly once.

One executor works at a time across replicas (the lease "payout-executor"), and every write it makes is fenced by
the lease's token, so a paused former holder cannot write. Each round it takes the payouts with work, oldest first:

- APPROVED or HELD: if the fault breaker admits it, build the transfer here (TRX or the USDT contract's transfer),
  have wallet-manager sign it against its intent, and store the signed bytes (SIGNED) before anything is broadcast;
  otherwise HELD.
- SIGNED or BROADCAST: a solidified receipt decides: SUCCESS with the expected transfer -> CONFIRMED, anything else
  -> FAILED. Without one, the same stored bytes are broadcast again until the transaction expires (DUP_TRANSACTION
  counts as sent). After its expiration a new attempt is signed only once the chain proves the old one can no
  longer land: a solidified block stamped after the expiration exists, and no block from the reference block up to
  it holds the txid. Until then the payout waits: never a second transaction that could land beside the first.
  A payout an operator gave up (FailPayout: `failed_by`) is not broadcast again, and becomes FAILED instead of
  being re-signed once that proof holds.

A crash anywhere leaves a state the next round continues from: unsigned (nothing left the process), signed and
stored (rebroadcast the same bytes), or broadcast (follow the receipt). tron-client or wallet-manager down: the
payout waits and the round goes on with the others.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lucid.tron.v1 import common_pb2, tron_client_pb2, wallet_pb2
from lucid_tron.chain import (
    AbiError,
    build_transaction,
    decode_transfer_log,
    protocol,
    transfer_contract,
    trc20_transfer,
    txid,
)
from lucid_tron.errors import FailedPrecondition, NotFound, Unavailable
from lucid_tron.storage import Fence, LeasedJob, Leases, step_each, utc_now

from . import breaker as fault_breaker
from . import states
from .limits import Policy
from .store import PayoutRouterStore

if TYPE_CHECKING:
    from lucid_tron.peers import TronClientService, WalletService

LEASE = "payout-executor"
#: A transaction accepted by a node is sent again at most this often while it waits for a receipt.
REBROADCAST_S = 5.0
ROUND_SIZE = 100

_log = logging.getLogger("lucid_tron.services.payout_router.executor")


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


class PayoutExecutor:
    """Executes payouts from the wallet `payout_wallet_id` (its first address pays) while holding the lease."""

    def __init__(
        self,
        store: PayoutRouterStore,
        *,
        tron_client: TronClientService,
        wallet_manager: WalletService,
        leases: Callable[[], Leases],
        policy: Policy,
        payout_wallet_id: str,
        usdt_contract: str,
        fee_limit_sun: int,
        expiration_s: float,
        interval_s: float,
        ready: asyncio.Event | None = None,
    ) -> None:
        self._store = store
        self._tron = tron_client
        self._wallet = wallet_manager
        # Woken when a payout of this process becomes APPROVED: the next round starts at once, not after interval_s.
        self._job = LeasedJob(LEASE, self._round, leases=leases, interval_s=interval_s, ready=self._configured,
                              wake=ready)
        # The lease of the round under way, which every write of the round is fenced by.
        self._fence: Fence | None = None
        self._policy = policy
        self._wallet_id = payout_wallet_id
        self._usdt = usdt_contract
        self._fee_limit_sun = fee_limit_sun
        self._expiration_ms = int(expiration_s * 1000)
        self._from_address = ""
        self._warned_unset = False
        # Only to pace rebroadcasts and to count a refused broadcast once: losing them to a restart is harmless.
        self._last_broadcast: dict[str, float] = {}
        self._refusals_counted: set[str] = set()
        # How far the proof that an attempt is lost has scanned: txid -> next block to read.
        self._scanned: dict[str, int] = {}

    async def run(self) -> None:
        """Rounds until cancelled, every `interval_s` or as soon as `ready` is set (`LeasedJob`: a failed round is
        logged and the next one tries again; cancelled, the lease is released so a standby takes over at once)."""
        await self._job.run()

    async def run_once(self) -> int:
        """One round: take or renew the lease, then move every payout with work one step or more; how many payouts
        were looked at (0 without the lease)."""
        return await self._job.run_once()

    def _configured(self) -> bool:
        if not self._wallet_id and not self._warned_unset:
            _log.warning("no payout wallet is configured (PAYOUT_WALLET_ID): payouts wait unsigned")
            self._warned_unset = True
        return bool(self._wallet_id)

    async def _round(self, fence: Fence) -> int:
        self._fence = fence
        payouts = await self._store.actionable(ROUND_SIZE)
        return await step_each(payouts, self._step, what="payout", log=_log)

    async def _step(self, payout: dict[str, Any]) -> None:
        if payout["state"] in states.TO_SIGN:
            payout = await self._sign(payout)
            if payout["state"] not in states.IN_FLIGHT:
                return
        await self._follow(payout)

    # -- signing -----------------------------------------------------------------------------------------------------

    async def _sign(self, payout: dict[str, Any]) -> dict[str, Any]:
        now = utc_now()
        current = await self._store.breaker()
        admitted = fault_breaker.admit(current, self._policy.breaker, now)
        if admitted is None:
            transition = states.hold(payout, f"the breaker is {current['state']}: {current['reason']}")
            return payout if transition is None else await self._store.apply(payout, transition, lease=self._fence)
        owner = await self._payer()
        head = await self._now_block(common_pb2.FINALITY_HEAD)
        # The reference block (TaPoS) is the solidified head: a reorganisation cannot take it away, so a fork switch
        # never turns a stored transaction into a TAPOS_ERROR. Its life is counted from the head's time.
        reference = await self._now_block(common_pb2.FINALITY_SOLIDIFIED)
        # A node behind the others (load-balanced reads) can answer an older head than the solidified one, down to
        # a genesis block without a time: the newer of the two counts, and without any the payout waits.
        block_ms = max(_ms(head.block_time.ToDatetime(UTC)), _ms(reference.block_time.ToDatetime(UTC)))
        if block_ms <= 0:
            raise Unavailable("tron-client answered blocks without a time (a node at genesis); signing waits")
        usdt = payout["asset"] == "USDT"
        contract = (trc20_transfer(owner, self._usdt, payout["recipient"], payout["amount"]) if usdt
                    else transfer_contract(owner, payout["recipient"], payout["amount"]))
        fee_limit = self._fee_limit_sun if usdt else 0
        transaction = build_transaction(
            contract,
            ref_block_number=reference.number,
            ref_block_id=reference.block_id,
            expiration_ms=block_ms + self._expiration_ms,
            timestamp_ms=block_ms,
            fee_limit_sun=fee_limit,
        )
        raw = transaction.raw_data.SerializeToString(deterministic=True)
        expected_txid = txid(raw).hex()
        number = len(payout["attempts"]) + 1
        signature = await self._wallet.rpc.SignTransaction(
            wallet_pb2.SignTransactionRequest(
                wallet_id=self._wallet_id,
                raw_data=raw,
                intent=wallet_pb2.TransactionIntent(
                    kind=(wallet_pb2.TRANSACTION_KIND_TRC20_TRANSFER if usdt
                          else wallet_pb2.TRANSACTION_KIND_TRX_TRANSFER),
                    owner_address=owner,
                    recipient_address=payout["recipient"],
                    asset=common_pb2.ASSET_USDT if usdt else common_pb2.ASSET_TRX,
                    amount_base_units=payout["amount"],
                    fee_limit_sun=fee_limit,
                ),
                txid=expected_txid,
                reference=f"payout:{payout['_id']}:{number}",
            )
        )
        signed = protocol.Transaction(raw_data=transaction.raw_data, signature=[signature.signature])
        attempt = {
            "number": number,
            "txid": expected_txid,
            "state": states.ATTEMPT_SIGNED,
            "expiration": _from_ms(block_ms + self._expiration_ms),
            "ref_block_number": reference.number,
            "signed_transaction": signed.SerializeToString(deterministic=True),
            "block_number": 0,
            "fee_sun": 0,
            "result": "",
            "result_message": "",
            "created_at": now,
        }
        return await self._store.apply(
            payout, states.sign(payout, attempt, owner), lease=self._fence,
            breaker=admitted if fault_breaker.changed(current, admitted) else None,
        )

    async def _now_block(self, finality: int) -> Any:
        return (await self._tron.rpc.GetNowBlock(tron_client_pb2.GetNowBlockRequest(finality=finality))).block

    async def _payer(self) -> str:
        if not self._from_address:
            wallet = await self._wallet.rpc.GetWallet(wallet_pb2.GetWalletRequest(wallet_id=self._wallet_id))
            self._from_address = wallet.wallet.first_address
        return self._from_address

    # -- following -------------------------------------------------------------------------------------------------

    async def _follow(self, payout: dict[str, Any]) -> None:
        attempt = states.last_attempt(payout)
        try:
            info = await self._tron.rpc.GetTransactionInfo(
                tron_client_pb2.GetTransactionInfoRequest(txid=attempt["txid"], finality=common_pb2.FINALITY_SOLIDIFIED)
            )
        except NotFound:
            info = None
        if info is not None:
            await self._settle(payout, info.receipt)
            return
        head = await self._now_block(common_pb2.FINALITY_HEAD)
        expiration = attempt["expiration"].replace(tzinfo=UTC)
        if head.block_time.ToDatetime(UTC) <= expiration and time.time() < expiration.timestamp():
            if not payout["failed_by"]:  # an operator gave it up: the stored bytes are not sent again
                await self._broadcast(payout, attempt)
            return
        proof = await self._lost(attempt, expiration)
        if proof is None:
            return
        self._scanned.pop(attempt["txid"], None)
        if payout["failed_by"]:
            await self._store.apply(payout, states.lost_after_failure_decision(payout, proof), lease=self._fence)
            return
        breaker = None
        if attempt["state"] == states.ATTEMPT_BROADCAST:
            # Accepted by a node but never included: a fault of the way out, counted by the breaker.
            breaker = fault_breaker.failed(await self._store.breaker(), self._policy.breaker, utc_now(), proof)
        await self._store.apply(payout, states.expire_attempt(payout, proof), lease=self._fence, breaker=breaker)

    async def _broadcast(self, payout: dict[str, Any], attempt: Mapping[str, Any]) -> None:
        if payout["state"] == states.BROADCAST and (
            time.monotonic() - self._last_broadcast.get(attempt["txid"], 0.0) < REBROADCAST_S
        ):
            return
        signed = protocol.Transaction.FromString(attempt["signed_transaction"])
        try:
            await self._tron.rpc.BroadcastTransaction(
                tron_client_pb2.BroadcastTransactionRequest(
                    raw_data=signed.raw_data.SerializeToString(deterministic=True),
                    signatures=list(signed.signature),
                    txid=attempt["txid"],
                )
            )
        except FailedPrecondition as refusal:
            # Expired, or refused by the node (balance, reference block): the bytes stay; they are sent again until
            # they expire, and the proof of loss decides after that. Counted by the breaker once per attempt.
            _log.warning("broadcast of payout %s refused: %s", payout["_id"], refusal.message)
            if attempt["txid"] not in self._refusals_counted and refusal.reason != "TRANSACTION_EXPIRED":
                self._refusals_counted.add(attempt["txid"])
                breaker = fault_breaker.failed(await self._store.breaker(), self._policy.breaker, utc_now(),
                                               refusal.message)
                await self._store.set_breaker(breaker, lease=self._fence)
            return
        self._last_broadcast[attempt["txid"]] = time.monotonic()
        transition = states.broadcast(payout)
        if transition is not None:
            await self._store.apply(payout, transition, lease=self._fence)

    async def _settle(self, payout: dict[str, Any], receipt: Any) -> None:
        """A solidified receipt: CONFIRMED only with SUCCESS and the expected transfer, FAILED otherwise."""
        result = common_pb2.ExecutionResult.Name(receipt.result)
        why = self._shortfall(payout, receipt)
        current = await self._store.breaker()
        if why is None:
            transition = states.confirm(payout, receipt.block_number, receipt.fee_sun, result)
            breaker = fault_breaker.succeeded(current)
        else:
            transition = states.fail(payout, receipt.block_number, receipt.fee_sun, result, why)
            breaker = fault_breaker.failed(current, self._policy.breaker, utc_now(), why)
        self._last_broadcast.pop(payout["txid"], None)
        await self._store.apply(payout, transition, lease=self._fence,
                                breaker=breaker if fault_breaker.changed(current, breaker) else None)

    def _shortfall(self, payout: Mapping[str, Any], receipt: Any) -> str | None:
        """Why the receipt does not prove the payout; None when it does. USDT's transfer returns false on mainnet
        although it succeeded, so success is the receipt plus the contract's Transfer log, never the return value."""
        if receipt.result != common_pb2.EXECUTION_RESULT_SUCCESS:
            return f"the transaction failed on chain: {receipt.result_code or 'no result'} {receipt.result_message}"
        if payout["asset"] != "USDT":
            return None
        for log in receipt.logs:
            if log.contract_address != self._usdt:
                continue
            try:
                sender, to, amount = decode_transfer_log(list(log.topics), log.data)
            except AbiError:
                continue
            if (sender, to, amount) == (payout["from_address"], payout["recipient"], payout["amount"]):
                return None
        return "the receipt succeeded but holds no USDT Transfer log to the recipient for the amount"

    async def _lost(self, attempt: Mapping[str, Any], expiration: datetime) -> str | None:
        """The proof that an expired attempt can never land, in words, or None while the chain does not prove it.

        A transaction lands only in a block stamped at or before its expiration. So once a solidified block is
        stamped after it, every block that could hold the transaction is final; if none of them, from the reference
        block on, holds the txid, it never will."""
        solid = await self._now_block(common_pb2.FINALITY_SOLIDIFIED)
        if solid.block_time.ToDatetime(UTC) <= expiration:
            return None
        number = self._scanned.get(attempt["txid"], attempt["ref_block_number"] + 1)
        while number <= solid.number:
            try:
                block = await self._tron.rpc.GetBlock(tron_client_pb2.GetBlockRequest(block_number=number))
            except NotFound:
                return None  # a node behind the others (load-balanced reads): read again next round
            if attempt["txid"] in block.txids:
                return None  # included: its receipt will follow
            if block.header.block_time.ToDatetime(UTC) > expiration:
                return (f"attempt {attempt['number']} ({attempt['txid']}) expired at {expiration.isoformat()} and is "
                        f"in no block up to solidified block {number}, stamped after it")
            number += 1
            self._scanned[attempt["txid"]] = number
        return None
