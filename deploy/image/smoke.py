"""Start one service from a built image under podman and wait for health SERVING through the probe the image carries.

    scripts/image-smoke dist/images/lucid-tron-0.1.0-arm64.oci.tar

wallet-manager is started as compose starts it (read-only root, uid 65532, every capability dropped, a small /tmp),
against a real Mongo-wire server (SecantusDB, the tests' server, on the host: the container shares the host's
network namespace so it needs no registry image of MongoDB). Health is asked with the image's own probe in exec form
(`/opt/venv/bin/python -m lucid_tron.healthcheck`), as compose's healthcheck does. Prints the time to SERVING and the
service's resident memory (under qemu for arm64 on x86: inflated, see deploy/README.md).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from lucid_tron.testing import MongoServer, free_port

ROOT = Path(__file__).resolve().parents[2]
SERVICE = ("lucid_tron.services.wallet_manager", "lucid.tron.v1.WalletService")
USDT_CONTRACT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
PROBE = ["/opt/venv/bin/python", "-m", "lucid_tron.healthcheck"]


def podman(*arguments: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *arguments], capture_output=True, text=True, check=check, timeout=timeout)


def fail(message: str) -> int:
    print(f"image-smoke: FAILED: {message}", file=sys.stderr)
    return 1


def rss_kib(pid: int) -> int:
    match = re.search(r"^VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.MULTILINE)
    return int(match.group(1)) if match else 0


def smoke(archive: Path, timeout_s: float) -> int:
    loaded = podman("load", "-i", str(archive))
    image = re.search(r"Loaded image(?:\(s\))?: (\S+)", loaded.stdout + loaded.stderr)
    if image is None:
        return fail(f"podman load said: {loaded.stdout}{loaded.stderr}")
    image_name = image.group(1)
    name = f"lucid-smoke-{os.getpid()}"
    module, health_service = SERVICE
    port = free_port()
    with MongoServer() as mongo:
        started = time.monotonic()
        podman("run", "-d", "--name", name, "--network", "host", "--read-only",
               "--tmpfs", "/tmp:size=16m,mode=1777,noexec,nosuid,nodev", "--cap-drop", "ALL",
               "--security-opt", "no-new-privileges", "--pids-limit", "64",
               "-e", "GRPC_HOST=127.0.0.1", "-e", f"GRPC_PORT={port}", "-e", f"MONGO_URL={mongo.url}",
               "-e", f"USDT_CONTRACT={USDT_CONTRACT}", image_name, module)  # fmt: skip
        try:
            reason = ""
            while time.monotonic() - started < timeout_s:
                if podman("inspect", "-f", "{{.State.Running}}", name).stdout.strip() != "true":
                    return fail(f"the container exited:\n{podman('logs', name, check=False).stderr}")
                probe = podman("exec", name, *PROBE, "--port", str(port), health_service, check=False)
                if probe.returncode == 0:
                    break
                reason = probe.stderr.strip()
                time.sleep(1)
            else:
                logs = podman("logs", name, check=False)
                return fail(f"not SERVING after {timeout_s:.0f} s ({reason})\n{logs.stdout}{logs.stderr}")
            serving_s = time.monotonic() - started
            pid = int(podman("inspect", "-f", "{{.State.Pid}}", name).stdout)
            uid = podman("exec", name, "/opt/venv/bin/python", "-c", "import os; print(os.getuid())").stdout.strip()
            wrote = podman("exec", name, "/opt/venv/bin/python", "-c", "open('/opt/venv/x', 'w')", check=False)
            shell = podman("exec", name, "/bin/sh", "-c", "true", check=False)
            problems = []
            if uid != "65532":
                problems.append(f"runs as uid {uid}, not 65532")
            if wrote.returncode == 0 or "Read-only file system" not in wrote.stderr:
                problems.append("the root filesystem is writable")
            if shell.returncode == 0:
                problems.append("/bin/sh runs in the image")
            if problems:
                return fail("; ".join(problems))
            arch = podman("image", "inspect", "-f", "{{.Architecture}}", image_name).stdout.strip()
            print(f"image-smoke: {image_name} ({arch}) {module}: health SERVING after {serving_s:.1f} s "
                  f"(podman run -> probe exit 0), RSS {rss_kib(pid) / 1024:.0f} MiB; uid 65532, read-only root, "
                  "no /bin/sh")
            return 0
        finally:
            podman("rm", "-f", "-t", "10", name, check=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/image-smoke", description=__doc__.split("\n\n")[0])
    parser.add_argument("archive", type=Path, help="lucid-tron-<version>-<arch>.oci.tar from scripts/build-image")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for SERVING (default 180)")
    args = parser.parse_args(argv)
    os.environ.setdefault("CONTAINERS_CONF", str(ROOT / "deploy/image/containers.conf"))
    return smoke(args.archive.resolve(), args.timeout)


if __name__ == "__main__":
    sys.exit(main())
