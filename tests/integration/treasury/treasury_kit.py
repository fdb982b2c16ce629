"""The treasury with everything it calls, in the test's process: a devnet making blocks (USDT's dynamic energy factor
changing every 40 blocks), tron-relay and payment-gateway watching it, tron-client and a wallet-manager holding the
payment, staking and payout wallets, and staking (serving TreasuryService, its sweeper running), each over real gRPC
on loopback. Invoices are paid by unmodified tronpy; the chain is read back with tronpy too.

    async with treasury_stack(mongo_url, redis_url, tmp_path) as stack:
        invoices = await stack.pay_invoices(usdt=[12_500_000], trx=[3_000_000])   # created, paid, PAID
        await stack.wait_swept(len(invoices))
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import grpc
from aiohttp import web
from tronpy.exceptions import AddressNotFound, TransactionNotFound

from fixtures.devnet import DEVNET_ACCOUNTS
from integration.payment_gateway.watcher_kit import WATCHER, ChainBench, chain_bench, is_paid, until
from integration.tron_client.tron_client_kit import RunningClient, start_tron_client
from integration.wallet_manager.wallet_kit import Running as RunningWallet
from integration.wallet_manager.wallet_kit import create_hd, generous_policy, wallet_manager
from lucid.tron.v1 import common_pb2, tron_client_pb2, wallet_pb2
from lucid.tron.v1 import payment_gateway_pb2 as pg
from lucid.tron.v1 import payment_gateway_pb2_grpc
from lucid.tron.v1 import treasury_pb2 as tr
from lucid.tron.v1 import treasury_pb2_grpc
from lucid_tron.chain import SUN_PER_TRX, build_transaction, freeze_balance_v2, protocol, txid
from lucid_tron.mesh import MeshServer, serving
from lucid_tron.services.payment_gateway.__main__ import PaymentGatewaySettings
from lucid_tron.services.payment_gateway.__main__ import build as build_gateway
from lucid_tron.services.staking.__main__ import StakingSettings
from lucid_tron.services.staking.__main__ import build as build_staking

USDT = common_pb2.ASSET_USDT
TRX = common_pb2.ASSET_TRX
SWEPT = tr.SWEEP_STATE_SWEPT
#: The staking wallet: TRX to lend energy from (staked for energy) and to pay the bytes of its transactions
#: (staked for bandwidth), plus the activation fees.
STAKING_TRX_SUN = 4_000_000 * SUN_PER_TRX
STAKED_FOR_ENERGY_SUN = 3_000_000 * SUN_PER_TRX
STAKED_FOR_BANDWIDTH_SUN = 500_000 * SUN_PER_TRX
PAYOUT_TRX_SUN = 100 * SUN_PER_TRX
#: USDT's energy +50% every other maintenance period of 40 blocks (12 s): estimates go stale during the tests.
DYNAMIC_ENERGY = {"usdt_energy_factors": (0, 5000), "maintenance_period_blocks": 40}
#: Settings that make the tests quick: short-lived transactions, a sweeper that looks often.
FAST = {
    "sweep_usdt_threshold_base_units": 1, "sweep_trx_threshold_sun": 1, "sweep_interval_s": 1.0,
    "sweeper_round_s": 0.2, "sweeper_lease_s": 3.0, "sweep_expiration_s": 15.0,
}  # fmt: skip
WAIT_S = 240.0
#: Every payment wallet may pay at most this fee limit per transfer (the sweeps' USDT transfers set it).
PAYMENT_FEE_LIMIT_SUN = 200_000_000


@dataclass
class Paid:
    invoice_id: str
    deposit_address: str
    asset: int
    amount: int


@dataclass
class TreasuryStack:
    chain: ChainBench
    tron: RunningClient
    wallet: RunningWallet
    wallets: dict[str, str]  # role -> wallet id
    addresses: dict[str, str]  # role -> first address
    gateway: payment_gateway_pb2_grpc.PaymentGatewayServiceStub
    gateway_server: MeshServer
    settings: StakingSettings
    stub: treasury_pb2_grpc.TreasuryServiceStub | None
    #: Where staking serves TreasuryService; empty when the stack does not serve it.
    staking_server: str = ""
    paid: list[Paid] = field(default_factory=list)

    @property
    def devnet(self) -> Any:
        return self.chain.devnet

    async def pay_invoices(self, *, usdt: list[int] = (), trx: list[int] = ()) -> list[Paid]:  # type: ignore[assignment]
        """Create one invoice per amount, pay each exactly with tronpy (from the devnet fixture accounts, in turn),
        and wait until payment-gateway says each is PAID."""
        created = []
        for asset, amounts in ((USDT, usdt), (TRX, trx)):
            for amount in amounts:
                invoice = (await self.gateway.CreateInvoice(pg.CreateInvoiceRequest(
                    request_id=str(uuid.uuid4()), asset=asset, amount_base_units=amount,
                ))).invoice
                created.append(Paid(invoice.invoice_id, invoice.deposit_address, asset, amount))
        for index, invoice in enumerate(created):
            payer = DEVNET_ACCOUNTS[index % len(DEVNET_ACCOUNTS)]
            if invoice.asset == USDT:
                await self.chain.pay_usdt(payer, invoice.deposit_address, invoice.amount)
            else:
                await self.chain.pay_trx(payer, invoice.deposit_address, invoice.amount)
        for invoice in created:
            await until(_Gateway(self.gateway), invoice.invoice_id, is_paid, timeout_s=WAIT_S)
        self.paid += created
        return created

    async def sweeps(self, **filters: Any) -> list[tr.Sweep]:
        assert self.stub is not None
        found: list[tr.Sweep] = []
        token = ""
        while True:
            page = await self.stub.ListSweeps(tr.ListSweepsRequest(page_size=500, page_token=token, **filters))
            found += page.sweeps
            token = page.next_page_token
            if not token:
                return found

    async def wait_swept(self, count: int, timeout_s: float = WAIT_S) -> list[tr.Sweep]:
        """The sweeps once `count` of them are final (SWEPT or FAILED)."""
        deadline = time.monotonic() + timeout_s
        while True:
            sweeps = await self.sweeps()
            final = [s for s in sweeps if s.state in (tr.SWEEP_STATE_SWEPT, tr.SWEEP_STATE_FAILED)]
            if len(final) >= count:
                return sweeps
            if time.monotonic() > deadline:
                open_ones = [s for s in sweeps if s not in final][:3]
                raise AssertionError(f"{len(final)} of {count} sweeps final after {timeout_s} s; open: {open_ones}")
            await asyncio.sleep(0.5)

    def staking_settings(self, **changes: Any) -> StakingSettings:
        values = {name: getattr(self.settings, name) for name in self.settings.__dataclass_fields__}
        return StakingSettings(**{**values, **changes})


@dataclass
class _At:
    """What start_tron_client reads of a devnet: where it answers."""

    url: str


@dataclass
class _Gateway:
    """What watcher_kit's `until` reads of a running gateway."""

    stub: payment_gateway_pb2_grpc.PaymentGatewayServiceStub


