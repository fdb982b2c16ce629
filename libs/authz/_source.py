"""Where a process's policy comes from: a file, watched and reloaded, or a policy shipped inside the package.

`PolicySource.current` is the policy in force. For a file, `reload_if_changed()` (called every
ACL_RELOAD_INTERVAL_S by `watch()`) notices a change by modification time and size, then by content, and swaps the
policy in only when the new text parses: an invalid file is logged at ERROR with what is wrong, counted, and the
last good policy stays in force. `version` increases with each swap, so a compiled per-method view knows when to
compile again.

The shipped policies are package data (`lucid_tron.authz/policies/*.json`), byte for byte the files in
deploy/policies/ (a test holds them equal): a service without ACL_POLICY_FILE runs the mesh policy, never "allow all".
"""

from __future__ import annotations

import asyncio
import logging
import os
from importlib import resources
from pathlib import Path

from lucid_tron.authz._policy import Counts, Policy, PolicyError, parse_policy

__all__ = ["MESH_POLICY", "SIDECAR_POLICY", "PolicySource", "shipped_policy_text"]

#: The policy every service enforces on its callers by default.
MESH_POLICY = "mesh"
#: The policy the beta-sidecar enforces at the wallet/ops border by default.
SIDECAR_POLICY = "wallet-sidecar"

log = logging.getLogger("lucid_tron.authz")


def shipped_policy_text(name: str) -> str:
    """The text of a policy shipped with the package: MESH_POLICY or SIDECAR_POLICY."""
    return resources.files("lucid_tron.authz").joinpath("policies", f"{name}.json").read_text(encoding="utf-8")


class PolicySource:
    """The policy in force, read from `path` (watched) or, when `path` is None, the shipped policy `shipped`."""

    def __init__(self, path: Path | None, shipped: str = MESH_POLICY) -> None:
        self.path = path
        self.counts = Counts()
        self.version = 0
        self._seen: tuple[int, int] | None = None
        if path is None:
            self._text = shipped_policy_text(shipped)
            self.origin = f"shipped policy {shipped!r}"
        else:
            # Unreadable or invalid at start is a configuration error: there is no last good policy to keep.
            self._seen = _stamp(path)
            self._text = _read(path)
            self.origin = str(path)
        self.current: Policy = parse_policy(self._text, self.counts)

    def reload_if_changed(self) -> bool:
        """Read the file again if it changed; True when a new policy is now in force."""
        if self.path is None:
            return False
        try:
            stamp = _stamp(self.path)
            if stamp == self._seen:
                return False
            self._seen = stamp
            text = _read(self.path)
        except OSError as error:
            return self._failed(f"cannot read it: {error.strerror or error}")
        except PolicyError as error:
            return self._failed(str(error))
        if text == self._text:
            return False
        try:
            policy = parse_policy(text, self.counts)
        except PolicyError as error:
            return self._failed(str(error))
        self._text = text
        self.current = policy
        self.version += 1
        log.info(
            "ACL policy %r reloaded from %s",
            policy.name,
            self.path,
            extra={"authz_policy": policy.name, "policy_file": str(self.path)},
        )
        return True

    async def watch(self, interval_s: float) -> None:
        """Reload the file whenever it changes, checking every `interval_s`, until cancelled."""
        while True:
            await asyncio.sleep(interval_s)
            self.reload_if_changed()

    def _failed(self, why: str) -> bool:
        self.counts.reload_failures += 1
        log.error(
            "ACL policy file %s not loaded, keeping policy %r: %s",
            self.path,
            self.current.name,
            why,
            extra={"authz_policy": self.current.name, "policy_file": str(self.path), "problem": why},
        )
        return False


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise PolicyError(f"not UTF-8 text: {error.reason} at byte {error.start}") from None


def _stamp(path: Path) -> tuple[int, int]:
    status = os.stat(path)
    return status.st_mtime_ns, status.st_size
