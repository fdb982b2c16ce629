"""Fixtures shared by the whole suite live in tests/fixtures/, one module per kind of server."""

pytest_plugins = [
    "fixtures.servers",
    "fixtures.devnet",
    "fixtures.tor_network",
]