async def send_signed(stack_wallet: RunningWallet, tron: RunningClient, wallet_id: str,
                      contract: protocol.Transaction.Contract, intent: wallet_pb2.TransactionIntent) -> str:
    """Build `contract` on tron-client's solidified head, have wallet-manager sign it, broadcast it; the txid."""
    solid = (await tron.stub.GetNowBlock(
        tron_client_pb2.GetNowBlockRequest(finality=common_pb2.FINALITY_SOLIDIFIED))).block
    now_ms = int(time.time() * 1000)
    transaction = build_transaction(contract, ref_block_number=solid.number, ref_block_id=solid.block_id,
                                    expiration_ms=now_ms + 60_000, timestamp_ms=now_ms)
    raw = transaction.raw_data.SerializeToString(deterministic=True)
    signed = await stack_wallet.stub.SignTransaction(wallet_pb2.SignTransactionRequest(
        wallet_id=wallet_id, raw_data=raw, intent=intent, txid=txid(raw).hex(), reference="treasury test stake"))
    await tron.stub.BroadcastTransaction(tron_client_pb2.BroadcastTransactionRequest(
        raw_data=raw, signatures=[signed.signature], txid=txid(raw).hex()))
    return txid(raw).hex()


async def stake(stack_wallet: RunningWallet, tron: RunningClient, wallet_id: str, owner: str, chain: ChainBench) -> None:
    """The staking wallet stakes for energy and for bandwidth; returns once both are in a block."""
    for amount, resource, code in ((STAKED_FOR_ENERGY_SUN, "ENERGY", common_pb2.RESOURCE_ENERGY),
                                   (STAKED_FOR_BANDWIDTH_SUN, "BANDWIDTH", common_pb2.RESOURCE_BANDWIDTH)):
        sent = await send_signed(stack_wallet, tron, wallet_id, freeze_balance_v2(owner, amount, resource),
                                 wallet_pb2.TransactionIntent(
                                     kind=wallet_pb2.TRANSACTION_KIND_FREEZE_BALANCE_V2, owner_address=owner,
                                     asset=TRX, amount_base_units=amount, resource=code))
        await chain.block_of(sent)


