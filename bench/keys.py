"""Key custody costs, in one process: TRON addresses derived by lucid_tron.keys against bip_utils (an independent
BIP-32 implementation, a test dependency) doing the same in the same run, and what opening the vault and sealing a
record cost.

    python -m bench.keys                 # ~30 s: the table
    python -m bench.keys --json out.json # the table, and every number (each round) as JSON; '-' for JSON only

Rows (each measured `--rounds` times for `--duration` s, interleaved; the median, with the spread of the rounds):
  - bip_utils, full path: `Bip32Slip10Secp256k1.DerivePath("44'/195'/0'/0/i")` from the root for every address, then
    its public key (coincurve) and address (lucid_tron.chain): what a wallet built on the common library without a
    cache does. **The baseline.**
  - bip_utils, account node kept: the same library stepping from a node at m/44'/195'/0'/0 kept by the caller.
  - lucid_tron.keys, full path: lucid_tron.keys' own derivation (the node type under HdSecret) walking all five levels
    from the root for every address, i.e. HdSecret without its account cache: the derivation alone against bip_utils'.
  - HdSecret.address: lucid_tron.keys, which keeps that node per account and returns a checked PrivateKey.
  - HdSecret.from_mnemonic + address: a wallet opened from its phrase (PBKDF2, 2048 rounds of HMAC-SHA512) and one
    address, as when nothing is cached.
  - scrypt (vault open): the key derivation `Vault.open` pays once per start, at the default cost.
  - seal / unseal: AES-256-GCM of a 64-byte secret with its record's associated data.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from itertools import count
from typing import Any

import coincurve
from bip_utils import Bip32Slip10Secp256k1
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from mnemonic import Mnemonic

from bench.report import publish
from lucid_tron.chain import address_from_public_key
from lucid_tron.keys import DEFAULT_SCRYPT, HdSecret, Vault, new_mnemonic
from lucid_tron.keys._hd import ExtendedPrivateKey

__all__ = ["bench_keys", "main", "table"]

BASELINE = "bip_utils, full path (baseline)"
#: Rows that derive an address, as the baseline does: only these have a ratio to it.
ADDRESS_ROWS = (
    BASELINE,
    "bip_utils, account node kept",
    "lucid_tron.keys, full path",
    "HdSecret.address",
    "HdSecret.from_mnemonic + address",
)
_HARDENED = 0x80000000
_ACCOUNT_PATH = [44 | _HARDENED, 195 | _HARDENED, 0 | _HARDENED, 0]


def _address(secret: bytes) -> str:
    return address_from_public_key(coincurve.PublicKey.from_secret(secret).format(compressed=False))


def _vault_key(salt: int) -> bytes:
    kdf = Scrypt(salt=salt.to_bytes(16, "big"), length=32, n=DEFAULT_SCRYPT.n, r=DEFAULT_SCRYPT.r, p=DEFAULT_SCRYPT.p)
    return kdf.derive(b"a master secret of 32 bytes.....")


def _operations(phrase: str) -> dict[str, Callable[[int], object]]:
    """Each row's operation, given a counter (an address index), from the same mnemonic."""
    seed = Mnemonic.to_seed(phrase)
    root = Bip32Slip10Secp256k1.FromSeed(seed)
    account_node = root.DerivePath("44'/195'/0'/0")
    own_root = ExtendedPrivateKey.from_seed(seed)
    wallet = HdSecret.from_mnemonic(phrase)
    vault = Vault({"bench": AESGCM(os.urandom(32))}, "bench")
    sealed = vault.seal(b"wallet:bench", os.urandom(64))
    return {
        BASELINE: lambda i: _address(root.DerivePath(f"44'/195'/0'/0/{i}").PrivateKey().Raw().ToBytes()),
        "bip_utils, account node kept": lambda i: _address(account_node.ChildKey(i).PrivateKey().Raw().ToBytes()),
        "lucid_tron.keys, full path": lambda i: _address(own_root.path([*_ACCOUNT_PATH, i]).secret),
        "HdSecret.address": lambda i: wallet.address(0, i),
        "HdSecret.from_mnemonic + address": lambda i: HdSecret.from_mnemonic(phrase).address(0, i),
        "scrypt (vault open)": _vault_key,
        "seal": lambda i: vault.seal(b"wallet:bench", b"x" * 64),
        "unseal": lambda i: vault.unseal(b"wallet:bench", sealed),
    }


def _measure(operation: Callable[[int], object], indexes: count[int], duration_s: float) -> dict[str, float]:
    """Calls of `operation` for `duration_s` (at least one): operations per second."""
    done = 0
    started = time.perf_counter()
    deadline = started + duration_s
    while True:
        operation(next(indexes))
        done += 1
        now = time.perf_counter()
        if now >= deadline:
            return {"ops": done, "seconds": now - started, "per_s": done / (now - started)}


def bench_keys(rounds: int, duration_s: float) -> dict[str, Any]:
    operations = _operations(new_mnemonic())
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in operations}
    for round_number in range(rounds):
        print(f"bench keys: round {round_number + 1} of {rounds}", file=sys.stderr, flush=True)
        for name, operation in operations.items():
            # A fresh range of indexes per measurement, so no row reads another's cache.
            samples[name].append(_measure(operation, count(round_number * 10_000_000), duration_s))
    baseline = [sample["per_s"] for sample in samples[BASELINE]]
    rows = []
    for name, measured in samples.items():
        per_s = [sample["per_s"] for sample in measured]
        ratios = [value / base for value, base in zip(per_s, baseline, strict=True)] if name in ADDRESS_ROWS else []
        rows.append(
            {
                "row": name,
                "per_s": statistics.median(per_s),
                "us_per_op": 1e6 / statistics.median(per_s),
                "vs_baseline": statistics.median(ratios) if ratios else None,
                "vs_baseline_min": min(ratios, default=None),
                "vs_baseline_max": max(ratios, default=None),
                "rounds": measured,
            }
        )
    return {"settings": {"rounds": rounds, "duration_s": duration_s, "scrypt": vars(DEFAULT_SCRYPT)}, "rows": rows}


def table(results: dict[str, Any]) -> str:
    lines = [["row", "ops/s", "us/op", "vs baseline"]]
    for row in results["rows"]:
        spread = (
            "-"
            if row["vs_baseline"] is None
            else f"{row['vs_baseline']:.2f} ({row['vs_baseline_min']:.2f}..{row['vs_baseline_max']:.2f})"
        )
        lines.append([row["row"], f"{row['per_s']:,.0f}", f"{row['us_per_op']:,.1f}", spread])
    widths = [max(len(line[column]) for line in lines) for column in range(len(lines[0]))]
    return "\n".join(
        "  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(line)).rstrip()
        for line in lines
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.keys", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=1.0, help="seconds of one measurement (default 1)")
    parser.add_argument("--rounds", type=int, default=3, help="repetitions of every measurement (default 3)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH ('-': stdout only)")
    args = parser.parse_args(argv)
    results = bench_keys(args.rounds, args.duration)
    publish(results, [table(results)], args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
