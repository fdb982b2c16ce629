"""`lucid-tron acl` prints the (caller x method) matrix of the shipped policies, and the README shows it."""

from __future__ import annotations

from pathlib import Path

from lucid_tron.cli._acl import acl_matrix

README = Path(__file__).resolve().parents[3] / "README.md"


def test_readme_matrix_is_the_generated_one() -> None:
    text = README.read_text(encoding="utf-8")
    shown = text.split("<!-- acl-matrix:start -->\n", 1)[1].split("<!-- acl-matrix:end -->", 1)[0]
    assert shown == acl_matrix(), "README's ACL matrix is stale: paste the output of `lucid-tron acl`"


def test_the_matrix_shows_that_only_the_three_builders_sign() -> None:
    [row] = [line for line in acl_matrix().splitlines() if line.startswith("| WalletService: SignTransaction |")]
    cells = [cell.strip() for cell in row.strip("|").split("|")][1:]
    columns = ["tron-client", "tron-relay", "wallet-manager", "usdt-manager", "staking", "payment-gateway",
               "payout-router", "beta-sidecar", "operator", "through beta-sidecar"]  # fmt: skip
    assert {column for column, cell in zip(columns, cells) if cell} == {"usdt-manager", "staking", "payout-router"}
