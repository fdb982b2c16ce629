"""The chain: genesis, the pending pool, block production, broadcast checks, reorgs, lookups.

State lives in `Ledger` snapshots, one per unsolidified block plus the solidified head, and a pending ledger
(head + the pending transactions, which is what /wallet/ reads see, as on a java-tron full node).

Reorg: `reorg(depth)` replaces the last `depth` blocks (never a solidified one) with as many new empty blocks,
so the head number stays and the replaced block ids change. Transactions of the replaced blocks go back to the
pending pool and land in the next block, at another height (java-tron's fork switch re-queues them), unless
`requeue=False` (or DevnetConfig.reorg_requeue=False), which drops and forgets them (a rebroadcast of the same
bytes is accepted again). Out-of-band credits (`fund`) survive reorgs.

Contracts: USDT, a lookalike TRC20 (USDT's name, symbol and decimals at another address) and a payment
forwarder that moves tokens by calling them (`_forwarder`), all run natively.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from lucid_tron.chain import (
    DecodedTransaction,
    InvalidSignature,
    MalformedTransaction,
    PrivateKey,
    decode_address,
    decode_transaction,
    keccak256,
    protocol,
    recover_address,
    to_base58,
)

from ._blocks import Block, BlockHeader, block_id, merkle_root
from ._config import DevnetConfig
from ._executor import ContractValidateError, Receipt, ResourceInsufficientError, execute
from ._ledger import Ledger
from ._forwarder import Forwarder
from ._trc20 import NativeContract, Trc20Token

__all__ = ["BroadcastResult", "Chain", "ReorgError"]

MAX_EXPIRATION_AHEAD_MS = 24 * 3600 * 1000
TAPOS_WINDOW = 1 << 16  # ref_block_bytes hold the low 16 bits of a block number
MAX_TRANSACTION_BYTES = 500 * 1024
# State is kept this many blocks below the solidified head too, for nodes that lag behind (LaggingView).
MAX_READ_LAG = 32
# Permission ids a devnet account has: 0 owner, 2 the default active permission (same single key).
KNOWN_PERMISSIONS = (0, 2)


class ReorgError(ValueError):
    """A reorg that would touch a solidified block (or has a depth below 1)."""


@dataclass(frozen=True)
class BroadcastResult:
    """java-tron's GrpcAPI.Return for a broadcast: code SUCCESS or an error code, and a message."""

    txid: str
    code: str = "SUCCESS"
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.code == "SUCCESS"


@dataclass
class _Pending:
    tx: protocol.Transaction  # signed, without ret
    decoded: DecodedTransaction
    size: int


