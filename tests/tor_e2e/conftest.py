"""The whole mesh behind real Tor, once per session: `lucid-tron up --tor` as a subprocess (see tor_e2e_kit).

`tor_mesh` runs `up --tor` with a temp state dir, its own redis-server, a fast block interval, a funded payer and
TOR_HEALTH_CHECK_INTERVAL=2; at the end it stops `up` with SIGTERM and checks that it exited 0 and that every process
it started (the four tors and a Tor client restarted during the session included) is gone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from e2e.e2e_up import Up, operator_credentials, still_running
from fixtures.tor_network import require_tor
from tor_e2e.tor_e2e_kit import TronClientCaller, start_up_with_tor


@pytest.fixture(scope="session")
def tor_mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    require_tor()
    up = start_up_with_tor(tmp_path_factory.mktemp("tor-e2e") / "state")
    children = up.descendants()
    yield up
    children |= up.descendants()
    code = up.stop()
    assert code == 0, f"`lucid-tron up --tor` exited {code} on SIGTERM:\n{up.output}"
    assert still_running(children) == [], up.output
    assert not (up.state_dir / "endpoints.json").exists()


@pytest.fixture(scope="session")
async def tron_client(tor_mesh: Up) -> AsyncIterator[TronClientCaller]:
    """The mesh's tron-client, over gRPC."""
    caller = TronClientCaller(tor_mesh.endpoints["services"]["tron-client"], operator_credentials(tor_mesh.endpoints))
    yield caller
    await caller.close()
