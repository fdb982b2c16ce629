"""Broadcasting a signed transaction: the one write to TronGrid.

    sent = await broadcast(client, signed_bytes)   # BroadcastResult(txid, duplicate)
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from lucid_tron import chain

from ._client import TronGridClient
from ._exceptions import TronGridNodeError
from ._parsing import bad_response
from ._values import BroadcastResult

__all__ = ["DUP_TRANSACTION", "broadcast"]

_log = logging.getLogger("lucid_tron.trongrid.broadcast")

#: TRON's answer to a broadcast of a transaction it already has: the broadcast succeeded earlier.
DUP_TRANSACTION = "DUP_TRANSACTION_ERROR"


async def broadcast(client: TronGridClient, signed: bytes) -> BroadcastResult:
    """Send a signed transaction, the serialized protocol.Transaction, as those exact bytes (`broadcasthex`: JSON
    would be re-encoded by the node, and what it signs is what we checked only if nothing re-encodes it).
    DUP_TRANSACTION_ERROR is success with duplicate=True; any other refusal raises `TronGridNodeError` with TRON's
    code.

    The client retries this call (it is a POST to a broadcast path) only because the bytes are identical: a
    broadcast that reached the node before its answer was lost comes back as DUP_TRANSACTION_ERROR.
    """
    txid = chain.txid(chain.protocol.Transaction.FromString(signed)).hex()
    try:
        answer = await client.wallet("broadcasthex", {"transaction": signed.hex()}, purpose="broadcast", retry=True)
    except TronGridNodeError as refusal:
        if refusal.code == DUP_TRANSACTION:
            return BroadcastResult(txid=txid, duplicate=True)
        raise
    echoed = answer.get("txid") if isinstance(answer, Mapping) else None
    if not isinstance(answer, Mapping) or answer.get("result") is not True:
        raise bad_response(f"broadcasthex answered neither result=true nor a code: {answer!r:.200}")
    if isinstance(echoed, str) and echoed.lower() != txid:
        # Our txid is sha256 of the bytes we signed; a node naming another one is wrong, not us.
        _log.warning("broadcasthex echoed txid %s for our %s", echoed, txid)
    return BroadcastResult(txid=txid, duplicate=False)
