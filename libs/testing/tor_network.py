"""A private Tor network on loopback for tests, benchmarks and manual runs: real `tor`, no internet.

Four Debian `tor` processes (recipe and measurements: shared notes/tor-test-network.md):

    auth0   directory authority and the only exit; resolves names with the DNS stub (`*.test`, `localhost` -> 127.0.0.1)
    auth1   directory authority
    auth2   directory authority
    client  `SocksPort 127.0.0.1:<socks_port> IsolateSOCKSAuth`, `ControlPort 127.0.0.1:<control_port>` with cookie auth
            (and a hashed password when `control_password` is given), ConfluxEnabled 0 so one stream = one circuit

Every start generates fresh authority keys (tor-gencert) and fresh relay keys in a new data dir. `start()` returns when
the client is 100% bootstrapped AND a GET to http://probe.test:<port>/ (a tiny HTTP server on 127.0.0.1) through the
SOCKS port returned 200: the first streams after 100% can still fail, so only a real request proves readiness.
Any `*.test` name reaches 127.0.0.1 through the exit: devnet on 127.0.0.1:P is http://trongrid.test:P through Tor.

Boot takes ~10 s on two cores (measured 9.9-13.2 s): 2-6 s of key generation (RSA, CPU-bound), the first consensus
4-5 s after the authorities start (TestingV3AuthVotingStartOffset places the first vote 2-3 s after their start, see
_first_vote_offset), then ~2 s for the client, which starts only once that consensus lists an exit. A killed client is
ready again in ~1.1 s (same ports, same data dir). `boot_phases_s` has the split of the last start.

    with TorNetwork() as tor:                      # or `async with`, or start()/stop()
        tor.socks_port, tor.control_port, tor.control_cookie_path, tor.data_dir, tor.log_paths["client"]
        tor.kill_client(); tor.start_client()      # crash tor under a service, bring it back (same ports)

Network isolation. A Tor network that cannot leave the machine is the point, so there are two layers:
  1. Always: every address is 127.0.0.1 (ORPort/DirPort/SocksPort/ControlPort bind to it), the exit only accepts
     127.0.0.0/8 (IPv6Exit 0), and its only nameserver is the stub, which maps nothing outside 127.0.0.1.
  2. When the machine allows it: the whole test process runs in a network namespace with only `lo` up, so even a bug
     cannot reach another host. Tests, the servers they start and tor must share one loopback, so the namespace wraps
     the whole run instead of the tor processes alone: `scripts/in-netns -- python -m pytest -m tor` (root: a new net
     namespace; otherwise a user namespace plus a net namespace, where the kernel allows it). `scripts/tor-testnet
     --netns` does the same for a manual network.
`network_isolation()` says which mode the current process is in ("netns": only `lo` exists; "host": other interfaces
exist, layer 1 only) and `TorNetwork.isolation` records it; the pytest plugin prints it in the report header and fails
instead of running when LUCID_TOR_REQUIRE_NETNS=1 and the run is not isolated.

Teardown: SIGTERM (ShutdownWaitLength 0 makes tor exit at once), SIGKILL after `stop_timeout`. Every tor also names
an owner process that dies with ours (__OwningControllerProcess), so a test run killed without teardown leaves no
tor behind for more than ~15 s (tor's polling interval).
"""

from __future__ import annotations

import asyncio
import atexit
import ctypes
import errno
import fcntl
import http.client
import http.server
import math
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal, Self, TypeVar

import stem
import stem.connection
import stem.control

from . import ServerStartError, free_port
from .dns_stub import DnsQuestion, DnsStub

__all__ = [
    "AUTHORITIES",
    "Isolation",
    "ProbeRequest",
    "TorNetwork",
    "enter_loopback_only_netns",
    "missing_tor_binaries",
    "network_isolation",
    "socks_http_get",
]

LOOPBACK = "127.0.0.1"
AUTHORITIES = ("auth0", "auth1", "auth2")
EXIT = "auth0"
CLIENT = "client"
PROBE_HOST = "probe.test"

