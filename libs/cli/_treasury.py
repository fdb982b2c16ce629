"""`lucid-tron treasury ...`: the treasury (served by staking) for operators, as a gRPC client with an operator's
certificate.

    status                                       totals per asset, the payout address, last and next run
    sweep [--all] [--request-id ID]              look for paid invoices now and start their sweeps
    history [--invoice INV] [--deposit-address T...] [--asset USDT|TRX] [--state STATE] [--limit N]
    show SWEEP_ID                                one sweep with the transaction of every step

Amounts are shown in whole units (12.5 USDT, 3 TRX; fees in TRX). `sweep --all` also sweeps invoices under the sweep
threshold of their asset. With --state-dir the address and the operator certificate come from the endpoints.json of
a running `lucid-tron up` (the staking process); otherwise give --address and --ca/--cert/--key (--address alone:
plaintext, a mesh run with --insecure-plaintext).

Exit codes: 0 done, 1 refused (the status and reason on stderr), 2 bad arguments, 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from typing import Any, TextIO

from lucid_tron.cli._operator import add_connection_options, run_client, table, target, utc

__all__ = ["add_treasury_commands", "run_treasury"]

SERVICE = "staking"
_STATES = ("PENDING", "SWEEPING", "SWEPT", "FAILED")


def add_treasury_commands(commands: Any, state_dir_option: Any) -> None:
    """Declare `treasury` and its subcommands on the `lucid-tron` parser."""
    treasury = commands.add_parser(
        "treasury",
        help="the treasury for operators: status, sweep now, sweep history",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = treasury.add_subparsers(dest="treasury_command", required=True, metavar="ACTION")

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        parser = actions.add_parser(name, help=help_text, description=help_text)
        state_dir_option(parser)
        add_connection_options(parser, SERVICE)
        return parser

    action("status", "totals per asset, the payout address, the sweeper's last and next run")
    sweep = action("sweep", "look for paid invoices now and start their sweeps")
    sweep.add_argument("--all", action="store_true", help="also invoices under the sweep threshold")
    sweep.add_argument("--request-id", default=None, help="idempotency key (default: a new UUID)")
    history = action("history", "sweeps, newest first")
    history.add_argument("--invoice", default="", metavar="INVOICE_ID", help="only this invoice's sweep")
    history.add_argument("--deposit-address", default="", metavar="ADDRESS", help="only this deposit address")
    history.add_argument("--asset", choices=("USDT", "TRX"), default=None)
    history.add_argument("--state", choices=_STATES, default=None)
    history.add_argument("--limit", type=int, default=50, help="most rows (default 50)")
    show = action("show", "one sweep with the transaction of every step")
    show.add_argument("sweep_id", metavar="SWEEP_ID")


def run_treasury(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    """Run one `treasury` action; the exit status."""
    return run_client("treasury", lambda: _run(args, out or sys.stdout))


async def _run(args: argparse.Namespace, out: TextIO) -> int:
    from lucid.tron.v1 import treasury_pb2 as tr
    from lucid.tron.v1 import treasury_pb2_grpc

    from lucid_tron.mesh import open_channel

    service = target(args, SERVICE)
    async with open_channel(service.address, credentials=service.credentials) as channel:
        stub = treasury_pb2_grpc.TreasuryServiceStub(channel)
        command = args.treasury_command
        if command == "status":
            _print_treasury(out, (await stub.GetTreasury(tr.GetTreasuryRequest())).treasury)
        elif command == "sweep":
            started = await stub.RunSweep(tr.RunSweepRequest(request_id=args.request_id or str(uuid.uuid4()),
                                                             include_below_threshold=args.all))
            print(f"{len(started.sweeps)} sweeps started", file=out)
            if started.sweeps:
                _print_sweeps(out, list(started.sweeps))
        elif command == "history":
            request = tr.ListSweepsRequest(
                invoice_id=args.invoice, deposit_address=args.deposit_address,
                asset={"TRX": 1, "USDT": 2}.get(args.asset or "", 0),
                state=tr.SweepState.Value(f"SWEEP_STATE_{args.state}") if args.state else 0,
                page_size=min(max(args.limit, 1), 500),
            )
            _print_sweeps(out, list((await stub.ListSweeps(request)).sweeps))
        else:
            _print_sweep(out, (await stub.GetSweep(tr.GetSweepRequest(sweep_id=args.sweep_id))).sweep)
    return 0


def _units(base_units: int) -> str:
    from lucid_tron.chain import format_units

    return format_units(base_units, 6)


def _asset(number: int) -> str:
    return {1: "TRX", 2: "USDT"}.get(number, "?")


def _name(enum: Any, number: int, prefix: str) -> str:
    return str(enum.Name(number)).removeprefix(prefix)


def _print_treasury(out: TextIO, treasury: Any) -> None:
    print(f"payout address: {treasury.payout_address or '(none: PAYOUT_WALLET_ID is not set)'}", file=out)
    print(f"energy: {treasury.energy_strategy}; last run {utc(treasury.last_run_time)}, next run "
          f"{utc(treasury.next_run_time)}", file=out)
    table([["ASSET", "SWEPT", "SWEEPS", "PENDING", "OPEN", "FAILED", "TRX BURNED"], *[
        [_asset(t.asset), _units(t.swept_base_units), str(t.swept_count), _units(t.pending_base_units),
         str(t.pending_count), str(t.failed_count), _units(t.fee_sun)]
        for t in treasury.totals
    ]], out)


def _print_sweeps(out: TextIO, sweeps: list[Any]) -> None:
    from lucid.tron.v1 import treasury_pb2 as tr

    table([["SWEEP", "STATE", "AMOUNT", "ASSET", "INVOICE", "DEPOSIT ADDRESS", "TRX BURNED", "CREATED"], *[
        [s.sweep_id, _name(tr.SweepState, s.state, "SWEEP_STATE_"), _units(s.amount_base_units), _asset(s.asset),
         s.invoice_id, s.deposit_address, _units(s.fee_sun), utc(s.create_time)]
        for s in sweeps
    ]], out)


def _print_sweep(out: TextIO, sweep: Any) -> None:
    from lucid.tron.v1 import treasury_pb2 as tr

    fields = [
        ("sweep", sweep.sweep_id), ("state", _name(tr.SweepState, sweep.state, "SWEEP_STATE_")),
        ("reason", sweep.state_reason), ("invoice", sweep.invoice_id), ("deposit address", sweep.deposit_address),
        ("amount", f"{_units(sweep.amount_base_units)} {_asset(sweep.asset)}"), ("to", sweep.destination_address),
        ("trx burned", _units(sweep.fee_sun)), ("created", utc(sweep.create_time)),
    ]
    table([["FIELD", "VALUE"], *[[name, value] for name, value in fields if value]], out)
    if sweep.steps:
        print(file=out)
        table([["STEP", "STATE", "TXID", "AMOUNT", "ENERGY", "BLOCK", "TRX BURNED", "RESULT"], *[
            [_name(tr.SweepStepKind, s.kind, "SWEEP_STEP_KIND_"), _name(tr.SweepStepState, s.state, "SWEEP_STEP_STATE_"),
             s.txid, _units(s.amount_base_units), str(s.energy or ""), str(s.block_number or ""), _units(s.fee_sun),
             s.result]
            for s in sweep.steps
        ]], out)
