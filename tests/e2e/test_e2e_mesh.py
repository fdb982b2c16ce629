"""The whole mesh as `lucid-tron up` runs it: seven processes on real sockets, devnet, SecantusDB, redis-server."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import urllib.request
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status
from prometheus_client.parser import text_string_to_metric_families

from e2e.e2e_up import (
    FUNDED_ADDRESS,
    FUNDED_TRX_SUN,
    Up,
    lucid_tron_command,
    operator_credentials,
    sharing_database_of,
    start_up,
    still_running,
    up_environment,
)
from lucid.tron.v1 import (
    common_pb2,
    payment_gateway_pb2,
    payment_gateway_pb2_grpc,
    payout_router_pb2,
    payout_router_pb2_grpc,
    relay_pb2,
    relay_pb2_grpc,
    staking_pb2,
    staking_pb2_grpc,
    treasury_pb2,
    treasury_pb2_grpc,
    tron_client_pb2,
    tron_client_pb2_grpc,
    wallet_pb2,
    wallet_pb2_grpc,
)
from lucid_tron.cli._services import SERVICES
from lucid_tron.cli._up_wallets import STAKED_FOR_BANDWIDTH_SUN, STAKED_FOR_ENERGY_SUN

pytestmark = pytest.mark.e2e

NAMES = [service.name for service in SERVICES]
GRPC_SERVICE = {service.name: service.grpc_service for service in SERVICES}
#: A well-formed address no transaction of the mesh involves.
UNKNOWN_ADDRESS = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"
#: What the shipped mesh policy lets no operator call (README.md, "Who may call what"): only the services that build
#: transactions sign.
NOT_FOR_OPERATORS = {"/lucid.tron.v1.WalletService/SignTransaction"}

@pytest.fixture(scope="session")
async def channels(mesh: Up) -> AsyncIterator[dict[str, grpc.aio.Channel]]:
    """An operator's channel to each service: mutual TLS with the certificate endpoints.json names."""
    credentials = operator_credentials(mesh.endpoints)
    opened = {
        name: grpc.aio.secure_channel(address, credentials) for name, address in mesh.endpoints["services"].items()
    }
    yield opened
    for channel in opened.values():
        await channel.close()


def service_processes(up: Up) -> dict[str, int]:
    """pid of each service process below `up`, by service name."""
    modules = {service.module: service.name for service in SERVICES}
    found = {}
    for pid in up.descendants():
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        for arg in argv:
            if arg.decode(errors="replace") in modules:
                found[modules[arg.decode()]] = pid
    return found


def test_endpoints_json_lists_the_seven_services_the_sidecar_devnet_storage_and_the_wallets(mesh: Up) -> None:
    endpoints = mesh.endpoints
    assert set(endpoints) == {
        "services", "metrics", "health", "tls", "devnet", "mongo_url", "redis_url", "payment_wallet", "payout_wallet",
        "staking_wallet",
    }
    for wallet in ("payment_wallet", "payout_wallet", "staking_wallet"):
        assert endpoints[wallet]["wallet_id"] and endpoints[wallet]["address"].startswith("T")
    assert list(endpoints["services"]) == [*NAMES, "beta-sidecar"]
    assert list(endpoints["metrics"]) == list(endpoints["health"]) == [*NAMES, "beta-sidecar"]
    assert all(address.startswith("127.0.0.1:") for address in endpoints["metrics"].values())
    assert all(address.startswith("127.0.0.1:") for address in endpoints["services"].values())
    assert endpoints["devnet"]["url"].startswith("http://127.0.0.1:")
    assert endpoints["devnet"]["usdt_contract"].startswith("T")
    assert endpoints["mongo_url"].startswith("mongodb://127.0.0.1:")
    assert endpoints["redis_url"].startswith("redis://127.0.0.1:")
    assert endpoints["redis_url"] != "redis://127.0.0.1:6379/0"  # --own-redis: never the machine's Redis


