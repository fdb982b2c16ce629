"""Each money service's store: its own database by default, and its indexes in place after open()."""

from __future__ import annotations

import uuid

import pytest

from lucid_tron.services.payment_gateway.store import PaymentGatewayStore
from lucid_tron.services.payout_router.store import PayoutRouterStore
from lucid_tron.services.staking.store import StakingStore
from lucid_tron.services.usdt_manager.store import UsdtManagerStore
from lucid_tron.services.wallet_manager.store import WalletManagerStore
from lucid_tron.storage import MongoSettings, MongoStore

STORES: dict[type[MongoStore], str] = {
    WalletManagerStore: "lucid_wallet_manager",
    UsdtManagerStore: "lucid_usdt_manager",
    StakingStore: "lucid_staking",
    PaymentGatewayStore: "lucid_payment_gateway",
    PayoutRouterStore: "lucid_payout_router",
}


@pytest.mark.parametrize("store_type", STORES, ids=lambda store_type: store_type.__name__)
async def test_a_store_uses_the_services_own_database_by_default(store_type, mongo_url, mongo_client):
    store = store_type(MongoSettings(mongo_url=mongo_url))
    await store.open()
    try:
        assert store.db.name == STORES[store_type]
    finally:
        await store.close()
        await mongo_client.drop_database(STORES[store_type])


@pytest.mark.parametrize("store_type", STORES, ids=lambda store_type: store_type.__name__)
async def test_open_ensures_every_declared_index_and_the_audit_log_works(store_type, mongo_url, mongo_client):
    database = f"test_{uuid.uuid4().hex[:12]}"
    store = store_type(MongoSettings(mongo_url=mongo_url, mongo_database=database))
    await store.open()
    try:
        assert await store.ping() is True
        for collection, models in store.indexes.items():
            existing = {index["name"] async for index in await store.db[collection].list_indexes()}
            assert {model.document["name"] for model in models} <= existing
        await store.audit_log.append("operator:test", "store.opened", {})
        assert await store.audit_log.verify() is None
    finally:
        await store.close()
        await mongo_client.drop_database(database)
