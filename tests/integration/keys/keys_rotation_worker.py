"""A master-key rotation in a process of its own, for the crash test to SIGKILL. Reports, one line each, flushed:

    keys_rotation_worker.py URL DATABASE OLD_SECRET_FILE NEW_SECRET_FILE
        "ready"                 connected, about to rotate
        "record N"              the rotation is about to re-seal its N-th record (1-based) of this run
        "done RESEALED"         finished
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping
from typing import Any

from integration.keys.keys_records import FAST_KDF, RECORDS
from lucid_tron.keys import MasterSecret, collection_aad, rotate_master_key
from lucid_tron.storage import connect_mongo


def report(line: str) -> None:
    print(line, flush=True)


class ReportingAad:
    """The default associated data, reporting each record the rotation reaches."""

    def __init__(self) -> None:
        self.records = 0

    def __call__(self, collection: str, document: Mapping[str, Any]) -> bytes:
        self.records += 1
        report(f"record {self.records}")
        return collection_aad(collection, document)


async def main(url: str, database: str, old_file: str, new_file: str) -> None:
    client, db = connect_mongo(url, database, app_name="keys-rotation-worker")
    old, new = MasterSecret.from_file(old_file), MasterSecret.from_file(new_file)
    report("ready")
    result = await rotate_master_key(db, old, new, RECORDS, aad_for=ReportingAad(), kdf=FAST_KDF)
    report(f"done {result.resealed}")
    await client.close()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
