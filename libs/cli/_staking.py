"""`lucid-tron staking ...`: Stake 2.0 for operators, as a gRPC client of staking with an operator's certificate.

    resources [ADDRESS]                    forecast [ADDRESS] [--planned N] [--target N] [--extra-stake TRX]
    freeze --amount TRX [--resource energy|bandwidth]       unfreeze --amount TRX [--resource ...]
    delegate --to T... --amount TRX [--resource ...] [--lock [--lock-period BLOCKS]]
    undelegate --to T... --amount TRX [--resource ...]      withdraw        cancel-unfreeze

Amounts are typed and shown in TRX (12.5), sent as SUN. The writes act for --wallet and --owner, by default the
staking wallet of a running `lucid-tron up` (endpoints.json's "staking_wallet"), and print the broadcast txid; the
views default to its address. With --state-dir the address and the operator certificate come from endpoints.json;
otherwise give --address and --ca/--cert/--key (--address alone: plaintext, a mesh run with --insecure-plaintext).

Exit codes: 0 done, 1 refused (the status and reason on stderr), 2 bad arguments, 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from pathlib import Path
from typing import Any, TextIO

from lucid_tron.cli._operator import Refused, add_connection_options, run_client, table, target, utc

__all__ = ["add_staking_commands", "run_staking"]

SERVICE = "staking"
_RESOURCES = {"energy": 2, "bandwidth": 1}
_RESOURCE_NAMES = {number: name.upper() for name, number in _RESOURCES.items()}


def add_staking_commands(commands: Any, state_dir_option: Any) -> None:
    """Declare `staking` and its subcommands on the `lucid-tron` parser."""
    staking = commands.add_parser(
        "staking",
        help="Stake 2.0 for operators: resources, forecast, freeze, unfreeze, delegate, undelegate, withdraw, ...",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = staking.add_subparsers(dest="staking_command", required=True, metavar="ACTION")

    def action(name: str, help_text: str, *, writes: bool = False) -> argparse.ArgumentParser:
        parser = actions.add_parser(name, help=help_text, description=help_text)
        state_dir_option(parser)
        add_connection_options(parser, SERVICE)
        if writes:
            parser.add_argument("--wallet", default="", metavar="WALLET_ID", help="default: the staking wallet")
            parser.add_argument("--owner", default="", metavar="ADDRESS", help="default: the staking wallet's")
            parser.add_argument("--request-id", default=None, help="idempotency key (default: a new UUID)")
        return parser

    def amount_and_resource(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--amount", required=True, metavar="TRX", help="in TRX, e.g. 100 or 2.5")
        parser.add_argument("--resource", choices=sorted(_RESOURCES), default="energy")

    for name, help_text in (("resources", "staked, delegated, available and used, unstakes, withdrawable"),
                            ("forecast", "energy and bandwidth over the next 24 h, and what they pay for")):
        view = action(name, help_text)
        view.add_argument("address_arg", nargs="?", default="", metavar="ADDRESS",
                          help="the account (default: the staking wallet's address)")
    forecast = actions.choices["forecast"]
    forecast.add_argument("--planned", type=int, default=0, metavar="N", help="USDT transfers planned in 24 h")
    forecast.add_argument("--target", type=int, default=0, metavar="N", help="USDT transfers a day to plan stake for")
    forecast.add_argument("--extra-stake", default="0", metavar="TRX", help="stake for energy to add hypothetically")
    amount_and_resource(action("freeze", "stake TRX for energy or bandwidth", writes=True))
    amount_and_resource(action("unfreeze", "start unstaking (withdrawable after the chain's wait)", writes=True))
    delegate = action("delegate", "lend the resource of staked TRX to an activated account", writes=True)
    delegate.add_argument("--to", required=True, metavar="ADDRESS", help="base58 receiver")
    amount_and_resource(delegate)
    delegate.add_argument("--lock", action="store_true", help="so it cannot be taken back before the lock ends")
    delegate.add_argument("--lock-period", type=int, default=0, metavar="BLOCKS", help="with --lock (0: 3 days)")
    undelegate = action("undelegate", "take delegated resources back", writes=True)
    undelegate.add_argument("--to", required=True, metavar="ADDRESS", help="base58 receiver")
    amount_and_resource(undelegate)
    action("withdraw", "withdraw the unstaked TRX whose wait is over", writes=True)
    action("cancel-unfreeze", "cancel every unstake: waiting ones are staked again, due ones withdrawn", writes=True)


def run_staking(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    """Run one `staking` action; the exit status."""
    return run_client("staking", lambda: _run(args, out or sys.stdout))


async def _run(args: argparse.Namespace, out: TextIO) -> int:
    from lucid.tron.v1 import staking_pb2 as st
    from lucid.tron.v1 import staking_pb2_grpc

    from lucid_tron.mesh import open_channel

    service = target(args, SERVICE)
    command = args.staking_command
    async with open_channel(service.address, credentials=service.credentials) as channel:
        stub = staking_pb2_grpc.StakingServiceStub(channel)
        if command == "resources":
            address = args.address_arg or _staking_wallet(args)[1]
            _print_resources(out, await stub.GetResources(st.GetResourcesRequest(address=address)))
            return 0
        if command == "forecast":
            request = st.ForecastResourcesRequest(
                address=args.address_arg or _staking_wallet(args)[1], planned_usdt_transfers=args.planned,
                target_usdt_transfers_per_day=args.target, additional_energy_stake_sun=_sun(args.extra_stake),
            )
            _print_forecast(out, await stub.ForecastResources(request))
            return 0
        wallet_id, owner = (args.wallet, args.owner) if args.wallet and args.owner else _staking_wallet(args)
        common = {"request_id": args.request_id or str(uuid.uuid4()), "wallet_id": wallet_id, "owner_address": owner}
        if command in ("freeze", "unfreeze", "delegate", "undelegate"):
            common |= {"amount_sun": _sun(args.amount), "resource": _RESOURCES[args.resource]}
        if command == "freeze":
            sent = await stub.FreezeBalance(st.FreezeBalanceRequest(**common))
            rows = []
        elif command == "unfreeze":
            sent = await stub.UnfreezeBalance(st.UnfreezeBalanceRequest(**common))
            rows = [("withdrawable", utc(sent.withdrawable_time))]
        elif command == "delegate":
            sent = await stub.DelegateResource(st.DelegateResourceRequest(
                **common, receiver_address=args.to, lock=args.lock, lock_period_blocks=args.lock_period))
            rows = []
        elif command == "undelegate":
            sent = await stub.UndelegateResource(st.UndelegateResourceRequest(**common, receiver_address=args.to))
            rows = []
        elif command == "withdraw":
            sent = await stub.WithdrawExpireUnfreeze(st.WithdrawExpireUnfreezeRequest(**common))
            rows = [("withdrawn", f"{_trx(sent.withdrawable_sun)} TRX")]
        else:
            sent = await stub.CancelAllUnfreeze(st.CancelAllUnfreezeRequest(**common))
            rows = [("restaked", f"{_trx(sent.restaked_sun)} TRX"), ("withdrawn", f"{_trx(sent.withdrawn_sun)} TRX")]
        table([["FIELD", "VALUE"], ["txid", sent.transaction.txid],
               ["expires", utc(sent.transaction.expiration_time)], *[list(row) for row in rows]], out)
    return 0


def _staking_wallet(args: argparse.Namespace) -> tuple[str, str]:
    """(wallet id, address) of the staking wallet in endpoints.json."""
    from lucid_tron.cli._endpoints import Endpoints

    if args.address:
        raise Refused("with --address, give --wallet and --owner (views: the ADDRESS)")
    wallet = Endpoints.read(Path(args.state_dir)).staking_wallet
    if not wallet:
        raise Refused(f"endpoints.json of {args.state_dir} names no staking_wallet; give --wallet and --owner")
    return wallet["wallet_id"], wallet["address"]


def _sun(text: str) -> int:
    from lucid_tron.chain import ChainError, parse_trx

    try:
        return parse_trx(text)
    except ChainError as error:
        raise Refused(f"amount {text!r}: {error}") from None


def _trx(sun: int) -> str:
    from lucid_tron.chain import format_trx

    return format_trx(sun)


def _print_resources(out: TextIO, found: Any) -> None:
    r = found.resources
    table([["RESOURCE", "STAKED TRX", "DELEGATED OUT", "DELEGATED IN", "DELEGATABLE", "LIMIT", "USED", "AVAILABLE"],
           ["energy", _trx(r.staked_for_energy_sun), _trx(r.delegated_energy_out_sun),
            _trx(r.delegated_energy_in_sun), _trx(found.delegatable_energy_sun), str(r.energy_limit),
            str(r.energy_used), str(found.energy_available)],
           ["bandwidth", _trx(r.staked_for_bandwidth_sun), _trx(r.delegated_bandwidth_out_sun),
            _trx(r.delegated_bandwidth_in_sun), _trx(found.delegatable_bandwidth_sun),
            f"{r.bandwidth_limit}+{r.free_bandwidth_limit} free", str(r.bandwidth_used + r.free_bandwidth_used),
            str(found.bandwidth_available)]], out)
    print(f"withdrawable: {_trx(found.withdrawable_sun)} TRX", file=out)
    if found.pending_unfreezes:
        print(file=out)
        table([["UNSTAKING", "TRX", "WITHDRAWABLE AT"], *[
            [_RESOURCE_NAMES.get(u.resource, "?").lower(), _trx(u.amount_sun), utc(u.withdrawable_time)]
            for u in found.pending_unfreezes
        ]], out)
    if found.delegations:
        print(file=out)
        table([["DELEGATED TO", "RESOURCE", "TRX", "LOCKED UNTIL"], *[
            [d.receiver_address, _RESOURCE_NAMES.get(d.resource, "?").lower(), _trx(d.amount_sun),
             utc(d.lock_expire_time)]
            for d in found.delegations
        ]], out)


def _print_forecast(out: TextIO, found: Any) -> None:
    fields = [
        ("energy a day", str(found.energy_per_day)), ("bandwidth a day", str(found.bandwidth_per_day)),
        ("USDT transfers a day (to holders)", str(found.usdt_transfers_to_holders_per_day)),
        ("USDT transfers a day (to new holders)", str(found.usdt_transfers_to_new_holders_per_day)),
        ("planned transfers", str(found.planned_usdt_transfers)), ("energy shortfall", str(found.energy_shortfall)),
        ("stake needed for the target", f"{_trx(found.stake_needed_sun)} TRX"),
        ("burned a day without it", f"{_trx(found.daily_burn_without_stake_sun)} TRX"),
    ]
    table([["FIELD", "VALUE"], *[[name, value] for name, value in fields]], out)
    print(file=out)
    table([["TIME", "ENERGY", "BANDWIDTH"], *[
        [utc(point.time), str(point.energy_available), str(point.bandwidth_available)] for point in found.hourly
    ]], out)
