"""Start one service from a built image under podman and wait for health SERVING through the probe the image carries.

    scripts/image-smoke dist/images/lucid-tron-0.1.0-arm64.oci.tar

wallet-manager is started as compose starts it (read-only root, uid 65532, every capability dropped, a small /tmp,
mutual TLS with certificates from `lucid-tron pki` in a folder mounted read-only as /run/secrets/tls, the plaintext
health-only HEALTH_PORT), against a real Mongo-wire server (SecantusDB, the tests' server, on the host: the container
shares the host's network namespace so it needs no registry image of MongoDB). Health is asked with the image's own
probe in exec form (`/opt/venv/bin/python -m lucid_tron.healthcheck SERVICE`, which asks $HEALTH_PORT), as compose's
healthcheck does; then, from the host, the service port must refuse plaintext and answer an operator's certificate.
Prints the time to SERVING and the service's resident memory (under qemu for arm64 on x86: inflated, see
deploy/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from lucid_tron.cli._health import wait_serving
from lucid_tron.cli._services import MESH, client_host, service_environment
from lucid_tron.keys import MasterSecret
from lucid_tron.pki import DEFAULT_TLS_DIR, TlsFiles, channel_credentials
from lucid_tron.testing import MongoServer, RedisServer, free_port

ROOT = Path(__file__).resolve().parents[2]
SERVICE = ("lucid_tron.services.wallet_manager", "lucid.tron.v1.WalletService")
USDT_CONTRACT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
PROBE = ["/opt/venv/bin/python", "-m", "lucid_tron.healthcheck"]
LUCID_TRON = ROOT / ".venv/bin/lucid-tron"
#: The certificate files inside the container, where TLS_CERT_FILE, TLS_KEY_FILE and TLS_CA_FILE point by default.
CONTAINER_TLS = TlsFiles(DEFAULT_TLS_DIR / "cert.pem", DEFAULT_TLS_DIR / "key.pem", DEFAULT_TLS_DIR / "ca.pem")
OPERATOR = "image-smoke"


def podman(*arguments: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *arguments], capture_output=True, text=True, check=check, timeout=timeout)


def fail(message: str) -> int:
    print(f"image-smoke: FAILED: {message}", file=sys.stderr)
    return 1


def master_key_mount() -> list[str]:
    """podman options that give wallet-manager a fresh master secret at its default ENCRYPTION_KEY_FILE, as compose's
    secret does (readable by the container's uid 65532: a throwaway secret for a throwaway database)."""
    folder = Path(tempfile.mkdtemp(prefix="lucid-smoke-"))
    key = folder / "wallet_master_key"
    MasterSecret.create_file(key)
    key.chmod(0o644)
    return ["-v", f"{key}:/run/secrets/wallet_master_key:ro"]


def rss_kib(pid: int) -> int:
    match = re.search(r"^VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.MULTILINE)
    return int(match.group(1)) if match else 0


def issue_certificates(pki: Path, services: list[str]) -> None:
    """A CA, each service's certificate and an operator's, with `lucid-tron pki` as an operator makes them; readable by
    the containers' uid 65532 as deploy/README.md ("Certificates") says (the temporary parent keeps others out)."""
    pki_command = [str(LUCID_TRON), "pki", "--dir", str(pki)]
    subprocess.run([*pki_command, "init"], check=True, capture_output=True)
    for name in services:
        subprocess.run([*pki_command, "issue-service", name], check=True, capture_output=True)
    subprocess.run([*pki_command, "issue-operator", OPERATOR], check=True, capture_output=True)
    for folder in (pki / "services").iterdir():
        folder.chmod(0o755)
        for pem in folder.glob("*.pem"):
            pem.chmod(0o444)
    pki.chmod(0o755)
    (pki / "services").chmod(0o755)


def tls_mount(pki: Path, service: str) -> list[str]:
    """The service's folder of `lucid-tron pki`, read-only at /run/secrets/tls, as deploy/compose.yaml mounts it."""
    return ["-v", f"{pki / 'services' / service}:{DEFAULT_TLS_DIR}:ro"]


async def service_port_answers(address: str, health_service: str, pki: Path) -> str:
    """'' when the mTLS port refuses a plaintext caller and answers SERVING to the operator's certificate; else why."""
    request = health_pb2.HealthCheckRequest(service=health_service)
    async with grpc.aio.insecure_channel(address) as channel:
        try:
            await health_pb2_grpc.HealthStub(channel).Check(request, timeout=5)
            return "the service port answered a plaintext caller"
        except grpc.aio.AioRpcError:
            pass
    operator = pki / "operators" / OPERATOR
    files = TlsFiles(operator / "cert.pem", operator / "key.pem", operator / "ca.pem")
    async with grpc.aio.secure_channel(address, channel_credentials(files.read())) as channel:
        try:
            answer = await health_pb2_grpc.HealthStub(channel).Check(request, timeout=10)
        except grpc.aio.AioRpcError as error:
            return f"the service port refused the operator's certificate: {error.code().name} {error.details()}"
    if answer.status != health_pb2.HealthCheckResponse.SERVING:
        return f"the service port said {health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)} over mTLS"
    return ""


def smoke(archive: Path, timeout_s: float) -> int:
    loaded = podman("load", "-i", str(archive))
    image = re.search(r"Loaded image(?:\(s\))?: (\S+)", loaded.stdout + loaded.stderr)
    if image is None:
        return fail(f"podman load said: {loaded.stdout}{loaded.stderr}")
    image_name = image.group(1)
    name = f"lucid-smoke-{os.getpid()}"
    module, health_service = SERVICE
    port, health_port = free_port(), free_port()
    with MongoServer() as mongo, tempfile.TemporaryDirectory(prefix="lucid-smoke-") as scratch:
        pki = Path(scratch) / "pki"
        issue_certificates(pki, ["wallet-manager"])
        started = time.monotonic()
        podman("run", "-d", "--name", name, "--network", "host", "--read-only",
               "--tmpfs", "/tmp:size=16m,mode=1777,noexec,nosuid,nodev", "--cap-drop", "ALL",
               "--security-opt", "no-new-privileges", "--pids-limit", "64", *tls_mount(pki, "wallet-manager"),
               "-e", "GRPC_HOST=127.0.0.1", "-e", f"GRPC_PORT={port}", "-e", f"HEALTH_PORT={health_port}",
               "-e", f"MONGO_URL={mongo.url}", "-e", f"USDT_CONTRACT={USDT_CONTRACT}", *master_key_mount(),
               image_name, module)  # fmt: skip
        try:
            reason = ""
            while time.monotonic() - started < timeout_s:
                if podman("inspect", "-f", "{{.State.Running}}", name).stdout.strip() != "true":
                    return fail(f"the container exited:\n{podman('logs', name, check=False).stderr}")
                probe = podman("exec", name, *PROBE, health_service, check=False)
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
            if refused := asyncio.run(service_port_answers(f"127.0.0.1:{port}", health_service, pki)):
                problems.append(refused)
            if problems:
                return fail("; ".join(problems))
            arch = podman("image", "inspect", "-f", "{{.Architecture}}", image_name).stdout.strip()
            print(f"image-smoke: {image_name} ({arch}) {module}: health SERVING after {serving_s:.1f} s "
                  f"(podman run -> probe exit 0 on HEALTH_PORT), RSS {rss_kib(pid) / 1024:.0f} MiB; mutual TLS on "
                  "the service port (plaintext refused, operator certificate answered); uid 65532, read-only root, "
                  "no /bin/sh")
            return 0
        finally:
            podman("rm", "-f", "-t", "10", name, check=False)


def smoke_all(archive: Path, timeout_s: float) -> int:
    """All seven services and beta-sidecar from the image at once, against devnet (direct), SecantusDB and Redis on
    the host.

    The environment of each is `lucid-tron up`'s (lucid_tron.cli's service_environment), so this is `up` with every
    service in its own read-only container, calling its peers over mutual TLS with its own certificate from
    `lucid-tron pki` (mounted as compose mounts it). Waits on the host until every one is SERVING on its plaintext
    health port, then asks each once more through the image's own probe in exec form.
    """
    image_name = re.search(r"Loaded image(?:\(s\))?: (\S+)", podman("load", "-i", str(archive)).stdout).group(1)
    devnet = subprocess.Popen([sys.executable, "-m", "lucid_tron.devnet", "--host", "127.0.0.1"],
                              stdout=subprocess.PIPE, text=True)
    names: list[str] = []
    try:
        info = json.loads(devnet.stdout.readline())
        with MongoServer() as mongo, RedisServer() as redis, tempfile.TemporaryDirectory(prefix="lucid-smoke-") as tmp:
            pki = Path(tmp) / "pki"
            issue_certificates(pki, [service.name for service in MESH])
            ports = {service.name: free_port() for service in MESH}
            health_ports = {service.name: free_port() for service in MESH}
            started = time.monotonic()
            for service in MESH:
                environment = service_environment(
                    {}, service=service, host="127.0.0.1", ports=ports, metrics_port=free_port(),
                    health_port=health_ports[service.name], tls=CONTAINER_TLS, trongrid_url=info["url"],
                    usdt_contract=info["usdt_address"], mongo_url=mongo.url, redis_url=redis.url,
                    secrets_dir="/run/secrets", log_level="INFO", grace_s=5,
                )  # fmt: skip
                name = f"lucid-smoke-{os.getpid()}-{service.name}"
                variables = [part for key, value in sorted(environment.items()) for part in ("-e", f"{key}={value}")]
                secrets = master_key_mount() if service.name == "wallet-manager" else []
                podman("run", "-d", "--name", name, "--network", "host", "--read-only",
                       "--tmpfs", "/tmp:size=16m,mode=1777,noexec,nosuid,nodev", "--cap-drop", "ALL",
                       "--security-opt", "no-new-privileges", *tls_mount(pki, service.name), *variables, *secrets,
                       image_name,
                       service.module)  # fmt: skip
                names.append(name)

            async def all_serving() -> dict[str, float]:
                async def one(service) -> tuple[str, float]:
                    address = f"{client_host('127.0.0.1')}:{health_ports[service.name]}"
                    return service.name, await wait_serving(address, service.grpc_service, poll_s=0.5) - started

                async with asyncio.timeout(timeout_s):
                    return dict(await asyncio.gather(*(one(service) for service in MESH)))

            try:
                took = asyncio.run(all_serving())
            except TimeoutError:
                return fail(f"not all SERVING after {timeout_s:.0f} s")
            for service, name in zip(MESH, names, strict=True):
                probe = podman("exec", name, *PROBE, service.grpc_service, check=False)
                pid = int(podman("inspect", "-f", "{{.State.Pid}}", name).stdout)
                status = "SERVING" if probe.returncode == 0 else f"probe failed: {probe.stderr.strip()}"
                print(f"image-smoke: {service.name:16} {status} after {took[service.name]:5.1f} s, "
                      f"RSS {rss_kib(pid) / 1024:.0f} MiB")
                if probe.returncode != 0:
                    return fail(f"{service.name}: the image's probe did not answer SERVING")
            print(f"image-smoke: all {len(MESH)} (seven services, beta-sidecar) SERVING {max(took.values()):.1f} s "
                  f"after the first podman run ({image_name})")
            return 0
    finally:
        for name in names:
            podman("rm", "-f", "-t", "10", name, check=False)
        devnet.terminate()
        devnet.wait(10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/image-smoke", description=__doc__.split("\n\n")[0])
    parser.add_argument("archive", type=Path, help="lucid-tron-<version>-<arch>.oci.tar from scripts/build-image")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for SERVING (default 180)")
    parser.add_argument("--all", action="store_true", help="all seven services and beta-sidecar at once, against devnet")
    args = parser.parse_args(argv)
    os.environ.setdefault("CONTAINERS_CONF", str(ROOT / "deploy/image/containers.conf"))
    return (smoke_all if args.all else smoke)(args.archive.resolve(), args.timeout)


if __name__ == "__main__":
    sys.exit(main())
