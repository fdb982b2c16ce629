"""The `lucid-tron` command: up, status, pki, config, acl, devnet.

    lucid-tron up [--state-dir DIR] [--fund ADDRESS:TRX_SUN:USDT_UNITS ...] [--block-interval S] [--host H] ...
    lucid-tron status [--state-dir DIR]
    lucid-tron pki [--state-dir DIR | --dir DIR] init | issue-service NAME | issue-operator NAME | rotate | rotate-ca
    lucid-tron acl                       who may call what under the shipped ACL policies (Markdown)
    lucid-tron devnet [devnet options]

`main(argv)` returns the exit status; the console script calls it. Importing this package imports neither grpc
nor any database client: each command imports what it needs.
"""

from lucid_tron.cli._main import main

__all__ = ["main"]
