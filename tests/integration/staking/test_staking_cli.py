"""`lucid-tron staking` (the operators' client of staking) and the stake `lucid-tron up` makes, against the served
stack on devnet (plaintext; the mesh's mutual TLS is the same `_operator` connection `payouts` is tested with).
Without --wallet/--owner a write acts for the staking wallet endpoints.json names."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest

from integration.staking.staking_kit import ENERGY, TRX, StakingStack
from lucid_tron.cli._endpoints import Endpoints
from lucid_tron.cli._main import build_parser
from lucid_tron.cli._staking import run_staking
from lucid_tron.cli._up_wallets import (
    STAKED_FOR_BANDWIDTH_SUN,
    STAKED_FOR_ENERGY_SUN,
    STAKING_FUNDING_TRX_SUN,
    stake_up_wallet,
)


@pytest.fixture
def state_dir(stack: StakingStack, tmp_path: Path) -> Path:
    """An endpoints.json as a plaintext `up` writes it, naming the stack's staking and its wallet."""
    directory = tmp_path / "state"
    directory.mkdir()
    Endpoints(
        services={"staking": stack.server.address}, devnet_url=stack.devnet.url,
        usdt_contract=stack.devnet.usdt_address,
        mongo_url=stack.mongo_url, redis_url="redis://127.0.0.1:9/0", metrics={}, health={}, tls=None,
        staking_wallet={"wallet_id": stack.wallet_id, "address": stack.owner},
    ).write(directory)
    return directory


async def cli(state_dir: Path, *argv: str) -> tuple[int, str]:
    action, *rest = argv
    args = build_parser().parse_args(["staking", action, "--state-dir", str(state_dir), *rest])
    out = io.StringIO()
    status = await asyncio.to_thread(run_staking, args, out=out)
    return status, out.getvalue()


def field(output: str, name: str) -> str:
    [value] = [line.split(None, 1)[1] for line in output.splitlines() if line.startswith(f"{name} ")]
    return value.strip()


async def test_freeze_stakes_for_the_staking_wallet_and_resources_shows_it(stack: StakingStack, state_dir: Path):
    status, frozen = await cli(state_dir, "freeze", "--amount", "100", "--resource", "energy")
    stack.settle()
    shown_status, shown = await cli(state_dir, "resources")

    assert (status, shown_status) == (0, 0)
    assert len(field(frozen, "txid")) == 64
    energy = next(line.split() for line in shown.splitlines() if line.startswith("energy "))
    assert energy[1] == "100"
    assert "withdrawable: 0 TRX" in shown


async def test_unfreeze_prints_when_the_trx_becomes_withdrawable(stack: StakingStack, state_dir: Path):
    await stack.stub.FreezeBalance(stack.freeze(ENERGY, 10 * TRX))
    stack.settle()

    status, unfrozen = await cli(state_dir, "unfreeze", "--amount", "2.5")
    stack.settle()
    _, shown = await cli(state_dir, "resources")

    assert status == 0 and field(unfrozen, "withdrawable") != "-"
    assert [line.split()[:2] for line in shown.splitlines() if line.startswith("energy ")][-1] == ["energy", "2.5"]


async def test_delegate_and_undelegate_to_an_address(stack: StakingStack, state_dir: Path):
    receiver = stack.activated_address("cli receiver")
    await stack.stub.FreezeBalance(stack.freeze(ENERGY, 10 * TRX))
    stack.settle()

    delegated, _ = await cli(state_dir, "delegate", "--to", receiver, "--amount", "4")
    stack.settle()
    _, shown = await cli(state_dir, "resources")
    undelegated, _ = await cli(state_dir, "undelegate", "--to", receiver, "--amount", "4")
    stack.settle()

    assert (delegated, undelegated) == (0, 0)
    assert [line.split()[:3] for line in shown.splitlines() if line.startswith(receiver)] == [[receiver, "energy", "4"]]
    assert list((await stack.resources()).delegations) == []


async def test_a_refusal_prints_the_status_and_exits_1(stack: StakingStack, state_dir: Path, capsys):
    status, _ = await cli(state_dir, "withdraw")

    assert status == 1
    assert capsys.readouterr().err.startswith("lucid-tron staking: FAILED_PRECONDITION")


async def test_cancel_unfreeze_with_nothing_pending_is_refused(stack: StakingStack, state_dir: Path, capsys):
    status, _ = await cli(state_dir, "cancel-unfreeze")

    assert status == 1 and "has no unstake to cancel" in capsys.readouterr().err


async def test_a_bad_amount_is_refused_before_any_call(stack: StakingStack, state_dir: Path, capsys):
    status, _ = await cli(state_dir, "freeze", "--amount", "1.0000001")

    assert status == 1 and "amount" in capsys.readouterr().err


async def test_forecast_prints_the_day_hour_by_hour(stack: StakingStack, state_dir: Path):
    status, shown = await cli(state_dir, "forecast", stack.owner, "--planned", "3", "--target", "2")

    assert status == 0
    assert [line.split()[-1] for line in shown.splitlines() if line.startswith("planned transfers")] == ["3"]
    assert len([line for line in shown.splitlines() if line[:2] == "20"]) == 25


async def test_up_stakes_the_staking_wallet_once_and_not_again(stack: StakingStack):
    wallet = {"wallet_id": stack.wallet_id, "address": stack.owner}
    stack.devnet.fund(stack.owner, trx_sun=STAKING_FUNDING_TRX_SUN)

    first = await stake_up_wallet(stack.server.address, None, wallet)
    stack.settle()
    again = await stake_up_wallet(stack.server.address, None, wallet)

    assert (len(first), again) == (2, [])
    found = (await stack.resources()).resources
    assert (found.staked_for_energy_sun, found.staked_for_bandwidth_sun) == (
        STAKED_FOR_ENERGY_SUN, STAKED_FOR_BANDWIDTH_SUN
    )
