"""A TorNetwork of its own: password auth on the control port, and a teardown that leaves no tor process behind."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest
import stem.connection
import stem.control

from fixtures.tor_network import require_tor
from lucid_tron.testing.tor_network import TorNetwork

pytestmark = pytest.mark.tor

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def password_network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TorNetwork]:
    """One more network (the session's one must outlive this module), with a control password."""
    require_tor()
    with TorNetwork(tmp_path_factory.mktemp("tor-password"), control_password=PASSWORD) as network:
        yield network


def tor_processes_in(data_dir: str) -> list[str]:
    """`pgrep -af` lines of the processes whose command line names data_dir (`tor -f <data_dir>/<node>/torrc`)."""
    result = subprocess.run(["pgrep", "-af", data_dir], capture_output=True, text=True, check=False)
    return result.stdout.splitlines()


# authenticate_password tries the password alone: Controller.authenticate() would fall back to the cookie.


def test_the_control_port_accepts_the_configured_password(password_network: TorNetwork) -> None:
    with stem.control.Controller.from_port(port=password_network.control_port) as controller:
        stem.connection.authenticate_password(controller, PASSWORD)

        assert controller.get_info("status/bootstrap-phase").count("PROGRESS=100") == 1


def test_the_control_port_refuses_a_wrong_password(password_network: TorNetwork) -> None:
    with stem.control.Controller.from_port(port=password_network.control_port) as controller:
        with pytest.raises(stem.connection.IncorrectPassword):
            stem.connection.authenticate_password(controller, "wrong")


def test_stop_leaves_no_tor_process(password_network: TorNetwork) -> None:
    # Runs last in this module: it stops the module's network (the fixture's own stop is then a no-op).
    pids = password_network.pids
    assert sorted(pids) == ["auth0", "auth1", "auth2", "client"]
    assert len(tor_processes_in(str(password_network.data_dir))) == 4

    password_network.stop()

    assert tor_processes_in(str(password_network.data_dir)) == []
    for pid in pids.values():
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
