"""scripts/bootstrap installs Debian packages without starting or stopping any service of the machine.

Debian starts a packaged tor on install; the script used to `pkill -x tor` afterwards, which also killed a tor the
user runs. It must instead forbid service starts during its own install (a temporary policy-rc.d that exits 101)
and put back whatever policy-rc.d was there. (Running it for real needs root and a machine without tor; these tests
read the script.)
"""

import re
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bootstrap"


def _commands() -> list[str]:
    """The script's lines without comments and blank lines."""
    lines = (line.strip() for line in SCRIPT.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def test_bootstrap_kills_nothing_by_name_or_otherwise():
    forbidden = re.compile(r"\b(pkill|killall|kill|systemctl\s+stop|service\s+\S+\s+stop)\b")
    assert [line for line in _commands() if forbidden.search(line)] == []


def test_service_starts_are_forbidden_by_a_policy_rc_d_that_exits_101_during_the_install():
    commands = _commands()
    install = next(i for i, line in enumerate(commands) if line.startswith("apt-get install"))
    before = "\n".join(commands[:install])
    assert "policy=/usr/sbin/policy-rc.d" in before
    assert re.search(r"exit 101.*>\"\$policy\"", before)
    assert 'trap restore_policy EXIT' in before  # put back even when the install fails


def test_an_existing_policy_rc_d_is_moved_aside_and_put_back_after_the_install():
    commands = _commands()
    install = next(i for i, line in enumerate(commands) if line.startswith("apt-get install"))
    assert any(re.search(r'mv "\$policy" "\$saved/policy-rc.d"', line) for line in commands[:install])
    assert any(re.search(r'mv "\$saved/policy-rc.d" "\$policy"', line) for line in commands)
    assert commands[install + 1] == "restore_policy"
