"""The gRPC adapter of the treasury: lucid.tron.v1.TreasuryService over `Treasury`, served by the staking process.

Each RPC checks its request (every bad field named at once), calls `Treasury`, and maps the answer back.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import socket
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import partial
from typing import Any

from google.protobuf import timestamp_pb2

from lucid.tron.v1 import common_pb2, treasury_pb2 as tr, treasury_pb2_grpc
from lucid_tron.mesh import Dependency, Registration, ServiceSpec
from lucid_tron.peers import PaymentGatewayService, TronClientService, WalletService
from lucid_tron.validation import FieldChecks

from . import treasury as t
from .forecast import PlannedTransfers
from .sweeper import Sweeper, TreasurySettings, WalletAddresses
from .treasury import Treasury
from .treasury_store import TreasuryStore

SERVICE_NAME: str = tr.DESCRIPTOR.services_by_name["TreasuryService"].full_name
#: How long stopping waits for the sweeper to end.
STOP_S = 5.0
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
_SWEEP_ID = re.compile(r"swp_[0-9a-f]{24}")
_INVOICE_ID = re.compile(r"inv_[0-9a-f]{24}")
_PAGE_TOKEN = re.compile(r"(\d{1,15})\.(swp_[0-9a-f]{24})")
ASSETS = {common_pb2.ASSET_TRX: "TRX", common_pb2.ASSET_USDT: "USDT"}
NUMBERS_BY_ASSET = {name: number for number, name in ASSETS.items()}
STATES = {tr.SWEEP_STATE_PENDING: t.PENDING, tr.SWEEP_STATE_SWEEPING: t.SWEEPING, tr.SWEEP_STATE_SWEPT: t.SWEPT,
          tr.SWEEP_STATE_FAILED: t.FAILED}
NUMBERS_BY_STATE = {name: number for number, name in STATES.items()}
STEP_KINDS = {t.ACTIVATE: tr.SWEEP_STEP_KIND_ACTIVATE, t.DELEGATE: tr.SWEEP_STEP_KIND_DELEGATE,
              t.TRANSFER: tr.SWEEP_STEP_KIND_TRANSFER, t.UNDELEGATE: tr.SWEEP_STEP_KIND_UNDELEGATE}
STEP_STATES = {t.STEP_SIGNED: tr.SWEEP_STEP_STATE_SIGNED, t.STEP_BROADCAST: tr.SWEEP_STEP_STATE_BROADCAST,
               t.STEP_CONFIRMED: tr.SWEEP_STEP_STATE_CONFIRMED, t.STEP_FAILED: tr.SWEEP_STEP_STATE_FAILED,
               t.STEP_EXPIRED: tr.SWEEP_STEP_STATE_EXPIRED}


class TreasuryServicer(treasury_pb2_grpc.TreasuryServiceServicer):
    """lucid.tron.v1.TreasuryService."""

    def __init__(self, treasury: Treasury) -> None:
        self._treasury = treasury

    async def GetTreasury(self, request: tr.GetTreasuryRequest, context: Any) -> tr.GetTreasuryResponse:
        view = await self._treasury.view()
        treasury = tr.Treasury(
            payout_address=view.payout_address,
            energy_strategy=view.strategy,
            totals=[tr.AssetTotals(
                asset=NUMBERS_BY_ASSET[total.asset], swept_base_units=total.swept, swept_count=total.swept_count,
                pending_base_units=total.pending, pending_count=total.pending_count,
                failed_count=total.failed_count, fee_sun=total.fee_sun,
            ) for total in view.totals],
        )
        if view.last_run_at is not None:
            treasury.last_run_time.CopyFrom(_timestamp(view.last_run_at))
        if view.next_run_at is not None:
            treasury.next_run_time.CopyFrom(_timestamp(view.next_run_at))
        return tr.GetTreasuryResponse(treasury=treasury)

    async def RunSweep(self, request: tr.RunSweepRequest, context: Any) -> tr.RunSweepResponse:
        return await self._treasury.run_sweep(
            request.request_id, request, request.include_below_threshold,
            lambda sweeps: tr.RunSweepResponse(sweeps=[sweep_message(sweep) for sweep in sweeps]),
            tr.RunSweepResponse,
        )

    async def GetSweep(self, request: tr.GetSweepRequest, context: Any) -> tr.GetSweepResponse:
        check = FieldChecks()
        sweep_id = check.pattern("sweep_id", request.sweep_id, _SWEEP_ID, expected='a sweep id ("swp_" and 24 hex digits)')
        check.done()
        assert sweep_id is not None
        return tr.GetSweepResponse(sweep=sweep_message(await self._treasury.get(sweep_id)))

    async def ListSweeps(self, request: tr.ListSweepsRequest, context: Any) -> tr.ListSweepsResponse:
        check = FieldChecks()
        query: dict[str, Any] = {}
        if request.invoice_id:
            query["invoice_id"] = check.pattern("invoice_id", request.invoice_id, _INVOICE_ID,
                                                expected='an invoice id ("inv_" and 24 hex digits)')
        if request.deposit_address:
            query["deposit_address"] = check.address("deposit_address", request.deposit_address)
        asset = check.enum("asset", request.asset, ASSETS, unspecified="")
        if asset:
            query["asset"] = asset
        state = check.enum("state", request.state, STATES, unspecified="")
        if state:
            query["state"] = state
        size = check.page_size("page_size", request.page_size, default=DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE)
        after = _page_token(check, request.page_token)
        check.done()
        assert size is not None
        page, last = await self._treasury.list_page(query, size, after)
        token = "" if last is None else f"{int(last[0].timestamp() * 1000)}.{last[1]}"
        return tr.ListSweepsResponse(sweeps=[sweep_message(sweep) for sweep in page], next_page_token=token)


def registration(servicer: TreasuryServicer) -> Registration:
    """The servicer as the mesh registers it (health and reflection under SERVICE_NAME)."""
    return Registration(treasury_pb2_grpc.add_TreasuryServiceServicer_to_server, servicer, SERVICE_NAME)


def _page_token(check: FieldChecks, value: str) -> tuple[datetime, str] | None:
    if not value:
        return None
    match = _PAGE_TOKEN.fullmatch(value)
    if match is None:
        check.fail("page_token", "is not a next_page_token of ListSweeps")
        return None
    return datetime.fromtimestamp(int(match.group(1)) / 1000, UTC), match.group(2)


def _timestamp(at: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(at.replace(tzinfo=UTC) if at.tzinfo is None else at)
    return stamp


def step_message(step: Mapping[str, Any]) -> tr.SweepStep:
    return tr.SweepStep(
        kind=STEP_KINDS[step["kind"]], txid=step["txid"], state=STEP_STATES[step["state"]],
        amount_base_units=step["amount"], energy=step["energy"], block_number=step["block_number"],
        fee_sun=step["fee_sun"], result=step["result"], create_time=_timestamp(step["created_at"]),
    )


def sweep_message(sweep: Mapping[str, Any]) -> tr.Sweep:
    return tr.Sweep(
        sweep_id=sweep["_id"],
        invoice_id=sweep["invoice_id"],
        deposit_address=sweep["deposit_address"],
        asset=NUMBERS_BY_ASSET[sweep["asset"]],
        amount_base_units=sweep["amount"],
        destination_address=sweep["destination"],
        state=NUMBERS_BY_STATE[sweep["state"]],
        state_reason=sweep["state_reason"],
        steps=[step_message(step) for step in sweep["steps"]],
        fee_sun=sweep["fee_sun"],
        create_time=_timestamp(sweep["created_at"]),
        update_time=_timestamp(sweep["updated_at"]),
    )


def with_treasury(
    spec: ServiceSpec, settings: TreasurySettings, tron_client: TronClientService, wallet_manager: WalletService,
    planned: PlannedTransfers,
) -> ServiceSpec:
    """`spec` that also serves TreasuryService and runs the sweeper (one across replicas: its lease) from the first
    moment the treasury's store answers until the service stops (before its other stop hooks close the clients)."""
    store = TreasuryStore(settings)
    gateway = settings.payment_gateway()
    addresses = WalletAddresses(wallet_manager)
    treasury = treasury_of(settings, store, gateway, addresses)
    planned.add(treasury.planned_transfers)
    running: list[asyncio.Task[None]] = []

    async def sweep() -> None:
        # Start hooks run before the store opens, and the store may be down at start: wait until it answers.
        while not await store.ping():
            await asyncio.sleep(settings.sweeper_round_s)
        await sweeper_of(settings, store, treasury, tron_client, wallet_manager, addresses).run()

    async def start(_health: object) -> None:
        running.append(asyncio.get_running_loop().create_task(sweep()))

    async def stop() -> None:
        for task in running:
            task.cancel()
        if running:
            # Bounded, as the webhook jobs' stop: a MongoDB call can swallow a cancellation on Python 3.11.
            await asyncio.wait(running, timeout=STOP_S)

    return dataclasses.replace(
        spec,
        services=[*spec.services, registration(TreasuryServicer(treasury))],
        dependencies=[*spec.dependencies, Dependency("treasury-store", store.ping, open=store.open)],
        on_start=[*spec.on_start, start],
        on_stop=[stop, *spec.on_stop, store.close, *([] if gateway is None else [gateway.close])],
    )


def treasury_of(settings: TreasurySettings, store: TreasuryStore, gateway: PaymentGatewayService | None,
                addresses: WalletAddresses) -> Treasury:
    return Treasury(store, payment_gateway=gateway, policy=settings.treasury_policy(),
                    payout_address=lambda: addresses.first(settings.payout_wallet_id),
                    lender_address=lambda: addresses.first(settings.staking_wallet_id))


def sweeper_of(settings: TreasurySettings, store: TreasuryStore, treasury: Treasury, tron_client: TronClientService,
               wallet_manager: WalletService, addresses: WalletAddresses) -> Sweeper:
    """The sweeper of this process, holding the lease as host:pid."""
    owner = f"{socket.gethostname()}:{os.getpid()}"
    return Sweeper(store, treasury, tron_client=tron_client, wallet_manager=wallet_manager, addresses=addresses,
                   leases=partial(store.leases, owner=owner, ttl_s=settings.sweeper_lease_s), settings=settings)
