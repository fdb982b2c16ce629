"""Address poisoning, as it happens to TRON merchants: transfers from an address that looks like a counterparty.

An attacker makes an address whose base58 form shares the first and last characters of an address the victim
deals with, and makes it show up in the victim's history, hoping the victim copies it from there next time:
- a zero-value USDT `transferFrom(lookalike, victim, 0)`, sent by anyone (USDT lets a zero transferFrom through
  without an allowance), so the real USDT contract logs a Transfer from the lookalike;
- a dust transfer of real USDT, signed by the lookalike's key;
- a transfer of the lookalike token (USDT's name, symbol and decimals at another contract) from the lookalike.

The lookalike's key is found by trying keys derived from the devnet seed, so the same devnet and counterparty
give the same lookalike. Each character to match multiplies the tries by 58: `prefix` counts the leading "T".
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass

from lucid_tron.chain import (
    PrivateKey,
    build_transaction,
    decode_address,
    encode_call,
    sign_transaction,
    to_base58,
    trigger_smart_contract,
)

from ._chain import Chain

__all__ = ["MAX_MATCHED_CHARACTERS", "Poisoning", "PoisoningError", "lookalike_key", "poison"]

# Characters matched beyond the leading "T": 3 means about 58**3 = 195,112 keys to try (seconds of CPU).
MAX_MATCHED_CHARACTERS = 3
FEE_LIMIT_SUN = 50_000_000
GAS_MONEY_SUN = 100_000_000
EXPIRATION_MS = 60_000


class PoisoningError(ValueError):
    """A poisoning request devnet cannot carry out (bad lengths, or a transfer the chain refused)."""


@dataclass(frozen=True)
class Poisoning:
    """The lookalike address used and the poisoning transactions, pending until the next block."""

    lookalike: str
    txids: tuple[str, ...]


def lookalike_key(chain: Chain, counterparty: str, prefix: int, suffix: int) -> PrivateKey:
    """The first seed-derived key whose address shares `counterparty`'s first `prefix` and last `suffix` characters."""
    if prefix < 1 or suffix < 1 or prefix - 1 + suffix > MAX_MATCHED_CHARACTERS:
        raise PoisoningError(f"prefix and suffix must be >= 1, matching at most {MAX_MATCHED_CHARACTERS} characters "
                             "beyond the leading T")
    head, tail = counterparty[:prefix], counterparty[-suffix:]
    root = chain.config.seed_bytes(f"poisoning/{counterparty}")
    for attempt in itertools.count():
        key = PrivateKey(hashlib.sha256(root + attempt.to_bytes(8, "big")).digest())
        address = key.address
        if address.startswith(head) and address.endswith(tail) and address != counterparty:
            return key


def poison(
    chain: Chain, victim: bytes, key: PrivateKey, *, zero_value: bool = True, dust_units: int = 1, fake_units: int = 0
) -> Poisoning:
    """Put poisoning transfers to `victim` from the lookalike address of `key` (see `lookalike_key`) into the
    pending pool: a zero-value USDT transferFrom, `dust_units` of USDT, `fake_units` of the lookalike token."""
    if min(dust_units, fake_units) < 0:
        raise PoisoningError("dust_units and fake_units must be >= 0")
    if not (zero_value or dust_units or fake_units):
        raise PoisoningError("nothing to send: zero_value is false and dust_units and fake_units are 0")
    lookalike = key.address
    victim_b58 = to_base58(victim)
    usdt, fake = to_base58(chain.token.address), to_base58(chain.lookalike.address)
    calls: list[tuple[PrivateKey, str, bytes]] = []
    if zero_value:
        poisoner = PrivateKey(chain.config.seed_bytes("poisoner"))
        chain.fund(decode_address(poisoner.address), trx_sun=GAS_MONEY_SUN)
        calls.append((poisoner, usdt, encode_call("transferFrom(address,address,uint256)", lookalike, victim_b58, 0)))
    if dust_units or fake_units:
        chain.fund(decode_address(lookalike), trx_sun=GAS_MONEY_SUN, usdt_units=dust_units,
                   lookalike_units=fake_units)
    if dust_units:
        calls.append((key, usdt, encode_call("transfer(address,uint256)", victim_b58, dust_units)))
    if fake_units:
        calls.append((key, fake, encode_call("transfer(address,uint256)", victim_b58, fake_units)))
    txids = []
    for signer, contract, data in calls:
        reference, now = chain.reference_block(), chain.now_ms()
        tx = build_transaction(
            trigger_smart_contract(signer.address, contract, data),
            ref_block_number=reference.number, ref_block_id=reference.id,
            expiration_ms=now + EXPIRATION_MS, timestamp_ms=now, fee_limit_sun=FEE_LIMIT_SUN,
        )
        result = chain.broadcast(sign_transaction(tx, signer))
        if not result.ok:
            raise PoisoningError(f"the chain refused a poisoning transfer: {result.code} {result.message}")
        txids.append(result.txid)
    return Poisoning(lookalike=lookalike, txids=tuple(txids))

