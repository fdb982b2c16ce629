"""What every operator command that calls a service over gRPC shares (`invoices`, `webhooks`, `payouts`): where the
service is and with which credentials, running the call, and printing tables.

With --state-dir (the one `lucid-tron up` uses) a command finds the service and the operator's certificate in
endpoints.json. Otherwise --address and, for mutual TLS, --ca, --cert and --key (an operator certificate from
`lucid-tron pki issue-operator`); without them the call is plaintext (a mesh run with --insecure-plaintext).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any, TextIO

__all__ = ["EXIT_INTERRUPTED", "Refused", "Target", "add_connection_options", "run_client", "table", "target", "utc"]

EXIT_INTERRUPTED = 130


class Refused(Exception):
    """The command cannot find what it needs, or was given something it cannot use."""


@dataclass(frozen=True)
class Target:
    address: str
    credentials: Any  # grpc.ChannelCredentials, or None for plaintext


def add_connection_options(parser: argparse.ArgumentParser, service: str) -> None:
    parser.add_argument("--address", metavar="HOST:PORT", help=f"{service} (instead of endpoints.json)")
    parser.add_argument("--ca", type=Path, metavar="FILE", help="CA bundle that signed the service certificate")
    parser.add_argument("--cert", type=Path, metavar="FILE", help="the operator's certificate")
    parser.add_argument("--key", type=Path, metavar="FILE", help="the operator's private key")
    parser.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS", help="per call (default 30)")


def target(args: argparse.Namespace, service: str) -> Target:
    """`service`'s address and the operator's credentials, from the options or endpoints.json."""
    from lucid_tron.cli._endpoints import Endpoints
    from lucid_tron.pki import TlsFiles, channel_credentials

    given = [args.ca, args.cert, args.key]
    if any(given) and not all(given):
        raise Refused("--ca, --cert and --key go together")
    if args.address and all(given):
        return Target(args.address, channel_credentials(TlsFiles(args.cert, args.key, args.ca).read()))
    if args.address:
        return Target(args.address, None)
    endpoints = Endpoints.read(Path(args.state_dir))
    if service not in endpoints.services:
        raise Refused(f"endpoints.json of {args.state_dir} lists no {service}")
    tls = endpoints.tls
    if all(given):
        files = TlsFiles(args.cert, args.key, args.ca)
    elif tls is not None:
        files = TlsFiles(Path(tls["operator_cert"]), Path(tls["operator_key"]), Path(tls["ca"]))
    else:
        return Target(endpoints.services[service], None)
    return Target(endpoints.services[service], channel_credentials(files.read()))


def run_client(command: str, work: Callable[[], Coroutine[Any, Any, int]]) -> int:
    """Run an operator command's calls; its exit status (1 with the status and reason on stderr when refused)."""
    import grpc

    from lucid_tron.cli._endpoints import EndpointsError
    from lucid_tron.pki import TlsFileError

    try:
        return asyncio.run(work())
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except grpc.aio.AioRpcError as error:
        print(f"lucid-tron {command}: {error.code().name}: {error.details()}", file=sys.stderr)
        return 1
    except (EndpointsError, TlsFileError, Refused) as error:
        print(f"lucid-tron {command}: {error}", file=sys.stderr)
        return 1


def table(rows: Sequence[Sequence[str]], out: TextIO) -> None:
    """Rows as left-aligned columns; the first row is the header."""
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip(), file=out)


def utc(stamp: Any) -> str:
    """A google.protobuf.Timestamp as UTC to the second; "-" when unset."""
    if not stamp.seconds and not stamp.nanos:
        return "-"
    return str(stamp.ToDatetime(tzinfo=UTC).strftime("%Y-%m-%d %H:%M:%S"))