@asynccontextmanager
async def treasury_stack(
    mongo_url: str, redis_url: str, directory: Path, *, serve_staking: bool = True, chain: ChainBench | None = None,
    trongrid_url: str | None = None, **settings: Any,
) -> AsyncIterator[TreasuryStack]:
    """The stack; `settings` change staking's (StakingSettings field names). `chain`: reuse a running devnet.
    `trongrid_url`: where tron-client reads devnet (a counting proxy in front of it, say)."""
    async with AsyncExitStack() as stack:
        if chain is None:
            chain = await stack.enter_async_context(chain_bench(redis_url, **DYNAMIC_ENERGY))
        devnet = chain.devnet
        directory.mkdir(parents=True, exist_ok=True)
        tron = await stack.enter_async_context(
            start_tron_client(devnet if trongrid_url is None else _At(trongrid_url))  # type: ignore[arg-type]
        )
        wallet = await stack.enter_async_context(
            wallet_manager(mongo_url, directory, usdt_contract=devnet.usdt_address)
        )
        policy = generous_policy(allowed_contracts=[devnet.usdt_address], max_fee_limit_sun=PAYMENT_FEE_LIMIT_SUN)
        wallets, addresses = {}, {}
        for role in ("payment", "staking", "payout"):
            created = await create_hd(wallet.stub, spend_policy=policy)
            wallets[role], addresses[role] = created.wallet_id, created.first_address
        devnet.fund(addresses["staking"], trx_sun=STAKING_TRX_SUN)
        # The payout wallet is an activated account (it pays payouts); it holds no USDT yet.
        devnet.fund(addresses["payout"], trx_sun=PAYOUT_TRX_SUN)
        await stake(wallet, tron, wallets["staking"], addresses["staking"], chain)
        gateway_settings = PaymentGatewaySettings(**{
            "port": 0, "insecure_plaintext": True, "mongo_url": mongo_url,
            "mongo_database": f"gateway_{uuid.uuid4().hex[:12]}", "redis_url": redis_url,
            "tron_client_addr": tron.server.address, "tron_relay_addr": chain.relay.server.address,
            "wallet_manager_addr": wallet.server.address, "usdt_contract": devnet.usdt_address,
            "payment_wallet_id": wallets["payment"], "tron_network": "devnet", "dependency_check_interval_s": 5.0,
            **WATCHER,
        })  # fmt: skip
        gateway_server = await stack.enter_async_context(serving(build_gateway(gateway_settings), gateway_settings))
        gateway_channel = await stack.enter_async_context(grpc.aio.insecure_channel(gateway_server.address))
        staking_settings = StakingSettings(**{
            "port": 0, "insecure_plaintext": True, "mongo_url": mongo_url,
            "mongo_database": f"staking_{uuid.uuid4().hex[:12]}", "tron_client_addr": tron.server.address,
            "wallet_manager_addr": wallet.server.address, "payment_gateway_addr": gateway_server.address,
            "usdt_contract": devnet.usdt_address, "payout_wallet_id": wallets["payout"],
            "payment_wallet_id": wallets["payment"], "staking_wallet_id": wallets["staking"],
            "dependency_check_interval_s": 5.0, **FAST, **settings,
        })  # fmt: skip
        stub, staking_server = None, ""
        if serve_staking:
            server = await stack.enter_async_context(serving(build_staking(staking_settings), staking_settings))
            channel = await stack.enter_async_context(grpc.aio.insecure_channel(server.address))
            stub, staking_server = treasury_pb2_grpc.TreasuryServiceStub(channel), server.address
        yield TreasuryStack(chain, tron, wallet, wallets, addresses,
                            payment_gateway_pb2_grpc.PaymentGatewayServiceStub(gateway_channel), gateway_server,
                            staking_settings, stub, staking_server)


async def burned_sun(chain: ChainBench, txids: list[str]) -> int:
    """TRX burned by these transactions, read by tronpy from their receipts (fee: energy, bandwidth, activation)."""
    total = 0
    for one in txids:
        with contextlib.suppress(TransactionNotFound):
            total += int((await chain.tron.get_transaction_info(one)).get("fee", 0))
    return total


async def usdt_of(chain: ChainBench, address: str) -> int:
    contract = await chain.tron.get_contract(chain.devnet.usdt_address)
    return int(await contract.functions.balanceOf(address))


async def trx_of(chain: ChainBench, address: str) -> int:
    try:
        return int((await chain.tron.get_account(address)).get("balance", 0))
    except AddressNotFound:  # an account that was never activated
        return 0


#: Rewrites the JSON answer of one path: (path, answer) -> answer.
Rewrite = Callable[[str, dict[str, Any]], dict[str, Any]]


@asynccontextmanager
async def node_proxy(target: str, rewrite: Rewrite | None = None) -> AsyncIterator[tuple[str, Counter[str]]]:
    """An HTTP proxy on loopback in front of the node at `target`: it counts the requests per path, and `rewrite`
    (when given) changes JSON answers, to play a node that answers what devnet would not."""
    counts: Counter[str] = Counter()
    async with aiohttp.ClientSession() as session:

        async def forward(request: web.Request) -> web.Response:
            counts[request.path] += 1
            body = await request.read()
            async with session.request(request.method, target + request.path_qs, data=body,
                                       headers={"Content-Type": request.content_type}) as answer:
                payload = await answer.read()
                if rewrite is not None and answer.content_type == "application/json":
                    payload = json.dumps(rewrite(request.path, json.loads(payload))).encode()
                return web.Response(body=payload, status=answer.status, content_type=answer.content_type)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", forward)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            yield f"http://127.0.0.1:{port}", counts
        finally:
            await runner.cleanup()