def test_up_prints_the_table_and_how_long_the_services_took(mesh: Up) -> None:
    output = mesh.output
    for name in NAMES:
        assert f"{name} " in output and mesh.endpoints["services"][name] in output
    assert "all 7 services SERVING" in output


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("health_name", ["", "own"], ids=["empty", "own-name"])
async def test_every_service_is_serving(channels: dict[str, grpc.aio.Channel], name: str, health_name: str) -> None:
    service = GRPC_SERVICE[name] if health_name == "own" else ""
    answer = await health_pb2_grpc.HealthStub(channels[name]).Check(
        health_pb2.HealthCheckRequest(service=service), timeout=5
    )
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


@pytest.mark.parametrize("name", NAMES)
async def test_reflection_lists_and_describes_each_service(channels: dict[str, grpc.aio.Channel], name: str) -> None:
    stream = reflection_pb2_grpc.ServerReflectionStub(channels[name]).ServerReflectionInfo(timeout=5)
    await stream.write(reflection_pb2.ServerReflectionRequest(list_services=""))
    listed = await stream.read()
    await stream.write(reflection_pb2.ServerReflectionRequest(file_containing_symbol=GRPC_SERVICE[name]))
    described = await stream.read()
    await stream.done_writing()
    assert {service.name for service in listed.list_services_response.service} >= {
        GRPC_SERVICE[name],
        health.SERVICE_NAME,
        reflection.SERVICE_NAME,
    }
    assert described.WhichOneof("message_response") == "file_descriptor_response"


@pytest.mark.parametrize("name", ["payment-gateway", "payout-router"])
def test_webhook_endpoint_secrets_are_sealed_under_the_key_up_keeps(mesh: Up, name: str) -> None:
    key = mesh.state_dir / "secrets" / "webhook_secrets_key"
    assert key.stat().st_mode & 0o777 == 0o600
    log = (mesh.state_dir / "logs" / f"{name}.log").read_text()
    assert "WEBHOOK_SECRETS_KEY is unset" not in log


@pytest.mark.parametrize("name", NAMES)
def test_every_service_logs_json_lines_to_its_own_file(mesh: Up, name: str) -> None:
    lines = (mesh.state_dir / "logs" / f"{name}.log").read_text().splitlines()
    not_json = [line for line in lines if not line.startswith("{")]
    assert not_json == [], f"{name} wrote lines that are not JSON"
    records = [json.loads(line) for line in lines]
    assert records and all(record["service"] == name for record in records)
    assert any(record.get("address") == mesh.endpoints["services"][name] for record in records)


async def test_tron_client_reads_devnet_head(channels: dict[str, grpc.aio.Channel]) -> None:
    stub = tron_client_pb2_grpc.TronClientServiceStub(channels["tron-client"])
    head = await stub.GetNowBlock(tron_client_pb2.GetNowBlockRequest(finality=common_pb2.FINALITY_HEAD), timeout=10)
    solidified = await stub.GetNowBlock(tron_client_pb2.GetNowBlockRequest(), timeout=10)
    # A block id starts with its number (8 bytes): a header whose id and number disagree was misread.
    assert int(head.block.block_id[:16], 16) == head.block.number
    assert head.block.number >= solidified.block.number
    assert solidified.block.solidified and not head.block.solidified


@pytest.mark.parametrize("finality", [common_pb2.FINALITY_HEAD, common_pb2.FINALITY_SOLIDIFIED], ids=["head", "solid"])
async def test_tron_client_sees_the_funded_balance(channels: dict[str, grpc.aio.Channel], finality: int) -> None:
    stub = tron_client_pb2_grpc.TronClientServiceStub(channels["tron-client"])
    answer = await stub.GetAccount(
        tron_client_pb2.GetAccountRequest(address=FUNDED_ADDRESS, finality=finality), timeout=10
    )
    assert answer.account.address == FUNDED_ADDRESS
    assert answer.account.activated
    assert answer.account.balance_sun == FUNDED_TRX_SUN