Isolation = Literal["netns", "host"]
_T = TypeVar("_T")

# Children are stopped at interpreter exit too (an interrupted run); a SIGKILLed test process is covered by
# __OwningControllerProcess instead.
_live: set[TorNetwork] = set()


@atexit.register
def _stop_live_networks() -> None:
    for network in list(_live):
        network.stop()


# -- network namespaces -------------------------------------------------------------------------------------------


def network_isolation() -> Isolation:
    """'netns' when this process sees no network interface but `lo` (nothing can leave the machine), else 'host'."""
    # if_nameindex() asks the kernel about the caller's own net namespace; /sys/class/net would show the namespace
    # that mounted /sys, which `unshare -n` does not change.
    names = {name for _, name in socket.if_nameindex()}
    return "netns" if names <= {"lo"} else "host"


_CLONE_NEWNET = 0x40000000
_CLONE_NEWUSER = 0x10000000
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1


def enter_loopback_only_netns() -> None:
    """Move this process into a new network namespace whose only interface is `lo`, up (127.0.0.1 and ::1).

    Root gets a plain net namespace; other users get a user namespace (mapped to root inside) plus a net namespace,
    which needs unprivileged user namespaces. Call it while the process is single-threaded, before exec'ing the
    command to isolate (scripts/in-netns). Raises OSError when the kernel refuses.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    uid, gid = os.getuid(), os.getgid()
    flags = _CLONE_NEWNET if uid == 0 else _CLONE_NEWUSER | _CLONE_NEWNET
    if libc.unshare(flags) != 0:
        code = ctypes.get_errno()
        what = "CLONE_NEWNET" if uid == 0 else "CLONE_NEWUSER|CLONE_NEWNET"
        raise OSError(code, f"unshare({what}): {os.strerror(code)}")
    if uid != 0:
        Path("/proc/self/setgroups").write_text("deny")
        Path("/proc/self/uid_map").write_text(f"0 {uid} 1")
        Path("/proc/self/gid_map").write_text(f"0 {gid} 1")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH22x", b"lo", 0)
        current = struct.unpack_from("16sH", fcntl.ioctl(sock, _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", current | _IFF_UP))
    if network_isolation() != "netns":
        raise OSError(errno.EPERM, "entered a new network namespace but it still has interfaces other than lo")


# -- the probe server ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProbeRequest:
    """One request the probe server answered: the Host header as the client sent it through Tor, and the path."""

    host: str
    path: str


class _ProbeServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__((LOOPBACK, 0), _ProbeHandler)
        self.requests: list[ProbeRequest] = []
        self.lock = threading.Lock()


class _ProbeHandler(http.server.BaseHTTPRequestHandler):
    server: _ProbeServer
    body = b"lucid-tron tor probe\n"

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.requests.append(ProbeRequest(host=self.headers.get("Host", ""), path=self.path))
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: object) -> None:
        """Silent: the test output is not the place for access logs."""


# -- the network ----------------------------------------------------------------------------------------------------


def missing_tor_binaries(tor: str = "tor", gencert: str = "tor-gencert") -> list[str]:
    """Names of the programs a TorNetwork needs that are not on PATH (empty when it can run)."""
    return [name for name in (tor, gencert) if shutil.which(name) is None]


@dataclass
class _Node:
    name: str
    data_dir: Path
    or_port: int = 0
    dir_port: int = 0
    v3ident: str = ""
    fingerprint: str = ""
    process: subprocess.Popen[bytes] | None = None

    @property
    def torrc(self) -> Path:
        return self.data_dir / "torrc"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "tor.log"


class TorNetwork:
    """Three directory authorities (auth0 is the exit) and one client, all `tor`, on 127.0.0.1. See the module doc.

    `base_dir` holds one data dir per node, the shared files and every log. When the network creates it (the default),
    `stop()` deletes it unless `keep_data_dir`; a base_dir passed in is never deleted (pytest's tmp dirs keep logs of
    the last runs), nor is any data dir after a failed start (the error names the log to read).
    """

    def __init__(
        self,
        base_dir: str | os.PathLike[str] | None = None,
        *,
        control_password: str | None = None,
        keep_data_dir: bool = False,
        bootstrap_timeout: float = 60.0,
        probe_timeout: float = 30.0,
        stop_timeout: float = 10.0,
        tor: str = "tor",
        gencert: str = "tor-gencert",
    ) -> None:
        self._owns_dir = base_dir is None
        self._keep_data_dir = keep_data_dir
        self.data_dir = Path(base_dir) if base_dir is not None else Path(tempfile.mkdtemp(prefix="lucid-tron-tor-"))
        self.control_password = control_password
        self.bootstrap_timeout = bootstrap_timeout
        self.probe_timeout = probe_timeout
        self.stop_timeout = stop_timeout
        self._tor = tor
        self._gencert = gencert
        self._nodes = {name: _Node(name, self.data_dir / name) for name in (*AUTHORITIES, CLIENT)}
        self.socks_port = 0
        self.control_port = 0
        self._dns: DnsStub | None = None
        self._probe: _ProbeServer | None = None
        self._probe_thread: threading.Thread | None = None
        self._owner: subprocess.Popen[bytes] | None = None
        self._voting_offset = 0
        self.isolation: Isolation = network_isolation()
        #: Seconds from start() until the whole network was ready, and until each step of it was done:
        #: "keys" (generated), "consensus" (the authorities serve one with an exit; the client starts then),
        #: "bootstrapped" (client at 100%), "ready" (a GET through Tor returned 200).
        self.started_in_s: float | None = None
        self.boot_phases_s: dict[str, float] = {}

    # -- what tests use ---------------------------------------------------------------------------------------------

    @property
    def socks_url(self) -> str:
        """socks5://127.0.0.1:<socks_port> (aiohttp-socks: pass rdns=True so hostnames reach the exit)."""
        return f"socks5://{LOOPBACK}:{self.socks_port}"

    @property
    def control_cookie_path(self) -> Path:
        """The client's control cookie; tor rewrites it on every client start."""
        return self._nodes[CLIENT].data_dir / "control_auth_cookie"

    @property
    def log_paths(self) -> dict[str, Path]:
        """tor's log (notice level, stdout and stderr) per node: auth0, auth1, auth2, client."""
        return {name: node.log_path for name, node in self._nodes.items()}

    @property
    def pids(self) -> dict[str, int]:
        """Process ids of the tor processes that run now, per node."""
        return {name: node.process.pid for name, node in self._nodes.items() if _alive(node.process)}

    @property
    def dns_port(self) -> int:
        """The UDP port of the exit's DNS stub on 127.0.0.1."""
        return _require(self._dns).port

    @property
    def dns_queries(self) -> list[DnsQuestion]:
        """Every question the exit asked the DNS stub so far (names lower-cased)."""
        return _require(self._dns).queries

    @property
    def probe_port(self) -> int:
        return _require(self._probe).server_address[1]

    @property
    def probe_url(self) -> str:
        """http://probe.test:<port>/: the readiness probe, served on 127.0.0.1 and reachable only through the exit."""
        return f"http://{PROBE_HOST}:{self.probe_port}/"

    @property
    def probe_requests(self) -> list[ProbeRequest]:
        """Every request the probe server answered so far."""
        server = _require(self._probe)
        with server.lock:
            return list(server.requests)

    @property
    def client_running(self) -> bool:
        return _alive(self._nodes[CLIENT].process)

    def controller(self) -> stem.control.Controller:
        """A stem Controller on the client's control port, authenticated (cookie); the caller closes it (`with`)."""
        controller = stem.control.Controller.from_port(address=LOOPBACK, port=self.control_port)
        try:
            controller.authenticate()
        except BaseException:
            controller.close()
            raise
        return controller

    def bootstrap_progress(self) -> int:
        """The client's bootstrap percentage (GETINFO status/bootstrap-phase)."""
        with self.controller() as controller:
            return _progress(controller.get_info("status/bootstrap-phase"))

    def wait_bootstrapped(self, timeout: float | None = None) -> None:
        """Wait until the client reports 100% bootstrapped; ServerStartError on timeout or when a tor exits."""
        timeout = self.bootstrap_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        phase = "no answer on the control port"
        while True:
            self._check_alive()
            try:
                with self.controller() as controller:
                    while True:
                        phase = controller.get_info("status/bootstrap-phase")
                        if _progress(phase) == 100:
                            return
                        self._check_alive()
                        if time.monotonic() >= deadline:
                            break
                        time.sleep(0.1)
            except (stem.SocketError, stem.connection.AuthenticationFailure, OSError):
                pass  # tor has not opened its control port (or written its cookie) yet
            if time.monotonic() >= deadline:
                raise ServerStartError(self._failure(f"client not bootstrapped within {timeout:.0f} s ({phase})"))
            time.sleep(0.1)

    def wait_ready(self, timeout: float | None = None) -> None:
        """Wait for 100% bootstrap, then GET probe.test through the SOCKS port until it answers 200."""
        self.wait_bootstrapped()
        timeout = self.probe_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        last_error = "no attempt"
        while True:
            self._check_alive()
            try:
                status = socks_http_get(self.socks_port, PROBE_HOST, self.probe_port, "/ready", timeout=5.0)
                if status == 200:
                    return
                last_error = f"HTTP {status}"
            except OSError as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            if time.monotonic() >= deadline:
                what = f"no 200 from {self.probe_url} within {timeout:.0f} s ({last_error})"
                raise ServerStartError(self._failure(what))
            time.sleep(0.25)

    # -- lifecycle --------------------------------------------------------------------------------------------------

    def start(self) -> Self:
        """Generate keys, start the DNS stub, the probe server and the four tors; return once ready (see wait_ready).

        On failure everything is stopped, the data dir (with the logs) is kept, and ServerStartError says why."""
        if any(_alive(node.process) for node in self._nodes.values()):
            raise RuntimeError("TorNetwork already running")
        missing = missing_tor_binaries(self._tor, self._gencert)
        if missing:
            install = "apt-get install -y --no-install-recommends tor"
            raise ServerStartError(f"not on PATH: {', '.join(missing)} ({install})")
        began = time.monotonic()
        _live.add(self)
        try:
            self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._start_helpers()
            for attempt in range(1, _START_ATTEMPTS + 1):
                try:
                    self._boot(began)
                    break
                except _PortTaken:
                    # Another process bound one of our ports between free_port() and tor's bind: new ports, new keys.
                    if attempt == _START_ATTEMPTS:
                        raise
                    for node in self._nodes.values():
                        self._terminate(node)
        except BaseException:
            self._shutdown(delete_data_dir=False)
            raise
        return self

    def stop(self) -> None:
        """Stop every tor (SIGTERM, then SIGKILL after stop_timeout), the stub and the probe; delete an owned data dir
        unless keep_data_dir. Safe to call twice."""
        self._shutdown(delete_data_dir=self._owns_dir and not self._keep_data_dir)

    def stop_client(self) -> None:
        """Stop the client tor gracefully (SIGTERM); the authorities keep running. start_client() brings it back."""
        self._terminate(self._nodes[CLIENT])

    def kill_client(self) -> None:
        """SIGKILL the client tor (a crash, as tests simulate it): its SOCKS and control ports refuse connections."""
        node = self._nodes[CLIENT]
        if _alive(node.process):
            assert node.process is not None
            node.process.kill()
            node.process.wait()
        node.process = None

    def start_client(self, *, wait: bool = True) -> None:
        """Start the client tor again on the same ports and data dir; by default wait until it is ready (wait_ready)."""
        node = self._nodes[CLIENT]
        if _alive(node.process):
            raise RuntimeError("the Tor client is already running")
        self._spawn(node)
        if wait:
            self.wait_ready()

    def restart_client(self) -> None:
        """stop_client() then start_client(): same ports, ready on return."""
        self.stop_client()
        self.start_client()

    def log_tail(self, name: str = CLIENT, lines: int = 30) -> str:
        try:
            text = self._nodes[name].log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        # Starting blocks for seconds: keep the event loop free meanwhile.
        return await asyncio.to_thread(self.__enter__)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.stop)

    def __repr__(self) -> str:
        return (
            f"<TorNetwork socks={LOOPBACK}:{self.socks_port} control={LOOPBACK}:{self.control_port} "
            f"isolation={self.isolation} running={sorted(self.pids)} data_dir={self.data_dir}>"
        )

    # -- internals --------------------------------------------------------------------------------------------------

    def _boot(self, began: float) -> None:
        self._assign_ports()
        self._write_node_files()
        self._generate_keys()
        self.boot_phases_s = {"keys": time.monotonic() - began}
        self._voting_offset = _first_vote_offset(time.time())
        for node in self._nodes.values():
            node.torrc.write_text(self._torrc(node))
        for name in AUTHORITIES:
            self._spawn(self._nodes[name])
        self._wait_usable_consensus()
        self.boot_phases_s["consensus"] = time.monotonic() - began
        # Only now: a client that fetched an earlier consensus (no exit yet) would wait 10-20 s for its next fetch.
        self._spawn(self._nodes[CLIENT])
        self.wait_bootstrapped()
        self.boot_phases_s["bootstrapped"] = time.monotonic() - began
        self.wait_ready()
        self.started_in_s = self.boot_phases_s["ready"] = time.monotonic() - began

    def _shutdown(self, *, delete_data_dir: bool) -> None:
        for node in self._nodes.values():
            self._terminate(node)
        self._stop_owner()
        if self._dns is not None:
            self._dns.stop()
            self._dns = None
        if self._probe is not None:
            self._probe.shutdown()
            self._probe.server_close()
            self._probe = None
        if self._probe_thread is not None:
            self._probe_thread.join(timeout=5)
            self._probe_thread = None
        _live.discard(self)
        if delete_data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def _start_owner(self) -> None:
        """A `cat` that lives exactly as long as this process: it exits on EOF when our end of its stdin closes,
        which the kernel does even when this process is SIGKILLed. Every tor names it in __OwningControllerProcess
        and exits within 15 s of it. Naming our own pid instead would not do: stem sends TAKEOWNERSHIP whenever the
        controlling process is the owner, and tor then exits as soon as that control connection closes."""
        self._owner = subprocess.Popen(
            ["cat"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )

    def _stop_owner(self) -> None:
        owner, self._owner = self._owner, None
        if owner is None:
            return
        assert owner.stdin is not None
        owner.stdin.close()
        try:
            owner.wait(5)
        except subprocess.TimeoutExpired:
            owner.kill()
            owner.wait()

    def _start_helpers(self) -> None:
        self._start_owner()
        self._dns = DnsStub().start()
        self._probe = _ProbeServer()
        self._probe_thread = threading.Thread(
            target=self._probe.serve_forever, kwargs={"poll_interval": 0.2}, name="tor-probe", daemon=True
        )
        self._probe_thread.start()

    def _assign_ports(self) -> None:
        for name in AUTHORITIES:
            node = self._nodes[name]
            node.or_port, node.dir_port = free_port(), free_port()
        self.socks_port, self.control_port = free_port(), free_port()

    def _write_node_files(self) -> None:
        # Empty GeoIP files: loading Debian's saves nothing here and costs ~5 s and 35 MB per process.
        (self.data_dir / "geoip").write_text("")
        (self.data_dir / "geoip6").write_text("")
        (self.data_dir / "resolv.conf").write_text(f"nameserver {LOOPBACK}:{self.dns_port}\n")
        for node in self._nodes.values():
            # Fresh every boot: keys, state and logs of an earlier attempt must not leak into this one.
            shutil.rmtree(node.data_dir, ignore_errors=True)
            node.data_dir.mkdir(mode=0o700)

    def _generate_keys(self) -> None:
        """Fresh v3 authority keys (tor-gencert) and relay identity keys (tor --list-fingerprint), all in parallel."""
        jobs: list[tuple[_Node, str, subprocess.Popen[str]]] = []
        for name in AUTHORITIES:
            node = self._nodes[name]
            keys = node.data_dir / "keys"
            keys.mkdir(mode=0o700, exist_ok=True)
            gencert = [
                self._gencert, "--create-identity-key", "--passphrase-fd", "0",
                "-i", str(keys / "authority_identity_key"), "-s", str(keys / "authority_signing_key"),
                "-c", str(keys / "authority_certificate"), "-m", "12", "-a", f"{LOOPBACK}:{node.dir_port}",
            ]  # fmt: skip
            fingerprint = [
                self._tor, "--ignore-missing-torrc", "-f", os.devnull, "--DataDirectory", str(node.data_dir),
                "--ORPort", "1", "--Nickname", node.name, "--list-fingerprint",
                "--GeoIPFile", str(self.data_dir / "geoip"), "--GeoIPv6File", str(self.data_dir / "geoip6"),
                "--Log", "err stderr",
            ]  # fmt: skip
            for kind, argv in (("gencert", gencert), ("fingerprint", fingerprint)):
                process = subprocess.Popen(
                    argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
                )
                jobs.append((node, kind, process))
        for node, kind, process in jobs:
            # An empty passphrase: the keys live only as long as this network.
            output, _ = process.communicate("\n" if kind == "gencert" else "", timeout=60)
            if process.returncode != 0:
                raise ServerStartError(f"{kind} for {node.name} exited with {process.returncode}:\n{output}")
            if kind == "fingerprint":
                # "<nickname> <fingerprint in groups of four>"
                fields = output.strip().splitlines()[-1].split()
                node.fingerprint = "".join(fields[1:])
        for name in AUTHORITIES:
            node = self._nodes[name]
            certificate = (node.data_dir / "keys" / "authority_certificate").read_text()
            match = re.search(r"^fingerprint ([0-9A-F]{40})$", certificate, re.MULTILINE)
            if match is None or not re.fullmatch(r"[0-9A-F]{40}", node.fingerprint):
                raise ServerStartError(f"could not read the fingerprints of {node.name}")
            node.v3ident = match.group(1)

    def _torrc(self, node: _Node) -> str:
        authorities = [self._nodes[name] for name in AUTHORITIES]
        lines = [
            "TestingTorNetwork 1",
            f"DataDirectory {node.data_dir}",
            f"Nickname {node.name}",
            *(
                f"DirAuthority {a.name} orport={a.or_port} no-v2 v3ident={a.v3ident} "
                f"{LOOPBACK}:{a.dir_port} {a.fingerprint}"
                for a in authorities
            ),
            "UseDefaultFallbackDirs 0",
            "PathsNeededToBuildCircuits 0.67",
            "TestingDirAuthVoteExit *",
            "TestingDirAuthVoteGuard *",
            "TestingDirAuthVoteHSDir *",
            "TestingMinExitFlagThreshold 0",
            "V3AuthNIntervalsValid 2",
            f"GeoIPFile {self.data_dir / 'geoip'}",
            f"GeoIPv6File {self.data_dir / 'geoip6'}",
            "ShutdownWaitLength 0",
            # Tor exits by itself when its owner is gone: see _start_owner.
            f"__OwningControllerProcess {_require(self._owner).pid}",
            "Log notice stdout",
            # Addresses in logs are all 127.0.0.1 here, and they help when a test fails.
            "SafeLogging 0",
        ]
        if node.name == CLIENT:
            lines += [
                f"SocksPort {LOOPBACK}:{self.socks_port} IsolateSOCKSAuth",
                f"ControlPort {LOOPBACK}:{self.control_port}",
                "CookieAuthentication 1",
                "ClientOnly 1",
                # Microdescriptor clients see no usable exit in a network this small.
                "UseMicrodescriptors 0",
                # One stream, one circuit: conflux would split a stream over two legs and blur circuit checks.
                "ConfluxEnabled 0",
            ]
            if self.control_password is not None:
                lines.append(f"HashedControlPassword {self._hash_password(self.control_password)}")
            return "\n".join(lines) + "\n"
        lines += [
            "SocksPort 0",
            f"Address {LOOPBACK}",
            f"ORPort {LOOPBACK}:{node.or_port}",
            f"DirPort {LOOPBACK}:{node.dir_port}",
            "AssumeReachable 1",
            "AuthoritativeDirectory 1",
            "V3AuthoritativeDirectory 1",
            # Fast voting: a first consensus within seconds.
            f"TestingV3AuthInitialVotingInterval {_INITIAL_VOTING_INTERVAL}",
            f"TestingV3AuthVotingStartOffset {self._voting_offset}",
            "TestingV3AuthInitialVoteDelay 2",
            "TestingV3AuthInitialDistDelay 2",
            "V3AuthVotingInterval 10",
            "V3AuthVoteDelay 2",
            "V3AuthDistDelay 2",
        ]
        if node.name == EXIT:
            lines += [
                "ExitRelay 1",
                "ExitPolicyRejectPrivate 0",
                "RefuseUnknownExits 0",
                "IPv6Exit 0",
                # Loopback only. The final accept makes clients believe hostnames may exit here; the exit resolves
                # them with the stub, which answers 127.0.0.1 or NXDOMAIN.
                "ExitPolicy accept 127.0.0.0/8:*",
                "ExitPolicy reject 0.0.0.0/1:*",
                "ExitPolicy reject 128.0.0.0/1:*",
                "ExitPolicy accept *:*",
                f"ServerDNSResolvConfFile {self.data_dir / 'resolv.conf'}",
                "ServerDNSDetectHijacking 0",
                "ServerDNSAllowBrokenConfig 1",
            ]
        else:
            lines += ["ExitRelay 0", "ExitPolicy reject *:*"]
        return "\n".join(lines) + "\n"

    def _wait_usable_consensus(self) -> None:
        """Wait until every authority serves a consensus listing all three relays and an exit.

        The first consensus often lists only some relays and no exit. A client that fetched it waits for its next
        scheduled fetch, 10-20 s later, so starting the client only now makes boot times steady (about 8 s after the
        keys instead of 8 or 22)."""
        deadline = time.monotonic() + self.bootstrap_timeout
        pending = list(AUTHORITIES)
        while pending:
            self._check_alive()
            pending = [name for name in pending if not _consensus_usable(self._nodes[name].dir_port)]
            if not pending:
                return
            if time.monotonic() >= deadline:
                raise ServerStartError(
                    self._failure(f"{pending[0]} published no consensus with an exit in time", pending[0])
                )
            time.sleep(0.2)

    def _hash_password(self, password: str) -> str:
        result = subprocess.run(
            [self._tor, "--quiet", "--hash-password", password], capture_output=True, text=True, check=True, timeout=30
        )
        return result.stdout.strip().splitlines()[-1]

    def _spawn(self, node: _Node) -> None:
        with open(node.log_path, "ab") as log:
            log.write(f"--- lucid-tron: starting {node.name}\n".encode())
            log.flush()
            node.process = subprocess.Popen(
                [self._tor, "-f", str(node.torrc), "--ignore-missing-torrc"],
                cwd=node.data_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Own session: a Ctrl-C in the terminal reaches the test runner, which stops tor in order.
                start_new_session=True,
            )

    def _terminate(self, node: _Node) -> None:
        process, node.process = node.process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def _check_alive(self) -> None:
        for node in self._nodes.values():
            if node.process is not None and node.process.poll() is not None:
                code = node.process.returncode
                node.process = None
                failure = self._failure(f"{node.name} exited with {code}", node.name)
                if "Address already in use" in self.log_tail(node.name):
                    raise _PortTaken(failure)
                raise ServerStartError(failure)

    def _failure(self, what: str, name: str = CLIENT) -> str:
        return f"tor network: {what}; log {self._nodes[name].log_path}:\n{self.log_tail(name)}"


_START_ATTEMPTS = 3


class _PortTaken(ServerStartError):
    """A tor exited because another process took one of its ports."""


def _require(value: _T | None) -> _T:
    if value is None:
        raise RuntimeError("TorNetwork is not running")
    return value


def _alive(process: subprocess.Popen[bytes] | None) -> bool:
    return process is not None and process.poll() is None


# Seconds between the first votes. tor halves the initial vote and distribution delays to 1 s each when they exceed
# half of it, so the authorities vote 2 s before each boundary and publish on it.
_INITIAL_VOTING_INTERVAL = 5


def _first_vote_offset(spawn_time: float) -> int:
    """TestingV3AuthVotingStartOffset that puts the first consensus 4-5 s after the authorities are spawned.

    Without it the first vote follows the wall clock: when it falls within a second of the start, the authorities have
    not seen each other's descriptors yet, the consensus lists no exit, and the next one comes 10 s later (boots of
    ~9 s or ~19 s at random). tor takes the first boundary after its start (`now`, whole seconds) that is congruent to
    the offset modulo the interval; for `now` = ceil(spawn_time) - 1 or ceil(spawn_time), that is ceil(spawn_time) + 4,
    with the vote 2-3 s after the spawn."""
    return (math.ceil(spawn_time) + 4) % _INITIAL_VOTING_INTERVAL


def _consensus_usable(dir_port: int) -> bool:
    """True when the authority on dir_port serves a consensus with all three relays and one flagged Exit.

    http.client rather than urllib: urllib would honour an http_proxy variable and send this off the machine."""
    connection = http.client.HTTPConnection(LOOPBACK, dir_port, timeout=2)
    try:
        connection.request("GET", "/tor/status-vote/current/consensus")
        response = connection.getresponse()
        if response.status != 200:
            return False
        lines = response.read().decode("ascii", "replace").splitlines()
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()
    relays = sum(1 for line in lines if line.startswith("r "))
    exits = sum(1 for line in lines if line.startswith("s ") and "Exit" in line.split())
    return relays >= len(AUTHORITIES) and exits >= 1


def _progress(phase: str) -> int:
    match = re.search(r"PROGRESS=(\d+)", phase)
    return int(match.group(1)) if match else 0


def socks_http_get(
    socks_port: int,
    host: str,
    port: int,
    path: str = "/",
    *,
    username: str | None = None,
    timeout: float = 10.0,
) -> int:
    """Status code of `GET http://host:port/path` through the SOCKS5 proxy on 127.0.0.1:socks_port, hostname resolved
    by the proxy (Tor: by the exit). Standard library only, so it runs in any thread without an event loop."""
    with socket.create_connection((LOOPBACK, socks_port), timeout=timeout) as sock:
        if username is None:
            sock.sendall(b"\x05\x01\x00")
            _expect(sock, b"\x05\x00", "SOCKS5 method")
        else:
            user = username.encode()
            sock.sendall(b"\x05\x01\x02")
            _expect(sock, b"\x05\x02", "SOCKS5 method")
            sock.sendall(b"\x01" + bytes([len(user)]) + user + b"\x01x")
            _expect(sock, b"\x01\x00", "SOCKS5 username/password")
        name = host.encode("idna")
        sock.sendall(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + struct.pack("!H", port))
        reply = _recv_exact(sock, 4)
        if reply[1] != 0:
            raise ConnectionError(f"SOCKS5 CONNECT to {host}:{port} refused with reply {reply[1]}")
        bound = {1: 4, 4: 16}.get(reply[3])
        _recv_exact(sock, (bound if bound is not None else _recv_exact(sock, 1)[0]) + 2)
        sock.sendall(f"GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\n\r\n".encode())
        status_line = b""
        while b"\r\n" not in status_line:
            chunk = sock.recv(1024)
            if not chunk:
                raise ConnectionError(f"connection closed before an HTTP status from {host}:{port}")
            status_line += chunk
        return int(status_line.split(b" ", 2)[1])


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("SOCKS5 proxy closed the connection")
        data += chunk
    return data


def _expect(sock: socket.socket, expected: bytes, what: str) -> None:
    reply = _recv_exact(sock, len(expected))
    if reply != expected:
        raise ConnectionError(f"{what}: proxy answered {reply.hex()}, expected {expected.hex()}")

