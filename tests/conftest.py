"""Fixtures shared by the whole suite live in tests/fixtures/, one module per kind of server."""

# Imported before any test module: once pytest puts tests/unit on sys.path (for the test modules directly in it), the
# test folder tests/unit/tor_proxy/ (no __init__.py) would be imported as a namespace package named tor_proxy.
import tor_proxy  # noqa: F401

pytest_plugins = [
    "fixtures.servers",
    "fixtures.devnet",
    "fixtures.tor_network",
    "fixtures.pki",
]
