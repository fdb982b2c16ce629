"""Argument parsing and dispatch of `lucid-tron`."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["build_parser", "main"]

_DEFAULT_STATE_DIR = ".state"


def _default_state_dir() -> Path:
    return Path(os.environ.get("LUCID_STATE_DIR") or _DEFAULT_STATE_DIR)


def _fund_spec(text: str) -> str:
    """Check ADDRESS:TRX_SUN:USDT_UNITS the way devnet will, so a typo fails here, not in devnet's log."""
    from lucid_tron.devnet import parse_fund_spec

    try:
        parse_fund_spec(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a TCP port")
    return port


def _non_negative(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from lucid_tron.cli._up import DEFAULT_REDIS_URL

    parser = argparse.ArgumentParser(
        prog="lucid-tron",
        description="Run and inspect the lucid-tron payment plane on this machine.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  lucid-tron up --fund TJRabPrwbZy45sbavfcjinPJC18kjpRTv8:1000000000:5000000\n"
            "  lucid-tron status\n"
            "  lucid-tron pki issue-operator alice\n"
            "  lucid-tron devnet --port 8090 --block-interval 1\n"
        ),
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = commands.add_parser(
        "up",
        help="start devnet, MongoDB, Redis and the seven services; run until Ctrl-C",
        description=(
            "Start devnet (a TronGrid simulator), a MongoDB-wire server (SecantusDB, data under the state dir) unless\n"
            "--mongo-url is given, Redis, and the seven services, each its own process on its own port. Waits until\n"
            "every service answers SERVING, prints where they are and writes <state-dir>/endpoints.json. Ctrl-C or\n"
            "SIGTERM stops everything (exit 0); a child that dies stops the rest (exit 1). Logs: <state-dir>/logs/."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _state_dir_option(up)
    up.add_argument(
        "--fund",
        action="append",
        default=[],
        type=_fund_spec,
        metavar="ADDRESS:TRX_SUN:USDT_UNITS",
        help="credit an account at devnet's genesis (repeatable); amounts in SUN and USDT base units",
    )
    up.add_argument(
        "--block-interval", type=_non_negative, default=3.0, metavar="SECONDS", help="devnet block time (default 3)"
    )
    up.add_argument(
        "--host", default="127.0.0.1", help="address the services and devnet listen on (default 127.0.0.1)"
    )
    up.add_argument(
        "--base-port",
        type=_port,
        default=None,
        metavar="PORT",
        help="services listen on PORT..PORT+6 in the order of the table, their metrics on PORT+7..PORT+13, their"
        " plaintext health ports on PORT+14..PORT+20; beta-sidecar on PORT+21, its metrics and health on PORT+22"
        " and PORT+23 (default: free ports)",
    )
    up.add_argument("--devnet-port", type=_port, default=0, metavar="PORT", help="devnet's port (default: a free one)")
    up.add_argument(
        "--mongo-url",
        default=os.environ.get("MONGO_URL") or None,
        metavar="URL",
        help="use this MongoDB instead of starting SecantusDB (default: $MONGO_URL)",
    )
    up.add_argument(
        "--redis-url",
        default=os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL,
        metavar="URL",
        help=f"use this Redis if it answers, else start a redis-server (default: $REDIS_URL or {DEFAULT_REDIS_URL})",
    )
    up.add_argument(
        "--own-redis", action="store_true", help="always start a redis-server of its own (never use an existing one)"
    )
    up.add_argument(
        "--ready-timeout",
        type=_positive,
        default=30.0,
        metavar="SECONDS",
        help="how long every service may take to answer SERVING (default 30)",
    )
    up.add_argument(
        "--grace",
        type=_non_negative,
        default=5.0,
        metavar="SECONDS",
        help="each service's shutdown grace period, SHUTDOWN_GRACE_S (default 5)",
    )
    up.add_argument(
        "--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"), help="services' LOG_LEVEL"
    )
    up.add_argument(
        "--tor",
        action="store_true",
        help=(
            "put devnet behind a private Tor network on loopback (needs Debian's tor; ~10 s more to start): Tor "
            "required in every service, TRONGRID_URL http://trongrid.test:<devnet port> (only the exit resolves it), "
            "devnet on 127.0.0.1; ports and pids in endpoints.json under \"tor\"; SIGUSR1 to `up` (re)starts the Tor "
            "client"
        ),
    )

    up.add_argument(
        "--insecure-plaintext",
        action="store_true",
        help=(
            "run every service with GRPC_INSECURE_PLAINTEXT=true: no TLS, no client certificates (each logs a "
            "WARNING). Default: mutual TLS with certificates from <state-dir>/pki"
        ),
    )

    _pki_parser(commands)

    status = commands.add_parser(
        "status",
        help="print the health of every service of a running `up`",
        description="Read <state-dir>/endpoints.json and ask each service's grpc.health.v1. Exit 1 unless all SERVING.",
    )
    _state_dir_option(status)
    status.add_argument(
        "--timeout", type=_positive, default=2.0, metavar="SECONDS", help="per-service probe timeout (default 2)"
    )

    commands.add_parser(
        "config",
        help="print every setting each service reads (environment variables and secrets), as Markdown",
        description="The configuration reference, generated from the services' settings classes.",
    )

    commands.add_parser(
        "acl",
        help="print who may call which method under the shipped ACL policies, as Markdown",
        description="The (caller x method) matrix of deploy/policies/, computed by the policy engine.",
    )

    from lucid_tron.cli._wallet import add_wallet_commands

    add_wallet_commands(commands, _state_dir_option)

    from lucid_tron.cli._invoices import add_invoice_commands

    add_invoice_commands(commands, _state_dir_option)

    from lucid_tron.cli._webhooks import add_webhook_commands

    add_webhook_commands(commands, _state_dir_option)

    from lucid_tron.cli._payouts import add_payout_commands

    add_payout_commands(commands, _state_dir_option)

    from lucid_tron.cli._staking import add_staking_commands

    add_staking_commands(commands, _state_dir_option)

    from lucid_tron.cli._treasury import add_treasury_commands

    add_treasury_commands(commands, _state_dir_option)

    # Parsed by devnet itself (see main); declared here for the command list and `lucid-tron devnet --help`.
    commands.add_parser("devnet", help="serve a devnet alone (see `lucid-tron devnet --help`)", add_help=False)
    return parser


def _pki_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    pki = commands.add_parser(
        "pki",
        help="the mesh's CA and certificates: init, issue-service, issue-operator, rotate, rotate-ca, list, ...",
        description=(
            "Files under <state-dir>/pki (or --dir): ca.pem (trust bundle), ca-cert.pem, ca-key.pem (0600),\n"
            "services/<name>/ and operators/<name>/, each with cert.pem, key.pem (0600) and ca.pem: mount a\n"
            "service's folder as /run/secrets/tls. `lucid-tron up` keeps its CA here, so these commands issue more\n"
            "certificates that its mesh trusts."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _state_dir_option(pki)
    pki.add_argument("--dir", type=Path, default=None, metavar="DIR", help="the PKI folder (default: <state-dir>/pki)")
    actions = pki.add_subparsers(dest="pki_command", required=True, metavar="ACTION")
    actions.add_parser("init", help="create the CA (refused when one exists: rotate-ca replaces it)")
    days = {"type": int, "default": 90, "metavar": "DAYS", "help": "validity (default 90)"}
    service = actions.add_parser("issue-service", help="a service's certificate: spiffe://lucid/tron/NAME")
    service.add_argument("name", metavar="NAME", help="the service's name, also its DNS name (e.g. wallet-manager)")
    service.add_argument("--dns", action="append", default=[], metavar="NAME", help="another DNS name (repeatable)")
    service.add_argument(
        "--ip", action="append", default=None, metavar="ADDRESS", help="IP addresses (repeatable; default 127.0.0.1)"
    )
    service.add_argument("--days", **days)
    operator = actions.add_parser("issue-operator", help="a client certificate: spiffe://lucid/operator/NAME")
    operator.add_argument("name", metavar="NAME")
    operator.add_argument("--days", **days)
    rotate = actions.add_parser("rotate", help="re-issue certificates with new keys and the same names")
    rotate.add_argument(
        "targets", nargs="*", metavar="KIND/NAME", help="e.g. services/wallet-manager (default: every certificate)"
    )
    rotate.add_argument("--days", **days)
    actions.add_parser("rotate-ca", help="a new CA, trusted beside the old one until it expires or is retired")
    actions.add_parser(
        "retire-old-cas", help="trust only the current CA (refused while a certificate of an old one remains)"
    )
    actions.add_parser("list", help="the trusted CAs and every certificate with its principal and expiry")


def _state_dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=_default_state_dir(),
        metavar="DIR",
        help=f"where endpoints.json, logs and data live (default: $LUCID_STATE_DIR or ./{_DEFAULT_STATE_DIR})",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run `lucid-tron` with `argv` (default: sys.argv[1:]); returns the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["devnet"]:
        from lucid_tron.devnet import main as devnet_main

        return devnet_main(args_list[1:])
    args = build_parser().parse_args(args_list)
    if args.command == "acl":
        from lucid_tron.cli._acl import acl_matrix

        print(acl_matrix(), end="")
        return 0
    if args.command == "config":
        from lucid_tron.cli._config import config_reference

        print(config_reference(), end="")
        return 0
    if args.command == "pki":
        from lucid_tron.cli._pki import pki_directory, run_pki

        return run_pki(
            args.dir or pki_directory(args.state_dir),
            args.pki_command,
            name=getattr(args, "name", None),
            targets=getattr(args, "targets", ()),
            dns_names=getattr(args, "dns", ()),
            ip_addresses=getattr(args, "ip", None) or ("127.0.0.1",),
            days=getattr(args, "days", 90),
        )
    if args.command == "status":
        from lucid_tron.cli._status import run_status

        return run_status(args.state_dir, timeout_s=args.timeout)
    if args.command == "wallet":
        from lucid_tron.cli._wallet import run_wallet

        return run_wallet(args)
    if args.command == "invoices":
        from lucid_tron.cli._invoices import run_invoices

        return run_invoices(args)
    if args.command == "webhooks":
        from lucid_tron.cli._webhooks import run_webhooks

        return run_webhooks(args)
    if args.command == "payouts":
        from lucid_tron.cli._payouts import run_payouts

        return run_payouts(args)
    if args.command == "staking":
        from lucid_tron.cli._staking import run_staking

        return run_staking(args)

    if args.command == "treasury":
        from lucid_tron.cli._treasury import run_treasury

        return run_treasury(args)
    from lucid_tron.cli._up import UpOptions, run_up

    return run_up(
        UpOptions(
            state_dir=args.state_dir,
            host=args.host,
            base_port=args.base_port,
            devnet_port=args.devnet_port,
            block_interval=args.block_interval,
            fund=tuple(args.fund),
            mongo_url=args.mongo_url,
            redis_url=args.redis_url,
            own_redis=args.own_redis,
            ready_timeout_s=args.ready_timeout,
            grace_s=args.grace,
            log_level=args.log_level,
            tor=args.tor,
            insecure_plaintext=args.insecure_plaintext,
        )
    )
