"""`lucid-tron webhooks` against a served WebhookService (the webhooks library's own test host, with its outbox
dispatcher and delivery worker in the test's process, and a real aiohttp receiver on loopback): add, list,
deliveries, redeliver, rotate and delete print what the service answers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from integration.webhooks.webhook_kit import Hub, Receiver, eventually, webhook_service
from lucid.tron.v1 import webhooks_pb2 as wh
from lucid_tron.cli import main


@pytest.fixture
async def hub(mongo_url: str) -> AsyncIterator[Hub]:
    async with webhook_service(mongo_url) as served:
        yield served


async def lucid(capsys: pytest.CaptureFixture[str], hub: Hub, *argv: str) -> tuple[int, str, str]:
    """`lucid-tron webhooks ACTION --address <the hub> ARGS...` in a thread (it runs its own event loop)."""
    action, *rest = argv
    address = hub.address
    status = await asyncio.to_thread(main, ["webhooks", action, "--address", address, *rest])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def field(output: str, name: str) -> str:
    [value] = [line.split(None, 1)[1] for line in output.splitlines() if line.startswith(f"{name} ")]
    return value.strip()


async def test_add_prints_the_secret_once_and_list_shows_the_endpoint_and_its_event_filter(hub, capsys):
    status, added, _ = await lucid(capsys, hub, "add", "https://merchant.example/hook", "--event", "invoice_paid")
    listed_status, listed, _ = await lucid(capsys, hub, "list")

    assert status == 0 and listed_status == 0
    assert field(added, "secret").startswith("whsec_")
    header, row = listed.splitlines()
    assert header.split()[:4] == ["ENDPOINT", "URL", "EVENTS", "STATE"]
    assert row.split()[:4] == [field(added, "endpoint"), "https://merchant.example/hook", "INVOICE_PAID", "enabled"]
    assert "whsec_" not in listed


async def test_a_url_the_service_refuses_is_invalid_argument_naming_the_field(hub, capsys):
    status, _, error = await lucid(capsys, hub, "add", "http://merchant.example/hook")

    assert status == 1
    assert error.startswith("lucid-tron webhooks: INVALID_ARGUMENT") and "url" in error


async def test_an_unknown_event_type_is_refused_before_any_call(hub, capsys):
    with pytest.raises(SystemExit) as exited:
        await lucid(capsys, hub, "add", "https://merchant.example/hook", "--event", "INVOICE_TELEPORTED")

    assert exited.value.code == 2
    assert "unknown event type INVOICE_TELEPORTED" in capsys.readouterr().err


async def test_deliveries_lists_a_delivered_event_and_redeliver_sends_it_again(hub, capsys):
    async with Receiver() as receiver, hub.delivering():
        endpoint_id = (await hub.add_endpoint(receiver.url)).endpoint.endpoint_id
        event_id = await hub.emit("invoice.paid")
        await receiver.received(1)
        await eventually(
            lambda: _succeeded(hub, endpoint_id), what="the delivery to be recorded as SUCCEEDED"
        )
        status, listed, _ = await lucid(capsys, hub, "deliveries", endpoint_id)
        redelivered_status, redelivered, _ = await lucid(capsys, hub, "redeliver", endpoint_id, event_id)
        await receiver.received(2)

    assert status == 0 and redelivered_status == 0
    [row] = listed.splitlines()[1:]
    assert row.split()[1:6] == [event_id, "INVOICE_PAID", "SUCCEEDED", "1", "200"]
    assert redelivered.splitlines()[1].split()[1] == event_id
    assert [request.headers["webhook-id"] for request in receiver.requests] == [event_id, event_id]


async def test_rotate_prints_a_new_secret_and_when_the_old_one_stops_signing(hub, capsys):
    created = await hub.add_endpoint("https://merchant.example/hook")

    status, rotated, _ = await lucid(capsys, hub, "rotate", created.endpoint.endpoint_id, "--overlap", "3600")

    assert status == 0
    assert field(rotated, "secret").startswith("whsec_") and field(rotated, "secret") != created.secret
    endpoint = await hub.endpoint(created.endpoint.endpoint_id)
    assert endpoint.rotation_overlap_end_time.seconds > 0
    assert "the old secret signs too until" in rotated


async def test_delete_forgets_the_endpoint(hub, capsys):
    created = await hub.add_endpoint("https://merchant.example/hook")

    status, deleted, _ = await lucid(capsys, hub, "delete", created.endpoint.endpoint_id)
    _, listed, _ = await lucid(capsys, hub, "list")

    assert status == 0 and deleted.strip() == f"deleted {created.endpoint.endpoint_id}"
    assert listed.splitlines()[1:] == []


async def _succeeded(hub: Hub, endpoint_id: str) -> bool:
    deliveries = await hub.deliveries(endpoint_id)
    return bool(deliveries) and deliveries[0].state == wh.DELIVERY_STATE_SUCCEEDED