async def test_a_malformed_address_is_invalid_argument_naming_the_field(channels: dict[str, grpc.aio.Channel]) -> None:
    stub = tron_client_pb2_grpc.TronClientServiceStub(channels["tron-client"])
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetAccount(tron_client_pb2.GetAccountRequest(address="TnotAnAddress"), timeout=10)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(caught.value)  # type: ignore[arg-type]
    assert status is not None
    violations = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            violations += [violation.field for violation in bad_request.field_violations]
    assert violations == ["address"]


async def test_relay_reads_devnet_head(channels: dict[str, grpc.aio.Channel]) -> None:
    stub = relay_pb2_grpc.RelayServiceStub(channels["tron-relay"])
    answer = await stub.GetNowBlock(
        relay_pb2.RelayServiceGetNowBlockRequest(finality=common_pb2.FINALITY_HEAD), timeout=10
    )
    assert len(answer.block.block_id) == 64
    assert int(answer.block.block_id[:16], 16) == answer.block.number


def scrape(mesh: Up, name: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of service `name`'s metrics endpoint: (name, sorted labels) -> value."""
    with urllib.request.urlopen(f"http://{mesh.endpoints['metrics'][name]}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.mark.parametrize("name", NAMES)
def test_every_service_serves_its_metrics_where_endpoints_json_says(mesh: Up, name: str) -> None:
    samples = scrape(mesh, name)
    assert samples[("lucid_serving", ())] == 1
    assert samples[("process_resident_memory_bytes", ())] > 0


async def test_the_relay_counts_its_rpcs_and_where_its_answers_came_from(
    mesh: Up, channels: dict[str, grpc.aio.Channel]
) -> None:
    stub = relay_pb2_grpc.RelayServiceStub(channels["tron-relay"])
    # Nothing in the mesh verifies TRC20 transfers in the background (GetNowBlock, say, the watcher calls): the count
    # of this method is the test's own calls, exactly.
    method = (("grpc_code", "OK"), ("grpc_method", "VerifyTrc20Transfer"), ("grpc_service", GRPC_SERVICE["tron-relay"]))
    unknown = relay_pb2.VerifyTrc20TransferRequest(
        txid="ab" * 32, contract_address=UNKNOWN_ADDRESS, to_address=UNKNOWN_ADDRESS, amount_base_units=1
    )
    before = await asyncio.to_thread(scrape, mesh, "tron-relay")
    for _ in range(3):
        await stub.VerifyTrc20Transfer(unknown, timeout=10)
        await stub.GetNowBlock(relay_pb2.RelayServiceGetNowBlockRequest(finality=common_pb2.FINALITY_HEAD), timeout=10)
    await health_pb2_grpc.HealthStub(channels["tron-relay"]).Check(health_pb2.HealthCheckRequest(), timeout=5)
    after = await asyncio.to_thread(scrape, mesh, "tron-relay")

    assert after[("grpc_server_handled_total", method)] - before.get(("grpc_server_handled_total", method), 0) == 3
    answers = [labels for name, labels in after if name == "lucid_relay_answers_total"]
    assert sum(after[("lucid_relay_answers_total", labels)] for labels in answers) >= 3
    assert not [labels for name, labels in after if dict(labels).get("grpc_service") == health.SERVICE_NAME]


async def test_tron_client_counts_the_requests_it_sends_to_trongrid(
    mesh: Up, channels: dict[str, grpc.aio.Channel]
) -> None:
    stub = tron_client_pb2_grpc.TronClientServiceStub(channels["tron-client"])
    before = await asyncio.to_thread(scrape, mesh, "tron-client")
    for _ in range(2):
        await stub.GetNowBlock(tron_client_pb2.GetNowBlockRequest(), timeout=10)
    after = await asyncio.to_thread(scrape, mesh, "tron-client")

    sent = ("lucid_trongrid_requests_total", ())
    assert after[sent] - before.get(sent, 0) >= 2
    assert after[("lucid_trongrid_throttled_total", ())] == 0


async def test_the_staking_wallet_has_its_trx_staked_for_energy_and_bandwidth(
    mesh: Up, channels: dict[str, grpc.aio.Channel]
) -> None:
    staking = staking_pb2_grpc.StakingServiceStub(channels["staking"])
    found = await staking.GetResources(
        staking_pb2.GetResourcesRequest(address=mesh.endpoints["staking_wallet"]["address"]), timeout=10
    )

    assert found.resources.staked_for_energy_sun == STAKED_FOR_ENERGY_SUN
    assert found.resources.staked_for_bandwidth_sun == STAKED_FOR_BANDWIDTH_SUN
    assert found.energy_available > 0
    assert "staked TRX for energy and bandwidth (2 transactions)" in mesh.output


async def test_an_operator_creates_an_invoice_paid_to_an_address_of_the_payment_wallet(
    mesh: Up, channels: dict[str, grpc.aio.Channel]
) -> None:
    gateway = payment_gateway_pb2_grpc.PaymentGatewayServiceStub(channels["payment-gateway"])
    wallets = wallet_pb2_grpc.WalletServiceStub(channels["wallet-manager"])
    created = await gateway.CreateInvoice(
        payment_gateway_pb2.CreateInvoiceRequest(
            request_id=str(uuid.uuid4()), asset=common_pb2.ASSET_USDT, amount_base_units=5_000_000
        ),
        timeout=10,
    )
    addresses = await wallets.ListAddresses(
        wallet_pb2.ListAddressesRequest(wallet_id=mesh.endpoints["payment_wallet"]["wallet_id"]), timeout=10
    )
    assert created.invoice.network == "devnet"
    assert created.invoice.deposit_address in {address.address for address in addresses.addresses}
    assert created.invoice.deposit_address != mesh.endpoints["payment_wallet"]["address"]  # index 0 is never handed out


async def test_an_operators_payout_is_paid_on_devnet_from_the_payout_wallet(
    mesh: Up, channels: dict[str, grpc.aio.Channel]
) -> None:
    router = payout_router_pb2_grpc.PayoutRouterServiceStub(channels["payout-router"])
    recipient = mesh.endpoints["payment_wallet"]["address"]
    created = await router.CreatePayout(
        payout_router_pb2.CreatePayoutRequest(
            request_id=str(uuid.uuid4()),
            payout=payout_router_pb2.Payout(recipient=recipient, asset=common_pb2.ASSET_USDT, amount_base_units=1_000_000),
        ),
        timeout=10,
    )
    payout = created.payout
    async with asyncio.timeout(120):  # solidification: 19 blocks of the e2e devnet
        while payout.state != payout_router_pb2.PAYOUT_STATE_CONFIRMED:
            assert payout.state != payout_router_pb2.PAYOUT_STATE_FAILED, payout.state_reason
            await asyncio.sleep(0.5)
            request = payout_router_pb2.GetPayoutRequest(payout_id=created.payout.payout_id)
            payout = (await router.GetPayout(request, timeout=10)).payout

    assert payout.from_address == mesh.endpoints["payout_wallet"]["address"]
    assert payout.txid and payout.block_number > 0


async def test_a_paid_invoice_is_swept_into_the_payout_wallet_by_the_treasury(
    mesh: Up, channels: dict[str, grpc.aio.Channel]
) -> None:
    # The payer is the payout wallet (devnet funds it): a payout to the invoice's deposit address pays the invoice.
    gateway = payment_gateway_pb2_grpc.PaymentGatewayServiceStub(channels["payment-gateway"])
    router = payout_router_pb2_grpc.PayoutRouterServiceStub(channels["payout-router"])
    treasury = treasury_pb2_grpc.TreasuryServiceStub(channels["staking"])
    invoice = (await gateway.CreateInvoice(
        payment_gateway_pb2.CreateInvoiceRequest(
            request_id=str(uuid.uuid4()), asset=common_pb2.ASSET_USDT, amount_base_units=2_000_000
        ),
        timeout=10,
    )).invoice
    await router.CreatePayout(
        payout_router_pb2.CreatePayoutRequest(
            request_id=str(uuid.uuid4()),
            payout=payout_router_pb2.Payout(
                recipient=invoice.deposit_address, asset=common_pb2.ASSET_USDT, amount_base_units=2_000_000
            ),
        ),
        timeout=10,
    )
    async with asyncio.timeout(180):  # the payout's and the payment's solidification: 19 blocks each
        while invoice.status != payment_gateway_pb2.INVOICE_STATUS_PAID:
            await asyncio.sleep(1)
            request = payment_gateway_pb2.GetInvoiceRequest(invoice_id=invoice.invoice_id)
            invoice = (await gateway.GetInvoice(request, timeout=10)).invoice
    ran = await treasury.RunSweep(
        treasury_pb2.RunSweepRequest(request_id=str(uuid.uuid4()), include_below_threshold=True), timeout=30
    )
    assert [sweep.invoice_id for sweep in ran.sweeps] == [invoice.invoice_id]
    sweep = ran.sweeps[0]
    async with asyncio.timeout(300):  # activation, delegation, transfer, undelegation: each solidified
        while sweep.state not in (treasury_pb2.SWEEP_STATE_SWEPT, treasury_pb2.SWEEP_STATE_FAILED):
            await asyncio.sleep(1)
            sweep = (await treasury.GetSweep(treasury_pb2.GetSweepRequest(sweep_id=sweep.sweep_id), timeout=10)).sweep

    assert sweep.state == treasury_pb2.SWEEP_STATE_SWEPT, sweep.state_reason
    assert sweep.amount_base_units == 2_000_000
    assert sweep.destination_address == mesh.endpoints["payout_wallet"]["address"]


@pytest.mark.parametrize("path", sorted(NOT_FOR_OPERATORS))
async def test_up_enforces_the_shipped_policy_on_an_operator(channels: dict[str, grpc.aio.Channel], path: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await channels["wallet-manager"].unary_unary(path)(b"", timeout=5)
    assert caught.value.code() is grpc.StatusCode.PERMISSION_DENIED
    assert caught.value.details() == "the caller may not call this method"


async def test_beta_sidecar_stands_in_front_of_wallet_manager_and_lets_no_operator_across(
    channels: dict[str, grpc.aio.Channel],
) -> None:
    health = await health_pb2_grpc.HealthStub(channels["beta-sidecar"]).Check(
        health_pb2.HealthCheckRequest(service="lucid.tron.v1.WalletService"), timeout=5
    )
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await channels["beta-sidecar"].unary_unary("/lucid.tron.v1.WalletService/ListWallets")(b"", timeout=5)
    assert caught.value.code() is grpc.StatusCode.PERMISSION_DENIED


def test_status_lists_the_seven_and_the_sidecar_serving(mesh: Up) -> None:
    done = subprocess.run(
        [*lucid_tron_command(), "status", "--state-dir", str(mesh.state_dir)],
        env=up_environment(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = {line.split()[0]: line.split() for line in done.stdout.splitlines()[1:9]}
    assert list(rows) == [*NAMES, "beta-sidecar"]
    assert all(row[1] == mesh.endpoints["services"][name] and row[2] == "SERVING" for name, row in rows.items())
    assert "8/8 SERVING" in done.stdout


def test_a_service_that_dies_is_reported_and_up_stops_the_rest(mesh: Up, tmp_path: Path) -> None:
    # A second `up` of its own, sharing the session's database and Redis so that only devnet and the services start.
    other = start_up(tmp_path / "state", sharing_database_of(mesh, tmp_path / "state"))
    try:
        children = other.descendants()
        staking = service_processes(other)["staking"]
        os.kill(staking, signal.SIGTERM)
        code = other.process.wait(30)
    finally:
        if other.process.poll() is None:
            other.stop()
    assert code == 1
    assert "staking exited unexpectedly (exit code 0); stopping the rest" in other.output
    assert still_running(children) == []
    assert not (other.state_dir / "endpoints.json").exists()
