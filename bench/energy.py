"""TRX spent per USDT transfer with energy planning (StakingService energy plans) against burning TRX for the energy,
in the same run, on devnet.

    python -m bench.energy                    # ~15 s: 10 transfers each way
    python -m bench.energy --transfers 20 --json results.json

What runs, in this process over real gRPC on loopback: devnet (manual blocks, USDT's dynamic energy factor on:
+20 % every other maintenance period of 20 blocks), a SecantusDB, wallet-manager, tron-client, staking, and two
usdt-managers on the same wallet: one with STAKING_ADDR (every transfer planned) and one without (the sender burns
TRX within FEE_LIMIT_CAP_SUN, as before energy planning). The staking wallet stakes 500,000 TRX for energy and
--staking-bandwidth-trx for bandwidth (default 20,000, as an operator would, so its delegate and undelegate
transactions burn nothing; 0 shows what they burn without). Each mode
sends the same transfers from its own fresh sender (1,000 TRX, no stake), alternating recipients that already hold
USDT (~64,285 energy) and recipients that do not (~130,285), one at a time; a planned transfer is followed until its
plan is COMPLETED (the delegation taken back).

TRX spent = what the sender's balance lost plus what the staking wallet's balance lost (the plan's own transactions),
per transfer. The ratio is planned over burning: the share of the burned TRX that energy planning still spends.
Staking locks TRX that earns no yield here: that cost is out of scope, as in the issue.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import grpc

from bench.report import publish
from lucid.tron.v1 import common_pb2, staking_pb2, usdt_pb2, usdt_pb2_grpc, wallet_pb2, wallet_pb2_grpc
from lucid_tron.chain import PrivateKey, build_transaction, freeze_balance_v2
from lucid_tron.devnet import Devnet, DevnetConfig
from lucid_tron.keys import MasterSecret
from lucid_tron.mesh import serving
from lucid_tron.services.staking.__main__ import StakingSettings, build as build_staking
from lucid_tron.services.tron_client.__main__ import TronClientSettings, build as build_tron_client
from lucid_tron.services.usdt_manager.__main__ import UsdtManagerSettings, build as build_usdt
from lucid_tron.services.wallet_manager.__main__ import WalletManagerSettings, build as build_wallet
from lucid_tron.testing import MongoServer

__all__ = ["main"]

SUN = 1_000_000
SENDER_TRX_SUN = 1_000 * SUN
DIRECT = {"use_tor_for_external_calls": False, "allow_direct_external_calls": True}
ALL_KINDS = list(range(1, 9))


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.energy", description=__doc__.split("\n\n")[0])
    parser.add_argument("--transfers", type=int, default=10, help="USDT transfers per mode (default 10)")
    parser.add_argument("--staking-bandwidth-trx", type=int, default=20_000,
                        help="TRX the staking wallet stakes for bandwidth (default 20,000; 0: its delegations burn)")
    parser.add_argument("--json", help="write every number as JSON to this file ('-': JSON only, on stdout)")
    return parser.parse_args(argv)


class Chain:
    """The devnet and the calls the bench makes on it."""

    def __init__(self, devnet: Devnet) -> None:
        self.devnet = devnet

    async def while_producing(self, work: Any) -> Any:
        """Run `work`, putting what it broadcasts into blocks as it goes."""
        task = asyncio.ensure_future(work)
        while not task.done():
            if self.devnet.chain.pending_txids:
                self.devnet.produce_block()
            await asyncio.sleep(0.01)
        return await task

    def fresh_recipient(self, index: int) -> str:
        """Activated; holds USDT on even indexes (a transfer to it takes ~64,285 energy), none on odd (~130,285)."""
        address = PrivateKey(uuid.uuid4().bytes * 2).address
        self.devnet.fund(address, trx_sun=SUN, usdt_units=1 - index % 2)
        return address


async def _stake(chain: Chain, wallet: Any, wallet_id: str, owner: str, amount_sun: int, resource: str) -> None:
    head, now_ms = chain.devnet.chain.head, int(time.time() * 1000)
    tx = build_transaction(
        freeze_balance_v2(owner, amount_sun, resource),
        ref_block_number=head.number, ref_block_id=head.id, expiration_ms=now_ms + 60_000, timestamp_ms=now_ms,
    )
    raw_data = tx.raw_data.SerializeToString(deterministic=True)
    answer = await wallet.SignTransaction(wallet_pb2.SignTransactionRequest(
        wallet_id=wallet_id, raw_data=raw_data,
        intent=wallet_pb2.TransactionIntent(
            kind=wallet_pb2.TRANSACTION_KIND_FREEZE_BALANCE_V2, owner_address=owner, asset=common_pb2.ASSET_TRX,
            amount_base_units=amount_sun,
            resource=common_pb2.RESOURCE_ENERGY if resource == "ENERGY" else common_pb2.RESOURCE_BANDWIDTH,
        ),
    ))
    tx.signature.append(answer.signature)
    assert chain.devnet.chain.broadcast(tx).ok
    chain.devnet.produce_block()


async def _create_wallet(wallet: Any, usdt_contract: str) -> wallet_pb2.Wallet:
    policy = wallet_pb2.SpendPolicy(
        caps=[wallet_pb2.AssetCap(asset=asset, per_transaction_max_base_units=10**15, daily_max_base_units=10**16)
              for asset in (common_pb2.ASSET_TRX, common_pb2.ASSET_USDT)],
        allowed_kinds=ALL_KINDS, allowed_contracts=[usdt_contract], max_fee_limit_sun=100 * SUN,
    )
    answer = await wallet.CreateWallet(wallet_pb2.CreateWalletRequest(
        request_id=str(uuid.uuid4()), wallet=wallet_pb2.Wallet(spend_policy=policy)
    ))
    return answer.wallet


async def _send(chain: Chain, usdt: Any, wallet_id: str, sender: str, to: str, planned: bool) -> usdt_pb2.UsdtTransfer:
    request = usdt_pb2.TransferRequest(request_id=str(uuid.uuid4()), wallet_id=wallet_id, from_address=sender,
                                       to_address=to, amount_base_units=SUN)
    sent = (await chain.while_producing(usdt.Transfer(request))).transfer
    chain.devnet.produce_block()
    while True:
        status = (await usdt.GetTransfer(usdt_pb2.GetTransferRequest(txid=sent.txid))).transfer
        plan_done = not planned or status.energy_plan_state == staking_pb2.ENERGY_PLAN_STATE_COMPLETED
        if status.block_number and plan_done:
            return status
        chain.devnet.produce_block()
        await asyncio.sleep(0.01)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    config = DevnetConfig(block_interval=0, usdt_energy_factors=(0, 2_000), maintenance_period_blocks=20)
    with tempfile.TemporaryDirectory() as work, MongoServer() as mongo:
        key_file = Path(work) / "master_key"
        MasterSecret.create_file(key_file)
        async with AsyncExitStack() as stack:
            devnet = await stack.enter_async_context(Devnet(config).serve(host="127.0.0.1", port=0))
            chain = Chain(devnet)
            common = {"port": 0, "insecure_plaintext": True, "mongo_url": mongo.url, "usdt_contract": devnet.usdt_address}

            async def serve(build: Any, settings: Any) -> Any:
                return await stack.enter_async_context(serving(build(settings), settings))

            wallet_server = await serve(build_wallet, WalletManagerSettings(
                **common, mongo_database="bench_wallet", encryption_key_file=str(key_file)))
            client = await serve(build_tron_client, TronClientSettings(
                port=0, insecure_plaintext=True, trongrid_url=devnet.url, **DIRECT))
            wallet = wallet_pb2_grpc.WalletServiceStub(
                await stack.enter_async_context(grpc.aio.insecure_channel(wallet_server.address)))
            staking_wallet = await _create_wallet(wallet, devnet.usdt_address)
            payer = await _create_wallet(wallet, devnet.usdt_address)
            staking_address = staking_wallet.first_address
            devnet.fund(staking_address, trx_sun=600_000 * SUN)
            await _stake(chain, wallet, staking_wallet.wallet_id, staking_address, 500_000 * SUN, "ENERGY")
            if args.staking_bandwidth_trx:
                await _stake(chain, wallet, staking_wallet.wallet_id, staking_address,
                             args.staking_bandwidth_trx * SUN, "BANDWIDTH")
            senders = {}
            for index, mode in enumerate(("planned", "burning")):
                derived = await wallet.DeriveAddress(wallet_pb2.DeriveAddressRequest(wallet_id=payer.wallet_id, index=index))
                senders[mode] = derived.address.address
                devnet.fund(senders[mode], trx_sun=SENDER_TRX_SUN, usdt_units=10**12)
            staking = await serve(build_staking, StakingSettings(
                **common, mongo_database="bench_staking", tron_client_addr=client.address,
                wallet_manager_addr=wallet_server.address, staking_wallet_id=staking_wallet.wallet_id))
            usdt_fields = {**common, "tron_client_addr": client.address, "tron_relay_addr": "127.0.0.1:9",
                           "wallet_manager_addr": wallet_server.address}
            managers = {
                "planned": await serve(build_usdt, UsdtManagerSettings(
                    **usdt_fields, mongo_database="bench_usdt_planned", staking_addr=staking.address)),
                "burning": await serve(build_usdt, UsdtManagerSettings(**usdt_fields, mongo_database="bench_usdt_burn")),
            }
            stubs = {
                mode: usdt_pb2_grpc.UsdtServiceStub(
                    await stack.enter_async_context(grpc.aio.insecure_channel(server.address)))
                for mode, server in managers.items()
            }
            before = {mode: devnet.trx_balance(sender) for mode, sender in senders.items()}
            staking_before = devnet.trx_balance(staking_address)
            rows: dict[str, list[usdt_pb2.UsdtTransfer]] = {mode: [] for mode in managers}
            # Interleaved, so that both modes meet the same maintenance periods (energy factors).
            for index in range(args.transfers):
                for mode, usdt in stubs.items():
                    status = await _send(chain, usdt, payer.wallet_id, senders[mode], chain.fresh_recipient(index),
                                         mode == "planned")
                    assert status.state in (usdt_pb2.TRANSFER_STATE_INCLUDED, usdt_pb2.TRANSFER_STATE_CONFIRMED), status
                    rows[mode].append(status)
            results: dict[str, Any] = {"transfers": args.transfers,
                                       "staking_bandwidth_trx": args.staking_bandwidth_trx}
            for mode in managers:
                sender_spent = before[mode] - devnet.trx_balance(senders[mode])
                staking_spent = staking_before - devnet.trx_balance(staking_address) if mode == "planned" else 0
                results[mode] = {
                    "sender_spent_sun": sender_spent,
                    "staking_wallet_spent_sun": staking_spent,
                    "sun_per_transfer": (sender_spent + staking_spent) // args.transfers,
                    "energy_used": sum(row.energy_used for row in rows[mode]),
                    "sources": sorted({staking_pb2.EnergySource.Name(row.energy_source) for row in rows[mode]}),
                }
            results["ratio_planned_vs_burning"] = (
                results["planned"]["sun_per_transfer"] / results["burning"]["sun_per_transfer"]
            )
            return results


def _table(results: dict[str, Any]) -> str:
    lines = [
        f"TRX spent per USDT transfer, {results['transfers']} transfers each (half to holders, half to new holders); "
        f"the staking wallet stakes {results['staking_bandwidth_trx']:,} TRX for bandwidth",
        f"{'mode':<10} {'TRX/transfer':>13} {'sender TRX':>11} {'staking TRX':>12} {'energy used':>12}  sources",
    ]
    for mode in ("burning", "planned"):
        row = results[mode]
        lines.append(
            f"{mode:<10} {row['sun_per_transfer'] / SUN:>13.3f} {row['sender_spent_sun'] / SUN:>11.3f} "
            f"{row['staking_wallet_spent_sun'] / SUN:>12.3f} {row['energy_used']:>12}  {','.join(row['sources'])}"
        )
    lines.append(f"planned / burning: {results['ratio_planned_vs_burning']:.3f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    results = asyncio.run(run(args))
    publish(results, [_table(results)], args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
