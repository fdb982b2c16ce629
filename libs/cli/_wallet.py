"""`lucid-tron wallet ...`: the host commands of wallet-manager, for what no RPC may do.

    backup WALLET_ID                    show an HD wallet's mnemonic once, after a typed confirmation
    restore                             a new HD wallet from a mnemonic read from the terminal (stdin when it is not
                                        one), never from an argument; prints the new wallet's id
    import-key                          a new single-key wallet from a private key on stdin or in --key-file
    rotate-master-key --new-secret-file F   re-seal every wallet under a new master secret

They read the database and the master secret directly. With --state-dir (the one `lucid-tron up` uses) they find both
by themselves: the MongoDB of a running `up` (endpoints.json), or its data under mongo/data served for the command's
duration when `up` is not running; the master secret in secrets/wallet_master_key. Otherwise give --mongo-url,
--database and --master-key-file (ENCRYPTION_KEY_FILE's file). Restored and imported wallets sign nothing until a spend
policy is set with UpdateWallet.

Exit codes: 0 done, 1 refused or failed (the reason on stderr), 78 the master secret cannot be used.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import getpass
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, TextIO

from lucid_tron.cli._services import MASTER_KEY_FILE

__all__ = ["add_wallet_commands", "run_wallet"]

DEFAULT_DATABASE = "lucid_wallet_manager"
EXIT_CONFIG = 78
_CONFIRMATION = "show"


def add_wallet_commands(commands: Any, state_dir_option: Any) -> None:
    """Declare `wallet` and its subcommands on the `lucid-tron` parser."""
    wallet = commands.add_parser(
        "wallet",
        help="host commands of wallet-manager: backup, restore, import-key, rotate-master-key",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = wallet.add_subparsers(dest="wallet_command", required=True, metavar="ACTION")

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        parser = actions.add_parser(name, help=help_text, description=help_text)
        state_dir_option(parser)
        parser.add_argument("--mongo-url", metavar="URL", help="MongoDB of wallet-manager (instead of --state-dir)")
        parser.add_argument("--database", default=DEFAULT_DATABASE, help=f"its database (default {DEFAULT_DATABASE})")
        parser.add_argument("--master-key-file", type=Path, metavar="FILE", help="ENCRYPTION_KEY_FILE's file")
        return parser

    backup = action("backup", "show an HD wallet's mnemonic once, after a typed confirmation")
    backup.add_argument("wallet_id", metavar="WALLET_ID")
    restore = action("restore", "restore an HD wallet from its mnemonic (read from the terminal or stdin)")
    restore.add_argument("--name", default="", help="display name of the new wallet")
    restore.add_argument("--account", type=int, default=0, help="BIP-44 account (default 0)")
    restore.add_argument(
        "--passphrase", action="store_true", help="also ask for the BIP-39 passphrase (read like the mnemonic)"
    )
    import_key = action("import-key", "import a single private key (stdin, or --key-file)")
    import_key.add_argument("--name", default="", help="display name of the new wallet")
    import_key.add_argument(
        "--key-file", type=Path, metavar="FILE", help="file holding the key as 64 hex digits (e.g. TRON_PRIVATE_KEY_FILE)"
    )
    rotate = action("rotate-master-key", "re-seal every wallet under a new master secret")
    rotate.add_argument("--new-secret-file", type=Path, required=True, metavar="FILE", help="the new master secret")


def run_wallet(args: argparse.Namespace, *, stdin: TextIO | None = None) -> int:
    """Run one `wallet` action; the exit status."""
    from lucid_tron.keys import KeyCustodyError, MasterSecretError, WrongMasterSecret

    from lucid_tron.errors import LucidError

    try:
        return asyncio.run(_run(args, stdin or sys.stdin))
    except (MasterSecretError, WrongMasterSecret) as error:
        _err(error.message)
        return EXIT_CONFIG
    except (KeyCustodyError, LucidError, _Refused) as error:
        _err(str(getattr(error, "message", error)))
        return 1


class _Refused(Exception):
    """The operator did not confirm, or the command cannot find what it needs."""


async def _run(args: argparse.Namespace, stdin: TextIO) -> int:
    from lucid_tron.keys import MasterSecret
    from lucid_tron.services.wallet_manager.host import HostWallets

    # Read everything from the operator before touching the database, so a typo costs nothing.
    given = _read_input(args, stdin)
    async with _database(args) as (mongo_url, master_key_file):
        async with HostWallets.open(mongo_url, args.database, master_key_file) as host:
            if args.wallet_command == "backup":
                _confirm_backup(args.wallet_id, stdin)
                mnemonic = await host.backup(args.wallet_id)
                _show_once(mnemonic)
            elif args.wallet_command == "restore":
                wallet = await host.restore(
                    given["mnemonic"], passphrase=given.get("passphrase", ""), display_name=args.name, account=args.account
                )
                print(wallet["_id"])
            elif args.wallet_command == "import-key":
                wallet = await host.import_key(given["key"], display_name=args.name)
                print(wallet["_id"])
            else:
                result = await host.rotate(MasterSecret.from_file(args.new_secret_file))
                _say(f"{result.resealed} wallet secret(s) re-sealed under key {result.to_key_id}")
                if args.master_key_file is None and args.mongo_url is None:
                    _replace_secret(Path(args.state_dir) / "secrets" / MASTER_KEY_FILE, args.new_secret_file)
                _say("restart wallet-manager with the new secret in ENCRYPTION_KEY_FILE: the old one no longer opens")
    return 0


def _read_input(args: argparse.Namespace, stdin: TextIO) -> dict[str, Any]:
    if args.wallet_command == "restore":
        read = {"mnemonic": _secret_line("mnemonic (words separated by spaces): ", stdin)}
        if args.passphrase:
            read["passphrase"] = _secret_line("passphrase: ", stdin)
        return read
    if args.wallet_command == "import-key":
        if args.key_file is not None:
            return {"key": args.key_file.read_text(encoding="ascii").strip()}
        return {"key": _secret_line("private key (64 hex digits): ", stdin)}
    return {}


def _secret_line(prompt: str, stdin: TextIO) -> str:
    """A line typed without echo on a terminal, or the next line of stdin when it is not one."""
    if stdin.isatty():
        return getpass.getpass(prompt)
    line = stdin.readline()
    if not line:
        raise _Refused(f"nothing on stdin for the {prompt.split(' ')[0].rstrip(':')}")
    return line.strip()


def _confirm_backup(wallet_id: str, stdin: TextIO) -> None:
    _say(f"The mnemonic of {wallet_id} controls every address of the wallet. It is shown once; write it down offline.")
    _say(f"Type {_CONFIRMATION!r} to show it:")
    answer = stdin.readline().strip()
    if answer != _CONFIRMATION:
        raise _Refused("not confirmed; nothing shown")


def _show_once(mnemonic: str) -> None:
    words = mnemonic.split()
    for start in range(0, len(words), 6):
        print("  ".join(f"{n + 1:2d}. {word}" for n, word in enumerate(words[start : start + 6], start)))


def _replace_secret(target: Path, source: Path) -> None:
    """Put the new secret where `up` gives it to wallet-manager, atomically, readable by the owner only."""
    partial = target.with_suffix(".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(source.read_bytes())
    os.replace(partial, target)
    _say(f"{target} now holds the new secret")


@contextlib.asynccontextmanager
async def _database(args: argparse.Namespace) -> AsyncIterator[tuple[str, Path]]:
    """(MongoDB URL, master secret file) from the options, or found in the state dir."""
    state_dir = Path(args.state_dir)
    master_key_file = args.master_key_file or state_dir / "secrets" / MASTER_KEY_FILE
    if args.mongo_url is not None:
        yield args.mongo_url, master_key_file
        return
    endpoints = state_dir / "endpoints.json"
    if endpoints.exists():
        yield json.loads(endpoints.read_text(encoding="utf-8"))["mongo_url"], master_key_file
        return
    data = state_dir / "mongo" / "data"
    if not data.is_dir():
        raise _Refused(f"no MongoDB: {state_dir} has no endpoints.json or mongo/data; give --mongo-url")
    from lucid_tron.testing import MongoServer

    # The same lock as `up`: SecantusDB's files are not shareable, so no `up` may start meanwhile.
    with open(state_dir / "up.lock", "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _Refused(f"`lucid-tron up` is starting or stopping in {state_dir}; try again") from None
        with MongoServer(data, workdir=state_dir / "mongo") as server:
            yield str(server.url), master_key_file


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def _err(message: str) -> None:
    print(f"lucid-tron wallet: {message}", file=sys.stderr)
