"""A master-key rotation SIGKILLed at random points, in a real process against a real Mongo-wire server: after every
kill each record is readable with the old or the new secret, running the rotation again (in the test's process)
completes it, and then only the new secret opens. Each round rotates to the next secret, so rounds chain as successive rotations would."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from integration.keys.keys_records import (
    FAST_KDF,
    RECORDS as RECORDS_TO_ROTATE,
    master_secret,
    seal_wallets,
    sealing_key_ids,
    unsealed_wallets,
    wallet_secret,
)
from lucid_tron.keys import MasterSecret, RotationUnfinished, Vault, WrongMasterSecret, rotate_master_key

Db = AsyncDatabase[dict[str, Any]]
WORKER = Path(__file__).with_name("keys_rotation_worker.py")
TESTS = Path(__file__).resolve().parents[2]
RECORDS = 200
ROUNDS = 9
#: Fixed, so that a failure replays; the kill points still spread over the whole rotation.
SEED = 20261206


def write_secret(directory: Path, generation: int) -> Path:
    path = directory / f"master-{generation}"
    path.write_bytes(master_secret(generation).to_bytes() + b"\n")
    return path


def rotation(url: str, database: str, old: Path, new: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, str(WORKER), url, database, str(old), str(new)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)


def kill_after(process: subprocess.Popen[str], report: str, delay_s: float) -> list[str]:
    """SIGKILL `process` `delay_s` after it reports `report` (or let it end, if it does first); its reports."""
    assert process.stdout is not None
    seen = []
    for line in process.stdout:
        seen.append(line.strip())
        if seen[-1] == report:
            time.sleep(delay_s)
            process.kill()
            break
    process.wait()
    return seen


def kill_point(chooser: random.Random, round_number: int) -> tuple[str, float]:
    """Where a round's kill lands, taking turns: early (after "ready": before the rotation is recorded, in the KDF
    or in that write), within the re-sealing (after a random record: while its batch is built or written), or late
    (around the last batch and the write that finishes the rotation)."""
    match round_number % 3:
        case 0:
            return "ready", chooser.uniform(0.0, 0.1)
        case 1:
            return f"record {chooser.randint(1, RECORDS)}", 0.0
        case _:
            return f"record {RECORDS}", chooser.uniform(0.0, 0.25)


async def vault_after_kill(db: Db, old: MasterSecret, new: MasterSecret) -> tuple[str, Vault]:
    """Open the vault as an operator would after the crash: the state found ("not begun", "unfinished",
    "finished") and a vault that reads every record."""
    try:
        return "not begun", await Vault.open(db, old)
    except RotationUnfinished:
        return "unfinished", await Vault.open(db, new, previous=old)
    except WrongMasterSecret:
        return "finished", await Vault.open(db, new)


@pytest.mark.timeout(60)
async def test_a_rotation_killed_anywhere_leaves_every_record_readable_and_completes_when_run_again(
    mongo_url: str, mongo_db: Db, tmp_path: Path
) -> None:
    chooser = random.Random(SEED)
    vault = await Vault.open(mongo_db, master_secret(0), kdf=FAST_KDF)
    expected = {wallet_id: wallet_secret(wallet_id) for wallet_id in await seal_wallets(mongo_db, vault, RECORDS)}
    states = []
    for generation in range(1, ROUNDS + 1):
        old_file, new_file = write_secret(tmp_path, generation - 1), write_secret(tmp_path, generation)
        old, new = MasterSecret.from_file(old_file), MasterSecret.from_file(new_file)
        point = kill_point(chooser, generation)
        # Off the event loop: the rotation runs for seconds, and a loop blocked that long clears pymongo's pool.
        reports = await asyncio.to_thread(kill_after, rotation(mongo_url, mongo_db.name, old_file, new_file), *point)
        assert reports and reports[0] == "ready", reports

        state, vault = await vault_after_kill(mongo_db, old, new)
        states.append((point, state))
        assert set((await sealing_key_ids(mongo_db)).values()) <= vault.key_ids
        assert await unsealed_wallets(mongo_db, vault) == expected, f"round {generation}, killed at {point}"

        await rotate_master_key(mongo_db, old, new, RECORDS_TO_ROTATE, kdf=FAST_KDF)
        vault = await Vault.open(mongo_db, new)
        assert set((await sealing_key_ids(mongo_db)).values()) == {vault.key_id}
        assert await unsealed_wallets(mongo_db, vault) == expected
        try:
            await Vault.open(mongo_db, old)
        except WrongMasterSecret as refused:
            assert not isinstance(refused, RotationUnfinished)
        else:
            raise AssertionError(f"round {generation}: the old secret still opens after the rotation completed")

    assert "unfinished" in {state for _, state in states}, states
    print("kill points and the states they left:", states)