class Chain:
    """The in-memory TRON chain of one devnet."""

    def __init__(self, config: DevnetConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.prices = config.prices
        self._clock = clock
        self._witness_key = PrivateKey(config.seed_bytes("witness"))
        self.witness_address = decode_address(self._witness_key.address)
        deployer = decode_address(PrivateKey(config.seed_bytes("usdt-deployer")).address)
        if config.usdt_address is not None:
            token_address = decode_address(config.usdt_address)
        else:
            # java-tron's contract address: 0x41 + keccak256(sha256(deploy raw_data) || owner)[12:].
            token_address = b"\x41" + keccak256(config.seed_bytes("usdt-deploy-tx") + deployer)[12:]
        self.token = Trc20Token(token_address, name="Tether USD", symbol="USDT", decimals=6, origin=deployer,
                                energy_factors=config.usdt_energy_factors)
        impostor = decode_address(PrivateKey(config.seed_bytes("lookalike-deployer")).address)
        self.lookalike = Trc20Token(
            b"\x41" + keccak256(config.seed_bytes("lookalike-deploy-tx") + impostor)[12:],
            name=self.token.name, symbol=self.token.symbol, decimals=self.token.decimals, origin=impostor,
        )
        tokens = {self.token.address: self.token, self.lookalike.address: self.lookalike}
        self.forwarder = Forwarder(
            b"\x41" + keccak256(config.seed_bytes("forwarder-deploy-tx") + deployer)[12:], origin=deployer,
            tokens=tokens,
        )
        self.contracts: dict[bytes, NativeContract] = {**tokens, self.forwarder.address: self.forwarder}

        genesis_ledger = Ledger()
        genesis_time = config.genesis_timestamp_ms
        for contract_address in self.contracts:
            genesis_ledger.create_account(contract_address, genesis_time, is_contract=True)
        for funded in config.funded:
            address = decode_address(funded.address)
            if genesis_ledger.account(address) is None:
                genesis_ledger.create_account(address, genesis_time)
            genesis_ledger.account_mut(address).balance += funded.trx_sun
            if funded.usdt_units:
                self.token.mint(genesis_ledger, address, funded.usdt_units)
        header = BlockHeader(
            number=0,
            timestamp=genesis_time,
            parent_hash=config.seed_bytes("genesis-parent"),
            tx_trie_root=merkle_root([]),
            witness_address=self.witness_address,
            account_state_root=_state_root(genesis_ledger, token_address),
        )
        genesis = Block(header=header, id=block_id(header), witness_signature=b"")
        self.blocks: list[Block] = [genesis]
        self._snapshots: dict[int, Ledger] = {0: genesis_ledger}
        self._pending: list[_Pending] = []
        self._pending_ledger = genesis_ledger.copy()
        self._known: set[bytes] = set()
        self._tx_index: dict[bytes, tuple[int, int]] = {}
        self._recent: dict[int, bytes] = {0: genesis.id}

    # -- time and heads ------------------------------------------------------------------------------------------

    def now_ms(self) -> int:
        """Chain time: the wall clock, never behind the head block (manual mode may run ahead of it)."""
        return max(int(self._clock() * 1000), self.head.timestamp)

    @property
    def genesis(self) -> Block:
        return self.blocks[0]

    @property
    def head(self) -> Block:
        return self.blocks[-1]

    @property
    def solidified_number(self) -> int:
        return max(0, self.head.number - self.config.solidification_lag)

    @property
    def solidified(self) -> Block:
        return self.blocks[self.solidified_number]

    @property
    def chain_id(self) -> int:
        """TRON's chain id: the last 4 bytes of the genesis block id."""
        return int.from_bytes(self.genesis.id[-4:], "big")

    def ledger(self, *, solidified: bool = False) -> Ledger:
        """State as /walletsolidity/ (solidified head) or /wallet/ (head plus pending transactions) reads it."""
        return self._snapshots[self.solidified_number] if solidified else self._pending_ledger

    def snapshot(self, number: int) -> Ledger:
        """The state after block `number` (kept from MAX_READ_LAG blocks below the solidified head upwards)."""
        return self._snapshots[number]

    def period_of(self, number: int) -> int:
        """The maintenance period block `number` belongs to."""
        return number // self.config.maintenance_period_blocks

    @property
    def pending_txids(self) -> list[bytes]:
        return [p.decoded.txid for p in self._pending]

    # -- lookups -------------------------------------------------------------------------------------------------

    def block(self, number: int, *, solidified: bool = False) -> Block | None:
        limit = self.solidified_number if solidified else self.head.number
        return self.blocks[number] if 0 <= number <= limit else None

    def block_by_id(self, value: bytes, *, solidified: bool = False) -> Block | None:
        number = int.from_bytes(value[:8], "big") if len(value) == 32 else -1
        block = self.block(number, solidified=solidified)
        return block if block is not None and block.id == value else None

    def locate(self, txid: bytes, *, solidified: bool = False) -> tuple[Block, int] | None:
        """The block and position of a transaction included in a block (solidified ones only, if asked)."""
        found = self._tx_index.get(txid)
        if found is None:
            return None
        block = self.block(found[0], solidified=solidified)
        return (block, found[1]) if block is not None else None

    def iter_receipts(self) -> Iterator[tuple[Block, int, Receipt]]:
        for block in self.blocks:
            for index, receipt in enumerate(block.receipts):
                yield block, index, receipt

    # -- admission -----------------------------------------------------------------------------------------------

    def broadcast(self, tx: protocol.Transaction) -> BroadcastResult:
        """Check `tx` as java-tron's broadcasttransaction does and add it to the pending pool.

        Order (java-tron's Wallet.broadcastTransaction, then Manager.pushTransaction and processTransaction):
        expiration (TRANSACTION_EXPIRATION_ERROR), signature (SIGERROR), reference block (TAPOS_ERROR), size
        (TOO_BIG_TRANSACTION_ERROR), known txid (DUP_TRANSACTION_ERROR), then execution against the pending state
        (CONTRACT_VALIDATE_ERROR, BANDWITH_ERROR). So an included transaction rebroadcast after its expiry is
        refused as expired, not as a duplicate. Only accepted transactions are remembered.
        """
        raw_bytes = tx.raw_data.SerializeToString(deterministic=True)
        txid = hashlib.sha256(raw_bytes).digest()
        result = _Verdict(txid.hex())
        try:
            decoded = decode_transaction(raw_bytes)
        except MalformedTransaction as error:
            return result.fail("OTHER_ERROR", f"other error : {error}")
        now = self.now_ms()
        if not now < decoded.expiration_ms <= now + MAX_EXPIRATION_AHEAD_MS:
            return result.fail("TRANSACTION_EXPIRATION_ERROR", "transaction expired")
        unsigned = protocol.Transaction(raw_data=tx.raw_data, signature=tx.signature)
        signature_error = self._check_signature(decoded, list(tx.signature))
        if signature_error:
            return result.fail("SIGERROR", f"validate signature error {signature_error}")
        if not self._tapos_ok(decoded):
            return result.fail("TAPOS_ERROR", "Tapos check error")
        size = unsigned.ByteSize()
        if size > MAX_TRANSACTION_BYTES:
            return result.fail("TOO_BIG_TRANSACTION_ERROR", "transaction size is too big")
        if txid in self._known:
            return result.fail("DUP_TRANSACTION_ERROR")
        work = self._pending_ledger.copy()
        try:
            self._execute(work, decoded, size, now, self.head.number + 1)
        except ContractValidateError as error:
            return result.fail("CONTRACT_VALIDATE_ERROR", f"contract validate error : {error}")
        except ResourceInsufficientError:
            return result.fail("BANDWITH_ERROR", "AccountResourceInsufficient error")
        self._pending_ledger = work
        self._pending.append(_Pending(unsigned, decoded, size))
        self._known.add(txid)
        return BroadcastResult(txid=txid.hex())

    def _check_signature(self, decoded: DecodedTransaction, signatures: list[bytes]) -> str:
        """An empty string when the owner signed alone; else java-tron's reason (its wording)."""
        if not signatures:
            return "miss sig or contract"
        if decoded.contract.permission_id not in KNOWN_PERMISSIONS:
            return "permission isn't exit"
        if len(signatures) > 1:
            return f"Signature count is {len(signatures)} more than key counts of permission : 1"
        signature = signatures[0]
        if len(signature) < 65:
            return f"Signature size is {len(signature)}"
        try:
            signer = recover_address(decoded.txid, signature[:65])
        except InvalidSignature as error:
            return str(error)
        if signer != decoded.owner_address:
            return f"{signature.hex()} is signed by {signer} but it is not contained of permission."
        return ""

    def _tapos_ok(self, decoded: DecodedTransaction) -> bool:
        referenced = self._recent.get(int.from_bytes(decoded.ref_block_bytes, "big"))
        return referenced is not None and referenced[8:16] == decoded.ref_block_hash

    def _execute(
        self, ledger: Ledger, decoded: DecodedTransaction, size: int, now: int, block_number: int, *,
        charge_fees: bool = True,
    ) -> Receipt:
        return execute(
            ledger,
            decoded,
            size,
            now,
            prices=self.prices,
            contracts=self.contracts,
            period=self.period_of(block_number),
            unfreeze_delay_ms=int(self.config.unfreeze_delay_s * 1000),
            charge_fees=charge_fees,
        )

    def validate_contract(self, decoded: DecodedTransaction) -> None:
        """Raise ContractValidateError if the contract would not apply to the pending state (nothing changes)."""
        self._execute(self._pending_ledger.copy(), decoded, 0, self.now_ms(), self.head.number + 1, charge_fees=False)

    def reference_block(self) -> Block:
        """The block transactions built here refer to (java-tron's default: the head)."""
        return self.head

    # -- production ----------------------------------------------------------------------------------------------

    def produce_block(self, *, min_timestamp: int = 0, include_pending: bool = True) -> Block:
        """Seal the pending transactions that still apply into the next block and make it the head."""
        parent = self.head
        timestamp = max(int(self._clock() * 1000), parent.timestamp + 1, min_timestamp)
        ledger = self._snapshots[parent.number].copy()
        included: list[tuple[_Pending, Receipt]] = []
        for pending in self._pending if include_pending else []:
            if pending.decoded.expiration_ms <= timestamp:
                self._known.discard(pending.decoded.txid)
                continue
            work = ledger.copy()
            try:
                receipt = self._execute(work, pending.decoded, pending.size, timestamp, parent.number + 1)
            except (ContractValidateError, ResourceInsufficientError):
                self._known.discard(pending.decoded.txid)
                continue
            ledger = work
            included.append((pending, receipt))
        stored = []
        for pending, receipt in included:
            tx = protocol.Transaction()
            tx.CopyFrom(pending.tx)
            tx.ret.add(contractRet=protocol.Transaction.Result.contractResult.Value(receipt.contract_ret))
            stored.append(tx.SerializeToString(deterministic=True))
        header = BlockHeader(
            number=parent.number + 1,
            timestamp=timestamp,
            parent_hash=parent.id,
            tx_trie_root=merkle_root(stored),
            witness_address=self.witness_address,
        )
        block = Block(
            header=header,
            id=block_id(header),
            witness_signature=self._witness_key.sign_digest(hashlib.sha256(header.raw_bytes()).digest()),
            transactions=stored,
            receipts=[receipt for _, receipt in included],
        )
        for index, receipt in enumerate(block.receipts):
            receipt.block_number = block.number
            receipt.block_timestamp = block.timestamp
            self._tx_index[receipt.txid] = (block.number, index)
        self.blocks.append(block)
        self._snapshots[block.number] = ledger
        self._recent[block.number % TAPOS_WINDOW] = block.id
        if include_pending:
            self._pending = []
            self._pending_ledger = ledger.copy()
        for number in [n for n in self._snapshots if n < self.solidified_number - MAX_READ_LAG]:
            del self._snapshots[number]
        return block

    def reorg(self, depth: int, *, requeue: bool | None = None) -> list[bytes]:
        """Replace the last `depth` blocks with new empty ones; return the txids taken out of the chain.

        requeue: put those transactions back in the pending pool (default: DevnetConfig.reorg_requeue).
        """
        if requeue is None:
            requeue = self.config.reorg_requeue
        unsolidified = self.head.number - self.solidified_number
        if not 1 <= depth <= unsolidified:
            raise ReorgError(
                f"reorg depth must be between 1 and {unsolidified} (the unsolidified blocks), got {depth}"
            )
        fork_point = self.head.number - depth
        replaced = self.blocks[fork_point + 1 :]
        del self.blocks[fork_point + 1 :]
        taken_out: list[_Pending] = []
        for block in replaced:
            del self._snapshots[block.number]
            older = block.number - TAPOS_WINDOW
            if older >= 0:
                self._recent[block.number % TAPOS_WINDOW] = self.blocks[older].id
            else:
                self._recent.pop(block.number % TAPOS_WINDOW, None)
            for raw in block.transactions:
                tx = protocol.Transaction.FromString(raw)
                del tx.ret[:]
                decoded = decode_transaction(tx.raw_data.SerializeToString(deterministic=True))
                self._tx_index.pop(decoded.txid, None)
                taken_out.append(_Pending(tx, decoded, tx.ByteSize()))
        waiting = self._pending
        self._pending = []
        for old in replaced:
            self.produce_block(min_timestamp=old.timestamp + 1, include_pending=False)
        if not requeue:
            for pending in taken_out:
                self._known.discard(pending.decoded.txid)
            taken_out_again: list[_Pending] = []
        else:
            taken_out_again = taken_out
        self._readmit(taken_out_again + waiting)
        return [pending.decoded.txid for pending in taken_out]

    def _readmit(self, candidates: list[_Pending]) -> None:
        """Rebuild the pending pool on the current head; what no longer applies is dropped and forgotten."""
        self._pending = []
        self._pending_ledger = self._snapshots[self.head.number].copy()
        now = self.now_ms()
        for pending in candidates:
            work = self._pending_ledger.copy()
            try:
                if pending.decoded.expiration_ms <= now:
                    raise ContractValidateError("expired")
                self._execute(work, pending.decoded, pending.size, now, self.head.number + 1)
            except (ContractValidateError, ResourceInsufficientError):
                self._known.discard(pending.decoded.txid)
                continue
            self._pending_ledger = work
            self._pending.append(pending)

    # -- out-of-band ---------------------------------------------------------------------------------------------

    def fund(self, address: bytes, trx_sun: int = 0, usdt_units: int = 0, lookalike_units: int = 0) -> None:
        """Credit TRX, USDT and lookalike tokens outside any transaction, in every state devnet keeps (so a reorg
        keeps it too)."""
        now = self.now_ms()
        for ledger in [*self._snapshots.values(), self._pending_ledger]:
            if ledger.account(address) is None:
                ledger.create_account(address, now)
            if trx_sun:
                ledger.account_mut(address).balance += trx_sun
            if usdt_units:
                self.token.mint(ledger, address, usdt_units)
            if lookalike_units:
                self.lookalike.mint(ledger, address, lookalike_units)

    def usdt_address_base58(self) -> str:
        return to_base58(self.token.address)


class _Verdict:
    def __init__(self, txid: str) -> None:
        self.txid = txid

    def fail(self, code: str, message: str = "") -> BroadcastResult:
        return BroadcastResult(txid=self.txid, code=code, message=message)


def _state_root(ledger: Ledger, token: bytes) -> bytes:
    """A digest of the genesis allocations, so that different funding gives a different genesis block id."""
    digest = hashlib.sha256(token)
    for address in sorted(ledger.accounts):
        digest.update(address + ledger.accounts[address].balance.to_bytes(16, "big"))
        digest.update(ledger.token_balance(token, address).to_bytes(32, "big"))
    return digest.digest()
