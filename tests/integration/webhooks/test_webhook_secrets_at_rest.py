"""Endpoint secrets at rest: stored sealed, bound to their endpoint; deliveries still signed with the secret the
create returned; a new sealing key reseals every secret while the previous one still opens them."""

from __future__ import annotations

import os
from dataclasses import replace

from standardwebhooks import Webhook

from integration.webhooks.webhook_kit import Hub, Receiver, webhook_service
from lucid_tron.webhooks import SecretSealer, Webhooks
from lucid_tron.webhooks._sealing import SEALED_PREFIX
from lucid_tron.webhooks._store import ENDPOINTS


async def stored_secret(hub: Hub, endpoint_id: str) -> str:
    document = await hub.store.collection(ENDPOINTS).find_one({"_id": endpoint_id})
    assert document is not None
    return str(document["secret"])


async def test_a_secret_is_stored_sealed_and_never_as_it_was_returned(hub: Hub) -> None:
    created = await hub.add_endpoint("https://merchant.test/hook")

    stored = await stored_secret(hub, created.endpoint.endpoint_id)

    assert stored.startswith(SEALED_PREFIX) and created.secret not in stored
    assert hub.webhooks.sealer.open(stored, created.endpoint.endpoint_id) == created.secret


async def test_a_new_sealing_key_reseals_every_secret_and_deliveries_still_verify(mongo_url: str) -> None:
    old_key, new_key = os.urandom(32), os.urandom(32)
    async with webhook_service(mongo_url, SecretSealer(old_key)) as hub, Receiver() as receiver:
        created = await hub.add_endpoint(receiver.url)
        endpoint_id = created.endpoint.endpoint_id
        before = await stored_secret(hub, endpoint_id)
        new_sealer = SecretSealer(new_key, [old_key])
        rotated = replace(hub, webhooks=Webhooks(hub.store, new_sealer))

        resealed = await rotated.webhooks.reseal()
        again = await rotated.webhooks.reseal()
        async with rotated.delivering():
            await rotated.emit()
            [request] = await receiver.received(1)
        after = await stored_secret(hub, endpoint_id)

    assert (resealed, again) == (1, 0)
    assert after != before and new_sealer.is_current(after) and not new_sealer.is_current(before)
    Webhook(created.secret).verify(request.body, request.headers)


async def test_secrets_stored_unsealed_are_sealed_once_a_key_is_set(mongo_url: str) -> None:
    async with webhook_service(mongo_url) as unsealed:
        created = await unsealed.add_endpoint("https://merchant.test/hook")
        assert await stored_secret(unsealed, created.endpoint.endpoint_id) == created.secret
        sealing = Webhooks(unsealed.store, SecretSealer(os.urandom(32)))

        assert await sealing.reseal() == 1
        stored = await stored_secret(unsealed, created.endpoint.endpoint_id)

    assert stored.startswith(SEALED_PREFIX)
    assert sealing.sealer.open(stored, created.endpoint.endpoint_id) == created.secret
