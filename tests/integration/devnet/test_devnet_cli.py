"""`python -m lucid_tron.devnet`: prints one JSON line with its URL and USDT address, serves, stops on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import signal
import sys

import aiohttp
import pytest

from lucid_tron.devnet import main

FUND = "TCPrNU1gePQ5BnoGe8vg6yyDqNwmHExBEw:5000000:7"


async def start(*args: str) -> tuple[asyncio.subprocess.Process, dict]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "lucid_tron.devnet", "--port", "0", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    line = await asyncio.wait_for(process.stdout.readline(), timeout=30)
    return process, json.loads(line)


async def stop(process: asyncio.subprocess.Process) -> int:
    process.send_signal(signal.SIGTERM)
    return await asyncio.wait_for(process.wait(), timeout=10)


async def test_the_command_prints_its_url_and_serves_until_sigterm():
    process, info = await start("--block-interval", "0", "--fund", FUND, "--fund", FUND)
    try:
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{info['url']}/wallet/getaccount",
                                    json={"address": FUND.split(":")[0], "visible": True}) as response:
                account = await response.json()
    finally:
        status = await stop(process)

    assert info["url"].startswith("http://127.0.0.1:")
    assert account["balance"] == 10_000_000  # --fund is repeatable; the same address is credited twice
    assert status == 0


async def test_the_same_flags_give_the_same_usdt_address_and_genesis():
    runs = []
    for _ in range(2):
        process, info = await start("--block-interval", "0", "--fund", FUND, "--seed", "same")
        await stop(process)
        runs.append((info["usdt_address"], info["genesis_block_id"], info["chain_id"]))

    assert runs[0] == runs[1]


async def test_the_mainnet_behaviour_flags_reach_the_devnet():
    process, info = await start("--block-interval", "0", "--reorg-drop", "--usdt-energy-factors", "0,5000",
                                "--maintenance-blocks", "4", "--read-lag", "3:0.5")
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{info['url']}/devnet/faults") as response:
                faults = await response.json()
    finally:
        await stop(process)

    assert (info["reorg_requeue"], info["usdt_energy_factors"], info["maintenance_period_blocks"]) == (
        False, [0, 5000], 4)
    [rule] = faults["rules"]
    assert (rule["lag_blocks"], rule["rate"]) == (3, 0.5)


@pytest.mark.parametrize("flags", [["--read-lag", "40"], ["--read-lag", "x"], ["--usdt-energy-factors", "1,a"]])
def test_a_bad_mainnet_behaviour_flag_exits_with_status_2(flags):
    with pytest.raises(SystemExit) as exit_info:
        main(flags)
    assert exit_info.value.code == 2


@pytest.mark.parametrize("spec", ["not-an-address:1:2", "TCPrNU1gePQ5BnoGe8vg6yyDqNwmHExBEw:1.5:0"])
def test_a_bad_fund_spec_exits_with_status_2(spec, capsys):
    assert main(["--fund", spec]) == 2
    assert "lucid-tron devnet:" in capsys.readouterr().err


async def test_importing_devnet_loads_neither_grpc_nor_tronpy():
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c",
        "import sys, lucid_tron.devnet; print(sorted(m for m in sys.modules if m.startswith(('grpc', 'tronpy'))))",
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=30)

    assert out.decode().strip() == "[]"
