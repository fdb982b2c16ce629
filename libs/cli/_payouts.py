"""`lucid-tron payouts ...`: payout-router for operators, as a gRPC client with an operator's certificate.

    create --to T... --amount 12.5 [--asset USDT|TRX] [--reference TEXT] [--request-id ID]
    list [--state STATE ...] [--to T...] [--batch BATCH_ID] [--limit N]      show PAYOUT_ID
    approve PAYOUT_ID        reject PAYOUT_ID --reason TEXT        cancel PAYOUT_ID [--reason TEXT]
    fail PAYOUT_ID --reason TEXT                    (FAILED once the chain proves no attempt can land)
    limits                   breaker [open|close --reason TEXT]
    batch create (--pay T...=12.5[:TRX] ... | --file PAYOUTS.csv) [--reference TEXT] [--request-id ID]
    batch list [--state STATE ...] [--limit N]      batch show BATCH_ID
    batch approve BATCH_ID   batch reject BATCH_ID --reason TEXT

A batch's CSV file has one payout a line: recipient,amount[,asset[,reference]] (asset USDT by default).

Amounts are typed and shown in whole units (12.5 USDT, 3 TRX), sent as base units. Approve and reject read the
payout first and send its etag: the approver is the identity of the certificate, never an argument. With
--state-dir the address and the operator certificate come from the endpoints.json of a running `lucid-tron up`;
otherwise give --address and --ca/--cert/--key (--address alone: plaintext, a mesh run with --insecure-plaintext).

Exit codes: 0 done, 1 refused (the status and reason on stderr), 2 bad arguments, 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import uuid
from typing import Any, TextIO

from lucid_tron.cli._operator import Refused, add_connection_options, run_client, table, target

__all__ = ["add_payout_commands", "run_payouts"]

SERVICE = "payout-router"

_STATES = ("AWAITING_APPROVAL", "APPROVED", "HELD", "SIGNED", "BROADCAST", "CONFIRMED", "FAILED", "REJECTED",
           "CANCELLED")
_BATCH_STATES = ("AWAITING_APPROVAL", "APPROVED", "REJECTED")
_ASSETS = {"TRX": 1, "USDT": 2}


def add_payout_commands(commands: Any, state_dir_option: Any) -> None:
    """Declare `payouts` and its subcommands on the `lucid-tron` parser."""
    payouts = commands.add_parser(
        "payouts",
        help="payout-router for operators: create, list, show, approve, reject, cancel, fail, limits, breaker, batch",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = payouts.add_subparsers(dest="payouts_command", required=True, metavar="ACTION")

    def action(name: str, help_text: str, under: Any = actions) -> argparse.ArgumentParser:
        parser = under.add_parser(name, help=help_text, description=help_text)
        state_dir_option(parser)
        add_connection_options(parser, SERVICE)
        return parser

    create = action("create", "create a payout (approved at once up to the threshold, else awaiting approval)")
    create.add_argument("--to", required=True, metavar="ADDRESS", help="base58 recipient")
    create.add_argument("--amount", required=True, metavar="AMOUNT", help="in whole units, e.g. 12.5")
    create.add_argument("--asset", choices=("USDT", "TRX"), default="USDT")
    create.add_argument("--reference", default="", help="your reference, e.g. 'operator earnings 2026-05'")
    create.add_argument("--request-id", default=None, help="idempotency key (default: a new UUID)")
    listing = action("list", "list payouts, newest first")
    listing.add_argument("--state", action="append", choices=_STATES, default=[], help="only these (repeatable)")
    listing.add_argument("--to", default="", metavar="ADDRESS", help="only to this recipient")
    listing.add_argument("--batch", default="", metavar="BATCH_ID", help="only the payouts of this batch")
    listing.add_argument("--limit", type=int, default=50, help="most rows (default 50)")
    show = action("show", "one payout with its attempts")
    show.add_argument("payout_id", metavar="PAYOUT_ID")
    approve = action("approve", "approve a payout awaiting approval (not your own)")
    approve.add_argument("payout_id", metavar="PAYOUT_ID")
    reject = action("reject", "reject a payout awaiting approval")
    reject.add_argument("payout_id", metavar="PAYOUT_ID")
    reject.add_argument("--reason", required=True)
    cancel = action("cancel", "cancel a payout before it is signed")
    cancel.add_argument("payout_id", metavar="PAYOUT_ID")
    cancel.add_argument("--reason", default="")
    fail = action("fail", "give a signed payout up: FAILED once the chain proves no attempt of it can land")
    fail.add_argument("payout_id", metavar="PAYOUT_ID")
    fail.add_argument("--reason", required=True)
    action("limits", "limits per asset and per caller role with their use and headroom")
    breaker = action("breaker", "show the breaker, or open / close it")
    breaker.add_argument("change", nargs="?", choices=("open", "close"))
    breaker.add_argument("--reason", default="")
    batches = actions.add_parser("batch", help="many payouts under one approval: create, list, show, approve, reject")
    batch_actions = batches.add_subparsers(dest="batch_command", required=True, metavar="ACTION")
    batch_create = action("create", "create a batch (one approval for all its payouts when its total needs one)",
                          batch_actions)
    batch_create.add_argument("--pay", action="append", default=[], metavar="ADDRESS=AMOUNT[:ASSET]",
                              help="one payout, e.g. T...=12.5 or T...=3:TRX (repeatable)")
    batch_create.add_argument("--file", default=None, metavar="CSV",
                              help="payouts, one a line: recipient,amount[,asset[,reference]]; - for stdin")
    batch_create.add_argument("--reference", default="", help="your reference for the whole batch")
    batch_create.add_argument("--request-id", default=None, help="idempotency key (default: a new UUID)")
    batch_list = action("list", "list batches, newest first", batch_actions)
    batch_list.add_argument("--state", action="append", choices=_BATCH_STATES, default=[], help="only these")
    batch_list.add_argument("--limit", type=int, default=50, help="most rows (default 50)")
    batch_show = action("show", "one batch with its payouts", batch_actions)
    batch_show.add_argument("batch_id", metavar="BATCH_ID")
    batch_approve = action("approve", "approve a batch awaiting approval (not your own), and all its payouts",
                           batch_actions)
    batch_approve.add_argument("batch_id", metavar="BATCH_ID")
    batch_reject = action("reject", "reject a batch awaiting approval, and all its payouts", batch_actions)
    batch_reject.add_argument("batch_id", metavar="BATCH_ID")
    batch_reject.add_argument("--reason", required=True)


def run_payouts(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    """Run one `payouts` action; the exit status."""
    return run_client("payouts", lambda: _run(args, out or sys.stdout))


async def _run(args: argparse.Namespace, out: TextIO) -> int:
    from lucid.tron.v1 import payout_router_pb2 as pr
    from lucid.tron.v1 import payout_router_pb2_grpc

    from lucid_tron.mesh import open_channel

    service = target(args, SERVICE)
    async with open_channel(service.address, credentials=service.credentials) as channel:
        stub = payout_router_pb2_grpc.PayoutRouterServiceStub(channel)
        command = args.payouts_command
        if command == "batch":
            await _run_batch(args, stub, out)
        elif command == "create":
            asset = _ASSETS[args.asset]
            created = await stub.CreatePayout(pr.CreatePayoutRequest(
                request_id=args.request_id or str(uuid.uuid4()),
                payout=pr.Payout(recipient=args.to, asset=asset, amount_base_units=_base_units(args.amount),
                                 reference=args.reference),
            ))
            _print_payouts(out, [created.payout])
        elif command == "list":
            request = pr.ListPayoutsRequest(states=[pr.PayoutState.Value(f"PAYOUT_STATE_{s}") for s in args.state],
                                            recipient=args.to, batch_id=args.batch,
                                            page_size=min(max(args.limit, 1), 500))
            _print_payouts(out, list((await stub.ListPayouts(request)).payouts))
        elif command == "show":
            _print_payout(out, (await stub.GetPayout(pr.GetPayoutRequest(payout_id=args.payout_id))).payout)
        elif command in ("approve", "reject"):
            current = (await stub.GetPayout(pr.GetPayoutRequest(payout_id=args.payout_id))).payout
            if command == "approve":
                decided = await stub.ApprovePayout(pr.ApprovePayoutRequest(payout_id=args.payout_id,
                                                                           etag=current.etag))
            else:
                decided = await stub.RejectPayout(pr.RejectPayoutRequest(payout_id=args.payout_id,
                                                                         etag=current.etag, reason=args.reason))
            _print_payouts(out, [decided.payout])
        elif command == "cancel":
            cancelled = await stub.CancelPayout(pr.CancelPayoutRequest(payout_id=args.payout_id, reason=args.reason))
            _print_payouts(out, [cancelled.payout])
        elif command == "fail":
            current = (await stub.GetPayout(pr.GetPayoutRequest(payout_id=args.payout_id))).payout
            failed = await stub.FailPayout(pr.FailPayoutRequest(payout_id=args.payout_id, etag=current.etag,
                                                                reason=args.reason))
            _print_payouts(out, [failed.payout])
            if failed.payout.state != pr.PAYOUT_STATE_FAILED:
                print("recorded: FAILED once the chain proves its transaction can no longer land", file=out)
        elif command == "limits":
            _print_limits(out, await stub.GetLimits(pr.GetLimitsRequest()))
        else:
            if args.change is None:
                breaker = (await stub.GetBreaker(pr.GetBreakerRequest())).breaker
            else:
                if not args.reason:
                    raise Refused("opening or closing the breaker needs --reason")
                state = pr.BREAKER_STATE_OPEN if args.change == "open" else pr.BREAKER_STATE_CLOSED
                breaker = (await stub.SetBreaker(pr.SetBreakerRequest(state=state, reason=args.reason))).breaker
            _print_breaker(out, breaker)
    return 0


async def _run_batch(args: argparse.Namespace, stub: Any, out: TextIO) -> None:
    from lucid.tron.v1 import payout_router_pb2 as pr

    command = args.batch_command
    if command == "create":
        created = await stub.CreatePayoutBatch(pr.CreatePayoutBatchRequest(
            request_id=args.request_id or str(uuid.uuid4()),
            batch=pr.PayoutBatch(reference=args.reference, payouts=_batch_payouts(args)),
        ))
        _print_batch(out, created.batch)
    elif command == "list":
        request = pr.ListPayoutBatchesRequest(
            states=[pr.PayoutBatchState.Value(f"PAYOUT_BATCH_STATE_{s}") for s in args.state],
            page_size=min(max(args.limit, 1), 500),
        )
        _print_batches(out, list((await stub.ListPayoutBatches(request)).batches))
    elif command == "show":
        _print_batch(out, (await stub.GetPayoutBatch(pr.GetPayoutBatchRequest(batch_id=args.batch_id))).batch)
    else:
        current = (await stub.GetPayoutBatch(pr.GetPayoutBatchRequest(batch_id=args.batch_id))).batch
        if command == "approve":
            decided = await stub.ApprovePayoutBatch(pr.ApprovePayoutBatchRequest(batch_id=args.batch_id,
                                                                                 etag=current.etag))
        else:
            decided = await stub.RejectPayoutBatch(pr.RejectPayoutBatchRequest(batch_id=args.batch_id,
                                                                               etag=current.etag, reason=args.reason))
        _print_batch(out, decided.batch)


def _batch_payouts(args: argparse.Namespace) -> list[Any]:
    """The payouts of `batch create`: each --pay, then each line of --file."""
    import csv

    from lucid.tron.v1 import payout_router_pb2 as pr

    rows: list[tuple[str, list[str]]] = []
    for index, pay in enumerate(args.pay):
        address, _, amount = pay.partition("=")
        amount, _, asset = amount.partition(":")
        rows.append((f"--pay #{index + 1}", [address, amount, asset]))
    if args.file is not None:
        try:
            opened = (contextlib.nullcontext(sys.stdin) if args.file == "-"
                      else open(args.file, newline="", encoding="utf-8"))
            with opened as lines:
                for number, row in enumerate(csv.reader(lines), 1):
                    if row and any(cell.strip() for cell in row):
                        rows.append((f"{args.file} line {number}", row))
        except OSError as error:
            raise Refused(f"--file: {error.strerror}: {args.file}") from None
    if not rows:
        raise Refused("a batch needs payouts: --pay ADDRESS=AMOUNT[:ASSET] or --file CSV")
    payouts = []
    for where, row in rows:
        if not 2 <= len(row) <= 4:
            raise Refused(f"{where}: recipient,amount[,asset[,reference]] expected")
        address, amount, asset, reference = [*[cell.strip() for cell in row], "", ""][:4]
        asset = asset.upper() or "USDT"
        if asset not in _ASSETS:
            raise Refused(f"{where}: asset must be USDT or TRX, got {asset}")
        payouts.append(pr.Payout(recipient=address, asset=_ASSETS[asset], reference=reference,
                                 amount_base_units=_base_units(amount, where)))
    return payouts


def _base_units(text: str, where: str = "--amount") -> int:
    from lucid_tron.chain import ChainError, parse_units

    try:
        return parse_units(text, 6)
    except ChainError as error:
        raise Refused(f"{where}: {error}") from None


def _units(base_units: int) -> str:
    from lucid_tron.chain import format_units

    return format_units(base_units, 6)


def _asset(number: int) -> str:
    return {number: name for name, number in _ASSETS.items()}.get(number, "?")


def _state(payout: Any) -> str:
    from lucid.tron.v1 import payout_router_pb2 as pr

    return pr.PayoutState.Name(payout.state).removeprefix("PAYOUT_STATE_")


def _print_payouts(out: TextIO, payouts: list[Any]) -> None:
    table([["PAYOUT", "STATE", "AMOUNT", "ASSET", "RECIPIENT", "TXID", "CREATED"], *[
        [p.payout_id, _state(p), _units(p.amount_base_units), _asset(p.asset), p.recipient, p.txid[:16],
         p.create_time.ToDatetime().strftime("%Y-%m-%d %H:%M:%S")]
        for p in payouts
    ]], out)


def _print_payout(out: TextIO, payout: Any) -> None:
    from lucid.tron.v1 import payout_router_pb2 as pr

    fields = [
        ("payout", payout.payout_id), ("state", _state(payout)), ("reason", payout.state_reason),
        ("amount", f"{_units(payout.amount_base_units)} {_asset(payout.asset)}"), ("recipient", payout.recipient),
        ("from", payout.from_address), ("reference", payout.reference), ("creator", payout.creator),
        ("approver", payout.approver), ("failed by", payout.failed_by), ("batch", payout.batch_id),
        ("role", payout.caller_role), ("txid", payout.txid), ("block", str(payout.block_number or "")),
        ("fee", f"{_units(payout.fee_sun)} TRX" if payout.fee_sun else ""), ("etag", payout.etag),
    ]
    table([["FIELD", "VALUE"], *[[name, value] for name, value in fields if value]], out)
    if payout.attempts:
        print(file=out)
        table([["ATTEMPT", "STATE", "TXID", "EXPIRES", "BLOCK", "RESULT"], *[
            [str(a.number), pr.AttemptState.Name(a.state).removeprefix("ATTEMPT_STATE_"), a.txid,
             a.expiration_time.ToDatetime().strftime("%H:%M:%S"), str(a.block_number or ""), a.result_message]
            for a in payout.attempts
        ]], out)


def _print_batches(out: TextIO, batches: list[Any]) -> None:
    from lucid.tron.v1 import payout_router_pb2 as pr

    table([["BATCH", "STATE", "PAYOUTS", "TOTALS", "CREATOR", "APPROVER", "CREATED"], *[
        [b.batch_id, pr.PayoutBatchState.Name(b.state).removeprefix("PAYOUT_BATCH_STATE_"), str(b.payout_count),
         ", ".join(f"{_units(t.amount_base_units)} {_asset(t.asset)}" for t in b.totals), b.creator, b.approver,
         b.create_time.ToDatetime().strftime("%Y-%m-%d %H:%M:%S")]
        for b in batches
    ]], out)


def _print_batch(out: TextIO, batch: Any) -> None:
    _print_batches(out, [batch])
    for name, value in (("reference", batch.reference), ("reason", batch.state_reason), ("etag", batch.etag)):
        if value:
            print(f"{name}: {value}", file=out)
    if batch.payouts:
        print(file=out)
        _print_payouts(out, list(batch.payouts))


def _print_limits(out: TextIO, limits: Any) -> None:
    table([["ASSET", "ROLE", "MIN", "MAX", "APPROVAL>", "HOUR USED", "HOUR LEFT", "DAY USED", "DAY LEFT"], *[
        [_asset(entry.asset), entry.caller_role or "(all)", _units(entry.per_payout_min_base_units),
         _units(entry.per_payout_max_base_units),
         _units(entry.approval_threshold_base_units),
         f"{_units(entry.hourly_used_base_units)}/{_units(entry.hourly_limit_base_units)}",
         _units(entry.hourly_headroom_base_units),
         f"{_units(entry.daily_used_base_units)}/{_units(entry.daily_limit_base_units)}",
         _units(entry.daily_headroom_base_units)]
        for entry in limits.limits
    ]], out)
    print(f"allowlist: {'on' if limits.allowlist_enabled else 'off'}", file=out)


def _print_breaker(out: TextIO, breaker: Any) -> None:
    from lucid.tron.v1 import payout_router_pb2 as pr

    probe = breaker.next_probe_time.ToDatetime().isoformat() + "Z" if breaker.HasField("next_probe_time") else ""
    table([["STATE", "CAUSE", "FAILURES", "NEXT PROBE", "REASON"], *[[
        pr.BreakerState.Name(breaker.state).removeprefix("BREAKER_STATE_"),
        pr.BreakerCause.Name(breaker.cause).removeprefix("BREAKER_CAUSE_").replace("UNSPECIFIED", "-"),
        f"{breaker.failure_count}/{breaker.failure_threshold}", probe, breaker.reason,
    ]]], out)
