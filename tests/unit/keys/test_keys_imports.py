"""lucid_tron.keys is plain Python: its face loads nothing until a name is used, and nothing of it loads grpc."""

from __future__ import annotations

import subprocess
import sys

from fixtures.imports import modules_after_importing


def test_importing_the_package_loads_no_crypto_library_and_no_database_driver() -> None:
    loaded = modules_after_importing("lucid_tron.keys")
    assert {"coincurve", "bip32", "mnemonic", "cryptography", "pymongo", "grpc"}.isdisjoint(loaded)


def test_using_every_public_name_loads_no_grpc() -> None:
    code = (
        "import sys, lucid_tron.keys as keys\n"
        "[getattr(keys, name) for name in keys.__all__]\n"
        "print(' '.join(sorted(sys.modules)))"
    )
    loaded = set(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split())
    assert "grpc" not in loaded
    assert "lucid_tron.mesh" not in loaded
