"""Transactions a money service sends: built here, signed by wallet-manager against the intent they state, stored
before they are broadcast, broadcast through tron-client, at most one per request.

    class StakingStore(MoneyStore):
        indexes = {**MoneyStore.indexes, **SentTransactions.INDEXES}

    sender = Sender(store, tron_client=..., wallet_manager=..., lifetime_s=120)
    order = Order(method="FreezeBalance", request_id=..., request_hash=request_digest(request), wallet_id=...,
                  reference="...")
    sent = await sender.stored(order)          # this request's transaction, or None (IDEMPOTENCY_KEY_REUSED checked)
    if sent is None:
        ...                                    # the caller's checks against the chain
        sent = await sender.sign_and_store(order, contract, intent, details)
    sent = await sender.broadcast(sent)        # the stored bytes; DUP_TRANSACTION counts as sent

    Order, Sender, SentTransactions     the request, the flow, the collection (its INDEXES for a store)
    SIGNED, BROADCAST                   the states `broadcast` leaves a transaction in
    TRANSACTION_EXPIRED, TXID_COLLISION  `reason` codes of its errors

A crash anywhere leaves nothing signed (the retry starts over) or the stored bytes (the retry broadcasts them); a
request_id never signs twice, even after its idempotency key (lucid_tron.storage) is forgotten.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lucid_tron.lazy import lazy_exports

if TYPE_CHECKING:
    from ._sender import (
        BROADCAST,
        SIGNED,
        TRANSACTION_EXPIRED,
        TXID_COLLISION,
        Order,
        Sender,
        SentTransactions,
    )

__all__ = ["BROADCAST", "SIGNED", "TRANSACTION_EXPIRED", "TXID_COLLISION", "Order", "Sender", "SentTransactions"]

__getattr__, __dir__ = lazy_exports(__name__, {name: "._sender" for name in __all__})
