"""The whole mesh, started once per session the way a developer starts it: `lucid-tron up` as a subprocess.

`mesh` runs `lucid-tron up` with a temp state dir, its own redis-server (never the machine's Redis on 6379), a fast
block interval and one funded account; it waits for endpoints.json, and at the end stops `up` with SIGTERM and checks
that it exited 0 and that every process it started is gone.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from e2e.e2e_up import Up, start_up, still_running


@pytest.fixture(scope="session")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    up = start_up(tmp_path_factory.mktemp("e2e") / "state", ["--own-redis"])
    children = up.descendants()
    yield up
    children |= up.descendants()
    code = up.stop()
    assert code == 0, f"`lucid-tron up` exited {code} on SIGTERM:\n{up.output}"
    assert still_running(children) == [], up.output
    assert not (up.state_dir / "endpoints.json").exists()
