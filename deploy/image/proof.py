"""The whole mesh of deploy/compose.yaml in containers under podman-compose, with a TRX transfer seen end to end.

    scripts/deploy-proof                          # arm64 images (under qemu on x86), built first if missing
    scripts/deploy-proof --arch amd64             # the same, native on x86: the reference for time and memory

compose.yaml runs unchanged, with deploy/compose.proof.yaml on top replacing what a registry would bring (devnet for
TronGrid, SecantusDB for mongo:7, Debian's redis-server for redis:7.4-alpine, no tor: tron-client and tron-relay
reach devnet directly) and, under emulation, deploy/compose.proof-qemu.yaml (memory limits). The images are
scripts/build-image's: lucid-tron, and the TEST-ONLY lucid-proof and lucid-redis (`--proof`). In a temporary project
directory it writes the secrets and a CA with every service's certificate and an operator's (`lucid-tron pki`), then:

1. `podman-compose up -d`, and waits until the seven services and beta-sidecar (and mongo, redis) pass their compose
   health check, which is the image's own probe in exec form. podman 4.3 runs health checks from systemd timers,
   which a machine without systemd lacks, and podman-compose 1.x does not wait for `service_healthy` on podman < 4.6:
   this script runs `podman healthcheck run` every few seconds instead, as the timers would.
2. makes a TRX transfer on devnet with unmodified tronpy from the host, through devnet's published port;
3. asks tron-client for it (GetTransactionInfo, solidified view) as an operator over mutual TLS, from a lucid-proof
   container on tron-isolated (deploy/image/proof_container.py), and compares it with what tronpy saw;
4. reports time to all SERVING and each container's memory (podman stats), prints PASS or FAIL, tears down.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "lucid-proof"
PODMAN_COMPOSE = "podman-compose==1.6.0"
#: The seven services and beta-sidecar: what must be SERVING. mongo and redis must be healthy too.
MESH = ("tron-client", "tron-relay", "wallet-manager", "usdt-manager", "staking", "payment-gateway", "payout-router",
        "beta-sidecar")
HEALTHY = (*MESH, "mongo", "redis")
OPERATOR = "proof"
FUNDED_SUN = 1_000_000_000
TRANSFER_SUN = 12_345_678


def say(message: str) -> None:
    print(f"deploy-proof: {message}", flush=True)


def run(*command: str | Path, check: bool = True, timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(part) for part in command], check=check, timeout=timeout, capture_output=True,
                          text=True, **kwargs)


def podman_compose(cache: Path) -> Path:
    """podman-compose, pinned, in its own venv in the image cache (Debian's 1.0.3 lacks override tags and profiles)."""
    venv = cache / f"venv-{PODMAN_COMPOSE.replace('==', '-')}"
    binary = venv / "bin/podman-compose"
    if not binary.exists():
        run(sys.executable, "-m", "venv", "--clear", venv)
        run(venv / "bin/python", "-m", "pip", "install", "-q", "--disable-pip-version-check", PODMAN_COMPOSE)
    return binary


def images(arch: str, directory: Path, *, build: bool) -> dict[str, str]:
    """Load lucid-tron, lucid-proof and lucid-redis for `arch` (built by scripts/build-image --proof when missing)."""
    names = ("lucid-tron", "lucid-proof", "lucid-redis")
    archives = {name: sorted(directory.glob(f"{name}-*-{arch}.oci.tar")) for name in names}
    if not all(archives.values()):
        if not build:
            raise SystemExit(f"deploy-proof: no {arch} images in {directory} (scripts/build-image --proof)")
        say(f"building the {arch} images into {directory} (scripts/build-image --proof)")
        subprocess.run([ROOT / "scripts/build-image", "--arch", arch, "--proof", "--output", directory], check=True,
                       stdout=subprocess.DEVNULL)
        archives = {name: sorted(directory.glob(f"{name}-*-{arch}.oci.tar")) for name in names}
    loaded = {}
    for name, found in archives.items():
        output = run("podman", "load", "-i", found[-1])
        match = re.search(r"Loaded image(?:\(s\))?: (\S+)", output.stdout + output.stderr)
        if match is None:
            raise SystemExit(f"deploy-proof: podman load {found[-1]} said {output.stdout}{output.stderr}")
        loaded[name] = match.group(1)
    return loaded


def project_directory(base: Path, emulated: bool) -> tuple[Path, list[str]]:
    """compose.yaml and the override files, the proof's helper, secrets and certificates; the -f arguments."""
    project = base / "deploy"
    (project / "proof").mkdir(parents=True)
    files = ["compose.yaml", "compose.proof.yaml", *(["compose.proof-qemu.yaml"] if emulated else [])]
    for name in files:
        shutil.copy2(ROOT / "deploy" / name, project / name)
    shutil.copy2(ROOT / "deploy/image/proof_container.py", project / "proof/proof_container.py")
    secrets = project / "secrets"
    secrets.mkdir()
    from lucid_tron.keys import MasterSecret

    MasterSecret.create_file(secrets / "wallet_master_key")
    (secrets / "trongrid_api_key").write_text("")
    (secrets / "tor_control_password").write_text(os.urandom(16).hex())
    (secrets / "torrc_control").write_text("# tor is not started by the proof\n")
    pki = [ROOT / ".venv/bin/lucid-tron", "pki", "--dir", secrets / "pki"]
    run(*pki, "init")
    for name in MESH:
        run(*pki, "issue-service", name)
    run(*pki, "issue-operator", OPERATOR)
    # Readable by the containers' users (65532 and others): the temporary parent (0700) keeps everyone else out.
    for path in [project, *project.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return project, [part for name in files for part in ("-f", name)]


def containers() -> dict[str, str]:
    """service -> container name, for the project's containers."""
    listed = json.loads(run("podman", "ps", "-a", "--filter", f"label=io.podman.compose.project={PROJECT}",
                            "--format", "json").stdout or "[]")
    return {entry["Labels"]["com.docker.compose.service"]: entry["Names"][0] for entry in listed}


def wait_healthy(names: dict[str, str], started: float, timeout_s: float) -> tuple[dict[str, float], str]:
    """Run each container's compose health check until it passes; seconds after `started` for each, and why not.

    Under qemu one probe costs seconds of CPU (a Python start), and ten starting containers already share two cores:
    a container is probed only once it has logged something (its imports are done), at most two probes at a time.
    """
    healthy: dict[str, float] = {}
    failure: list[str] = []
    lock = threading.Lock()
    probes = threading.Semaphore(2)

    def watch(service: str) -> None:
        name = names[service]
        while time.monotonic() - started < timeout_s and not failure:
            state = run("podman", "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", name, check=False)
            if state.stdout.split()[:1] == ["exited"]:
                logs = run("podman", "logs", "--tail", "15", name, check=False)
                with lock:
                    failure.append(f"{service} exited ({state.stdout.strip()}):\n{logs.stdout}{logs.stderr}")
                return
            logs = run("podman", "logs", "--tail", "1", name, check=False)
            if logs.stdout or logs.stderr:
                try:
                    with probes:
                        probe = run("podman", "healthcheck", "run", name, check=False, timeout=180)
                except subprocess.TimeoutExpired:
                    probe = None
                if probe is not None and probe.returncode == 0:
                    with lock:
                        healthy[service] = time.monotonic() - started
                    return
            time.sleep(5)

    threads = [threading.Thread(target=watch, args=(service,), daemon=True) for service in HEALTHY]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    late = [service for service in HEALTHY if service not in healthy]
    if failure:
        return healthy, failure[0]
    if late:
        # restart: unless-stopped restarts a container that dies: its log says why it never became healthy.
        logs = {service: run("podman", "logs", "--tail", "5", names[service], check=False) for service in late}
        tails = "".join(f"\n--- {service}:\n{log.stdout}{log.stderr}" for service, log in logs.items())
        return healthy, f"not healthy {timeout_s:.0f} s after `up`: {', '.join(late)}{tails}"
    return healthy, ""


def transfer(devnet_url: str, sender_key: bytes) -> dict:
    """A TRX transfer with tronpy, unmodified, from the host; tronpy's receipt."""
    from tronpy import Tron
    from tronpy.keys import PrivateKey
    from tronpy.providers import HTTPProvider

    # No "trongrid" in the URL: tronpy sends no API key of its own.
    tron = Tron(HTTPProvider(devnet_url, api_key=None))
    key = PrivateKey(sender_key)
    receiver = PrivateKey(os.urandom(32)).public_key.to_base58check_address()
    sent = tron.trx.transfer(key.public_key.to_base58check_address(), receiver, TRANSFER_SUN).build().sign(key)
    result = sent.broadcast()
    receipt = result.wait(timeout=120, interval=1)
    return {"txid": result.txid, "block_number": receipt["blockNumber"], "receiver": receiver}


def devnet_answers(url: str, timeout_s: float) -> bool:
    import urllib.request

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/wallet/getnowblock", data=b"{}", timeout=5) as answer:
                if answer.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(2)
    return False


def memory(names: dict[str, str]) -> dict[str, str]:
    """podman stats' memory use of each container (its cgroup: the process, qemu's share under emulation)."""
    listed = json.loads(run("podman", "stats", "--no-stream", "--format", "json", *names.values(), check=False).stdout
                        or "[]")
    by_name = {entry["name"]: entry.get("mem_usage", "?").split(" / ")[0] for entry in listed}
    return {service: by_name.get(name, "?") for service, name in names.items()}


def rss_mib(name: str) -> str:
    """Resident memory of the container's main process (under qemu: the emulator with the program in it)."""
    pid = run("podman", "inspect", "-f", "{{.State.Pid}}", name, check=False).stdout.strip()
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return "?"
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    return f"{int(match.group(1)) / 1024:.0f} MiB" if match else "?"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prove(args: argparse.Namespace) -> list[str]:
    """The proof; the list of failures (empty: PASS)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "lucid-tron-image"
    compose = podman_compose(cache)
    loaded = images(args.arch, args.images, build=not args.no_build)
    machine = {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)
    emulated = args.arch != machine
    say(f"images {', '.join(loaded.values())} ({args.arch}{', under qemu' if emulated else ', native'}); "
        f"{run(compose, '--version').stdout.split(chr(10))[0]}, {run('podman', '--version').stdout.strip()}")
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="lucid-proof-") as scratch:
        project, files = project_directory(Path(scratch), emulated)
        sender = os.urandom(32)
        from tronpy.keys import PrivateKey

        sender_address = PrivateKey(sender).public_key.to_base58check_address()
        devnet_port = free_port()
        env = {**os.environ, "LUCID_TRON_IMAGE": loaded["lucid-tron"], "LUCID_PROOF_IMAGE": loaded["lucid-proof"],
               "LUCID_REDIS_IMAGE": loaded["lucid-redis"], "PROOF_FUND": f"{sender_address}:{FUNDED_SUN}:0",
               "PROOF_DEVNET_PORT": str(devnet_port)}
        command = [compose, "-p", PROJECT, *files]
        run(*command, "down", "-v", "-t", "5", cwd=project, env=env, check=False)
        started = time.monotonic()
        up = run(*command, "up", "-d", cwd=project, env=env, check=False, timeout=900)
        up_s = time.monotonic() - started
        try:
            if up.returncode != 0:
                return [f"podman-compose up failed ({up.returncode}):\n{up.stdout[-3000:]}{up.stderr[-3000:]}"]
            names = containers()
            say(f"`podman-compose up -d` returned after {up_s:.1f} s: {len(names)} containers "
                f"({', '.join(sorted(names))})")
            missing = [service for service in (*HEALTHY, "devnet") if service not in names]
            if missing:
                return [f"containers missing: {missing}"]
            healthy, why = wait_healthy(names, started, args.timeout)
            for service in HEALTHY:
                shown = f"{healthy[service]:6.1f} s" if service in healthy else "   never"
                say(f"  {service:16} healthy (compose health check, the image's probe) after {shown}")
            if why:
                return [why]
            serving_s = max(healthy[service] for service in MESH)
            say(f"all {len(MESH)} SERVING (seven services + beta-sidecar) {serving_s:.1f} s after `podman-compose up`")
            devnet_url = f"http://127.0.0.1:{devnet_port}"
            if not devnet_answers(devnet_url, 60):
                return [f"devnet does not answer on its published port {devnet_url}"]
            sent = transfer(devnet_url, sender)
            say(f"tronpy (host, {devnet_url}): transferred {TRANSFER_SUN} sun to {sent['receiver']}, txid "
                f"{sent['txid']}, block {sent['block_number']}")
            asked = time.monotonic()
            client = run("podman", "run", "--rm", "--network", f"{PROJECT}_tron-isolated", "--read-only",
                         "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
                         "-v", f"{project / 'secrets/pki/operators' / OPERATOR}:/tls:ro",
                         "-v", f"{project / 'proof'}:/proof:ro", "--entrypoint", "/opt/venv/bin/python",
                         loaded["lucid-proof"], "/proof/proof_container.py", "receipt", "--txid", sent["txid"],
                         check=False, timeout=400)  # fmt: skip
            if client.returncode != 0:
                failures.append(f"tron-client did not return the transfer: {client.stderr.strip()[-2000:]}")
            else:
                receipt = json.loads(client.stdout.strip().splitlines()[-1])
                say(f"tron-client GetTransactionInfo (operator mTLS, solidified) after {time.monotonic() - asked:.1f} s:"
                    f" {json.dumps(receipt, sort_keys=True)}")
                if receipt.get("txid") != sent["txid"] or int(receipt.get("block_number", -1)) != sent["block_number"]:
                    failures.append(f"tron-client's receipt {receipt} is not tronpy's {sent}")
                if not receipt.get("solidified"):
                    failures.append("tron-client's receipt is not from the solidified view")
            for service, used in memory({s: names[s] for s in (*HEALTHY, "devnet")}).items():
                say(f"  {service:16} memory {used:>9} (podman stats), RSS {rss_mib(names[service]):>7}"
                    f"{' (under qemu: inflated)' if emulated else ''}")
            return failures
        finally:
            if args.keep:
                say(f"--keep: left running; stop with: cd {project} && {compose} -p {PROJECT} "
                    f"{' '.join(files)} down -v")
                input("deploy-proof: press Enter to tear down ")
            down = time.monotonic()
            run(*command, "down", "-v", "-t", "10", cwd=project, env=env, check=False, timeout=300)
            say(f"torn down in {time.monotonic() - down:.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/deploy-proof", description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", choices=("arm64", "amd64"), default="arm64")
    parser.add_argument("--images", type=Path, default=ROOT / "dist/images",
                        help="where scripts/build-image --proof wrote the archives (default dist/images)")
    parser.add_argument("--no-build", action="store_true", help="fail instead of building missing images")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to all healthy (default 900)")
    parser.add_argument("--keep", action="store_true", help="leave the mesh running until Enter is pressed")
    args = parser.parse_args(argv)
    os.environ.setdefault("CONTAINERS_CONF", str(ROOT / "deploy/image/containers.conf"))
    began = time.monotonic()
    try:
        failures = prove(args)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        failures = [f"{error}\n{getattr(error, 'stdout', '') or ''}{getattr(error, 'stderr', '') or ''}"]
    except KeyboardInterrupt:
        failures = ["interrupted"]
    for failure in failures:
        print(f"deploy-proof: FAIL: {failure}", file=sys.stderr, flush=True)
    verdict = "FAIL" if failures else "PASS"
    say(f"{verdict} ({args.arch}, {time.monotonic() - began:.0f} s in all)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
