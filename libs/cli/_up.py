"""`lucid-tron up`: the whole payment plane on one machine, against devnet, until Ctrl-C or SIGTERM.

Start order: devnet, the MongoDB-wire server and Redis (side by side), then the seven services and beta-sidecar (in
front of wallet-manager: payment-gateway reaches wallet-manager only through it, as in compose and k3s), each its own
process on its own port, all at once; `up` waits until every one answers SERVING on grpc.health.v1, prints where they are,
writes `<state-dir>/endpoints.json` and watches them. Stop order (signal, or a child that died): the services
(SIGTERM, their grace period, then SIGKILL), devnet, then the database and Redis if `up` started them, then (--tor)
the Tor network.

`--tor`: the devnet behind real Tor. `up` also boots a private Tor network on loopback (lucid_tron.testing.TorNetwork:
three authorities, one of them the exit, and a client; ~10 s, alongside devnet and the databases), devnet listens on
127.0.0.1 whatever --host says, and the services run with Tor required, as in production: TRONGRID_URL is
http://trongrid.test:<devnet port>, a name only the exit resolves, and the Tor variables point at the client's SOCKS
and control ports (cookie auth). endpoints.json gains a "tor" entry (ports, cookie, data dir, the tor pids, and the
pid of `up` itself). The Tor network is stopped last, after the databases.

A Tor client that dies does not stop `up`: Tor being down is a state the services handle (they answer UNAVAILABLE and
report NOT_SERVING), so `up` keeps running and can bring it back. SIGUSR1 to `up` (re)starts the Tor client on the
same ports, torrc and data dir, as a supervisor restarting the tor container would: `kill -USR1 <up pid>` (the pid is
in endpoints.json, "tor"."up_pid"); a running client is stopped first (SIGTERM). The new client's pid replaces the old
one in endpoints.json as soon as it is spawned; the services see it come back through their own health checks.

Mutual TLS (unless --insecure-plaintext): `up` keeps a CA in <state-dir>/pki (created on the first start, kept
after), issues every service a fresh certificate at each start (naming localhost and 127.0.0.1, so grpcurl and buf
curl verify it without overrides) and one for the operator (spiffe://lucid/operator/<login name>), whose paths go to
endpoints.json under "tls". Its own readiness checks and `status` use each service's plaintext health port.

State dir layout:
    endpoints.json      where everything serves (see _endpoints); present while `up` runs
    pki/                the CA (ca-key.pem mode 0600) and the certificates (`lucid-tron pki --state-dir` issues more)
    logs/<name>.log     each service's JSON log lines; logs/devnet.log
    mongo/              SecantusDB: data/ (kept between runs) and server.log
    redis/              redis-server's working dir and server.log (no persistence)
    secrets/            SECRETS_DIR of the services, so no /run/secrets file of this machine leaks in; holds only
                        wallet_master_key, wallet-manager's ENCRYPTION_KEY_FILE, and webhook_secrets_key, the
                        WEBHOOK_SECRETS_KEY that seals webhook endpoints' secrets: random, created by the first `up`
                        (0600) and kept, since each opens what was sealed before
    tor/                with --tor: one data dir per tor (auth0, auth1, auth2, client), each with its torrc and
                        tor.log; fresh keys on every start
    up.lock             held while `up` runs: one `up` per state dir (the database files are not shareable)
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fcntl
import json
import os
import secrets
import signal
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

from lucid_tron.cli._children import Child, tail
from lucid_tron.cli._endpoints import ENDPOINTS_FILE, Endpoints
from lucid_tron.cli._health import wait_serving
from lucid_tron.cli._services import (
    BETA_SIDECAR,
    MASTER_KEY_FILE,
    MESH,
    SERVICES,
    TorEndpoint,
    client_host,
    service_environment,
    trongrid_url_through_tor,
)
from lucid_tron.cli._up_wallets import (
    PAYMENT_WALLET,
    PAYOUT_FUNDING_TRX_SUN,
    PAYOUT_FUNDING_USDT_UNITS,
    PAYOUT_WALLET,
    STAKING_FUNDING_TRX_SUN,
    STAKING_WALLET,
    ensure_up_wallets,
    stake_up_wallet,
)
from lucid_tron.cli._wallet import DEFAULT_DATABASE as WALLET_DATABASE

__all__ = ["DEFAULT_REDIS_URL", "UpOptions", "run_up"]

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEVNET_START_TIMEOUT_S = 20.0
DEVNET_STOP_TIMEOUT_S = 5.0
#: The file in SECRETS_DIR that WEBHOOK_SECRETS_KEY is read from.
WEBHOOK_KEY_FILE = "webhook_secrets_key"
# What a service may take beyond its own grace period to run its stop hooks and exit, before SIGKILL.
STOP_MARGIN_S = 5.0


#: Energy the keeper keeps at the payout wallet under `up`: two USDT transfers to addresses without USDT.
UP_KEEPER_ENERGY_FLOOR = 2 * 130_285


@dataclass(frozen=True, kw_only=True)
class UpOptions:
    state_dir: Path
    host: str = "127.0.0.1"
    base_port: int | None = None
    devnet_port: int = 0
    block_interval: float = 3.0
    fund: tuple[str, ...] = ()
    mongo_url: str | None = None
    redis_url: str = DEFAULT_REDIS_URL
    own_redis: bool = False
    ready_timeout_s: float = 30.0
    grace_s: float = 5.0
    log_level: str = "INFO"
    #: Run the devnet behind a private Tor network on loopback, Tor required in every service (see the module doc).
    tor: bool = False
    #: GRPC_INSECURE_PLAINTEXT=true for every service: no certificates are issued, no "tls" in endpoints.json.
    insecure_plaintext: bool = False


@dataclass(frozen=True)
class _EndpointsWithTor(Endpoints):
    """endpoints.json with the "tor" entry of `up --tor`; readers that do not know it (`status`) ignore it."""

    tor: dict[str, Any] | None = None

    @property
    def tor_trongrid_url(self) -> str:
        return str((self.tor or {}).get("trongrid_url", self.devnet_url))

    def to_json(self) -> dict[str, Any]:
        data = super().to_json()
        if self.tor is not None:
            data["tor"] = self.tor
        return data


class StartError(Exception):
    """Something did not start. The message names it and ends with the tail of its log."""


def run_up(options: UpOptions) -> int:
    """Run the mesh until a signal (exit 0) or until a child dies or something does not start (exit 1)."""
    return asyncio.run(_Up(options).run())


@dataclass
class _Started:
    """What `up` has started so far, so that whatever happens it stops exactly that."""

    devnet: Child | None = None
    services: dict[str, Child] = field(default_factory=dict)
    mongo: Any = None  # lucid_tron.testing.MongoServer, imported only when `up` starts one
    redis: Any = None  # lucid_tron.testing.RedisServer
    tor: Any = None  # lucid_tron.testing.TorNetwork, with --tor
    # Server starts run in threads, which cancelling cannot interrupt: stopping waits for them first.
    threads: list[asyncio.Future[Any]] = field(default_factory=list)


class _Up:
    def __init__(self, options: UpOptions) -> None:
        self.options = options
        self.state_dir = options.state_dir.resolve()
        self.logs = self.state_dir / "logs"
        self.started = _Started()
        self.stop_requested = asyncio.Event()
        self.endpoints: _EndpointsWithTor | None = None
        self._tor_restart: asyncio.Task[None] | None = None

    async def run(self) -> int:
        try:
            lock = _lock(self.state_dir)
        except BlockingIOError:
            _err(f"another `lucid-tron up` is running with state dir {self.state_dir}")
            return 1
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self._on_signal, signum)
        if self.options.tor:
            loop.add_signal_handler(signal.SIGUSR1, self._on_restart_tor_client)
        endpoints_path = self.state_dir / ENDPOINTS_FILE
        try:
            endpoints_path.unlink(missing_ok=True)
            for directory in (self.logs, self.state_dir / "secrets"):
                directory.mkdir(parents=True, exist_ok=True)
            _ensure_master_key(self.state_dir / "secrets" / MASTER_KEY_FILE)
            _ensure_webhook_key(self.state_dir / "secrets" / WEBHOOK_KEY_FILE)
            return await self._run()
        finally:
            await self._stop_all()
            endpoints_path.unlink(missing_ok=True)
            lock.close()

    async def _run(self) -> int:
        starting = asyncio.create_task(self._start())
        stopping = asyncio.create_task(self.stop_requested.wait())
        try:
            await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not starting.done():
                starting.cancel()
                with contextlib.suppress(asyncio.CancelledError, StartError):
                    await starting
                return 0
            try:
                endpoints = self.endpoints = starting.result()
            except StartError as error:
                _err(str(error))
                return 1
            endpoints.write(self.state_dir)
            _say(f"endpoints: {self.state_dir / ENDPOINTS_FILE}; logs: {self.logs}/<name>.log; Ctrl-C to stop")
            return await self._supervise(stopping)
        finally:
            stopping.cancel()

    def _on_signal(self, signum: int) -> None:
        if not self.stop_requested.is_set():
            _say(f"received {signal.Signals(signum).name}: stopping")
            self.stop_requested.set()

    # -- start -------------------------------------------------------------------------------------------------------

    async def _start(self) -> _EndpointsWithTor:
        try:
            async with asyncio.TaskGroup() as group:
                devnet = group.create_task(self._start_devnet())
                mongo_url = group.create_task(self._start_mongo())
                redis_url = group.create_task(self._start_redis())
                if self.options.tor:
                    group.create_task(self._start_tor())
        except* StartError as failed:
            raise failed.exceptions[0] from None
        devnet_url, usdt_contract = devnet.result()
        tor, trongrid_url = None, devnet_url
        if self.started.tor is not None:
            network = self.started.tor
            tor = TorEndpoint("127.0.0.1", network.socks_port, network.control_port, str(network.control_cookie_path))
            trongrid_url = trongrid_url_through_tor(_port_of(devnet_url))
            _say(f"services reach devnet as {trongrid_url}, a name only the Tor exit resolves: Tor is required")
        wallets = await ensure_up_wallets(
            mongo_url.result(), WALLET_DATABASE, self.state_dir / "secrets" / MASTER_KEY_FILE, self.state_dir,
            usdt_contract,
        )
        payment_wallet, payout_wallet = wallets[PAYMENT_WALLET], wallets[PAYOUT_WALLET]
        staking_wallet = wallets[STAKING_WALLET]
        await _fund(devnet_url, payout_wallet["address"], PAYOUT_FUNDING_TRX_SUN, PAYOUT_FUNDING_USDT_UNITS)
        await _fund(devnet_url, staking_wallet["address"], STAKING_FUNDING_TRX_SUN, 0)
        _say(f"payment wallet {payment_wallet['wallet_id']} gives invoices their deposit addresses; payout wallet "
             f"{payout_wallet['wallet_id']} pays payouts from {payout_wallet['address']} (funded by devnet)")
        services, metrics, health, tls = await self._start_services(
            trongrid_url, usdt_contract, mongo_url.result(), redis_url.result(), tor,
            {
                "payment-gateway": {"PAYMENT_WALLET_ID": payment_wallet["wallet_id"], "TRON_NETWORK": "devnet"},
                "payout-router": {"PAYOUT_WALLET_ID": payout_wallet["wallet_id"]},
                # The treasury sweeps paid invoices' deposit addresses (payment wallet) into the payout wallet.
                "staking": {"STAKING_WALLET_ID": staking_wallet["wallet_id"],
                            "PAYMENT_WALLET_ID": payment_wallet["wallet_id"],
                            "PAYOUT_WALLET_ID": payout_wallet["wallet_id"],
                            "PAYOUT_ADDRESS": payout_wallet["address"],
                            "KEEPER_ENERGY_FLOOR": str(UP_KEEPER_ENERGY_FLOOR)},
            },
        )
        await self._stake(services["staking"], tls, staking_wallet)
        return _EndpointsWithTor(
            services,
            devnet_url,
            usdt_contract,
            mongo_url.result(),
            redis_url.result(),
            metrics,
            health,
            tls,
            payment_wallet=payment_wallet,
            payout_wallet=payout_wallet,
            staking_wallet=staking_wallet,
            tor=self._tor_entry(trongrid_url),
        )

    async def _stake(self, address: str, tls: dict[str, str] | None, wallet: dict[str, str]) -> None:
        """Stake the staking wallet's TRX through staking, as an operator would (see `stake_up_wallet`)."""
        import grpc

        from lucid_tron.pki import TlsFiles, channel_credentials

        credentials = None if tls is None else channel_credentials(
            TlsFiles(Path(tls["operator_cert"]), Path(tls["operator_key"]), Path(tls["ca"])).read()
        )
        try:
            sent = await stake_up_wallet(address, credentials, wallet)
        except grpc.aio.AioRpcError as error:
            raise StartError(f"staking could not stake the staking wallet's TRX: {error.code().name}: "
                             f"{error.details()}") from None
        done = f"staked TRX for energy and bandwidth ({len(sent)} transactions)" if sent else "TRX staked already"
        _say(f"staking wallet {wallet['wallet_id']} stakes and delegates from {wallet['address']}: {done}")

    async def _start_devnet(self) -> tuple[str, str]:
        options = self.options
        # Behind Tor, devnet is reached through the exit, which connects only to 127.0.0.0/8.
        host = "127.0.0.1" if options.tor else options.host
        argv = [
            sys.executable, "-m", "lucid_tron.devnet",
            "--host", host,
            "--port", str(options.devnet_port),
            "--block-interval", f"{options.block_interval:g}",
        ]  # fmt: skip
        for spec in options.fund:
            argv += ["--fund", spec]
        began = time.monotonic()
        log_path = self.logs / "devnet.log"
        child = await Child.spawn("devnet", argv, env=os.environ, log_path=log_path, stdout_pipe=True)
        self.started.devnet = child
        assert child.process.stdout is not None
        try:
            async with asyncio.timeout(DEVNET_START_TIMEOUT_S):
                line = await child.process.stdout.readline()
        except TimeoutError:
            what = f"did not start within {DEVNET_START_TIMEOUT_S:g} s"
            raise StartError(_failed("devnet", what, log_path)) from None
        if not line:
            code = await child.wait()
            raise StartError(_failed("devnet", f"exited with code {code} while starting", log_path))
        try:
            info = json.loads(line)
            url, usdt_contract = str(info["url"]), str(info["usdt_address"])
        except (ValueError, KeyError, TypeError):
            raise StartError(_failed("devnet", f"printed an unexpected start line {line!r}", log_path)) from None
        url = _reachable_url(url)
        _say(f"devnet on {url} (USDT {usdt_contract}) in {time.monotonic() - began:.2f} s")
        return url, usdt_contract

    async def _start_mongo(self) -> str:
        from lucid_tron.testing import MongoServer, ServerStartError, mongo_answers

        if self.options.mongo_url is not None:
            url = self.options.mongo_url
            if not await asyncio.to_thread(mongo_answers, url, 3.0):
                raise StartError(f"nothing answers at MONGO_URL {_shown(url)}")
            _say(f"MongoDB at {_shown(url)} (given)")
            return url
        data = self.state_dir / "mongo" / "data"
        data.mkdir(parents=True, exist_ok=True)
        server = self.started.mongo = MongoServer(data, workdir=self.state_dir / "mongo")
        try:
            await self._in_thread(server.start)
        except (ServerStartError, OSError) as error:
            raise StartError(f"MongoDB-wire server (SecantusDB) did not start: {error}") from None
        _say(f"MongoDB-wire server (SecantusDB, data in {data}) at {server.url} in {server.started_in_s:.2f} s")
        return str(server.url)

    async def _start_redis(self) -> str:
        from lucid_tron.testing import RedisServer, ServerStartError, redis_answers

        url = self.options.redis_url
        if not self.options.own_redis:
            if await asyncio.to_thread(redis_answers, url, 1.0):
                _say(f"Redis at {_shown(url)}")
                return url
            _say(f"nothing answers at {_shown(url)}: starting a redis-server")
        server = self.started.redis = RedisServer(workdir=self.state_dir / "redis")
        try:
            await self._in_thread(server.start)
        except (ServerStartError, OSError) as error:
            raise StartError(f"redis-server did not start: {error}") from None
        _say(f"redis-server at {server.url} in {server.started_in_s:.2f} s")
        return str(server.url)

    async def _start_tor(self) -> None:
        from lucid_tron.testing import ServerStartError, TorNetwork

        # A base dir passed in is never deleted: the tor logs stay in the state dir after `up` ends.
        network = self.started.tor = TorNetwork(self.state_dir / "tor")
        try:
            await self._in_thread(network.start)
        except (ServerStartError, OSError) as error:
            raise StartError(f"the private Tor network did not start: {error}") from None
        _say(
            f"private Tor network (3 authorities, auth0 the exit; isolation: {network.isolation}) ready in "
            f"{network.started_in_s:.2f} s: SOCKS 127.0.0.1:{network.socks_port}, control 127.0.0.1:"
            f"{network.control_port}, data in {network.data_dir}"
        )

    def _tor_entry(self, trongrid_url: str) -> dict[str, Any] | None:
        """The "tor" entry of endpoints.json: enough for a test or an operator to find, kill and restart the client."""
        network = self.started.tor
        if network is None:
            return None
        return {
            "socks_port": network.socks_port,
            "control_port": network.control_port,
            "control_cookie_path": str(network.control_cookie_path),
            "data_dir": str(network.data_dir),
            "client_log": str(network.log_paths["client"]),
            "dns_port": network.dns_port,
            "trongrid_url": trongrid_url,
            "exit": "auth0",
            "pids": network.pids,
            # SIGUSR1 to this pid (re)starts the Tor client on the same ports.
            "up_pid": os.getpid(),
        }

    def _on_restart_tor_client(self) -> None:
        if self.started.tor is None or self.endpoints is None:
            _say("received SIGUSR1 before the mesh was up: ignored")
            return
        if self._tor_restart is not None and not self._tor_restart.done():
            _say("received SIGUSR1 while the Tor client is being restarted: ignored")
            return
        self._tor_restart = asyncio.get_running_loop().create_task(self._restart_tor_client())

    async def _restart_tor_client(self) -> None:
        network = self.started.tor
        was_running = network.client_running
        old = network.pids.get("client")

        def respawn() -> None:
            network.stop_client()  # SIGTERM, and reaps a client that was killed
            network.start_client(wait=False)

        try:
            await self._in_thread(respawn)
        except (OSError, RuntimeError) as error:
            _err(f"could not start the Tor client again: {error}")
            return
        if self.endpoints is not None:
            self.endpoints = replace(self.endpoints, tor=self._tor_entry(self.endpoints.tor_trongrid_url))
            self.endpoints.write(self.state_dir)
        what = f"stopped (pid {old}) and started" if was_running else "was not running: started"
        _say(f"SIGUSR1: Tor client {what} again, pid {network.pids.get('client')}, same ports")

    async def _in_thread(self, start: Any) -> None:
        running = asyncio.ensure_future(asyncio.to_thread(start))
        self.started.threads.append(running)
        await asyncio.shield(running)

    async def _start_services(
        self,
        trongrid_url: str,
        usdt_contract: str,
        mongo_url: str,
        redis_url: str,
        tor: TorEndpoint | None,
        extra_environment: dict[str, dict[str, str]],
    ) -> tuple[dict[str, str], dict[str, str], dict[str, str], dict[str, str] | None]:
        """Spawn the services, wait until all are SERVING; their gRPC, metrics and health addresses by name, and
        the "tls" entry of endpoints.json. `extra_environment`: more variables of some services, by name."""
        from lucid_tron.testing import free_port

        options = self.options
        if options.base_port is not None:
            # The seven services' layout as before; beta-sidecar's three ports after theirs.
            ports = {service.name: options.base_port + index for index, service in enumerate(SERVICES)}
            metrics_ports = {service.name: ports[service.name] + len(SERVICES) for service in SERVICES}
            health_ports = {service.name: ports[service.name] + 2 * len(SERVICES) for service in SERVICES}
            sidecar_port = options.base_port + 3 * len(SERVICES)
            ports[BETA_SIDECAR.name], metrics_ports[BETA_SIDECAR.name] = sidecar_port, sidecar_port + 1
            health_ports[BETA_SIDECAR.name] = sidecar_port + 2
        else:
            ports = {service.name: free_port() for service in MESH}
            metrics_ports = {service.name: free_port() for service in MESH}
            health_ports = {service.name: free_port() for service in MESH}
        host = client_host(options.host)
        addresses = {service.name: f"{host}:{ports[service.name]}" for service in MESH}
        metrics = {service.name: f"{host}:{metrics_ports[service.name]}" for service in MESH}
        health = {service.name: f"{host}:{health_ports[service.name]}" for service in MESH}
        certificates, tls = await self._issue_certificates()
        spawned_at = time.monotonic()
        for service in MESH:
            env = service_environment(
                os.environ,
                service=service,
                host=options.host,
                ports=ports,
                metrics_port=metrics_ports[service.name],
                health_port=health_ports[service.name],
                tls=certificates.get(service.name),
                trongrid_url=trongrid_url,
                usdt_contract=usdt_contract,
                mongo_url=mongo_url,
                redis_url=redis_url,
                secrets_dir=str(self.state_dir / "secrets"),
                log_level=options.log_level,
                grace_s=options.grace_s,
                tor=tor,
            )
            env.update(extra_environment.get(service.name, {}))
            argv = [sys.executable, "-m", service.module]
            child = await Child.spawn(service.name, argv, env=env, log_path=self._log(service.name))
            self.started.services[service.name] = child
        serving_at = await self._wait_all_serving(health)
        took = {name: at - spawned_at for name, at in serving_at.items()}
        _print_table(addresses, took)
        slowest = max(took, key=took.__getitem__)
        _say(
            f"all {len(SERVICES)} services SERVING, and {BETA_SIDECAR.name} in front of wallet-manager, "
            f"{took[slowest]:.2f} s after they were spawned (slowest: {slowest})"
        )
        return addresses, metrics, health, tls

    async def _issue_certificates(self) -> tuple[dict[str, Any], dict[str, str] | None]:
        """Each service's TlsFiles and the "tls" entry of endpoints.json; nothing with --insecure-plaintext."""
        from lucid_tron.cli._pki import issue_mesh_certificates

        if self.options.insecure_plaintext:
            _say("--insecure-plaintext: every service serves gRPC in PLAINTEXT, without client certificates")
            return {}, None
        began = time.monotonic()
        names = [service.name for service in MESH]
        certificates, operator = await asyncio.to_thread(
            issue_mesh_certificates, self.state_dir, names, self.options.host
        )
        tls = {
            "ca": str(self.state_dir / "pki" / "ca.pem"),
            "operator_cert": str(operator.certificate),
            "operator_key": str(operator.key),
        }
        _say(
            f"mutual TLS: certificates issued in {time.monotonic() - began:.2f} s under the CA in "
            f"{self.state_dir / 'pki'}; operator certificate {operator.certificate}"
        )
        return certificates, tls

    async def _wait_all_serving(self, addresses: dict[str, str]) -> dict[str, float]:
        """The monotonic time each service first answered SERVING at `addresses` (their plaintext health ports);
        StartError naming a service that died or hung."""
        grpc_names = {service.name: service.grpc_service for service in MESH}
        waiting = {
            asyncio.create_task(wait_serving(addresses[name], grpc_names[name])): name for name in self.started.services
        }
        exits = {asyncio.create_task(child.wait()): name for name, child in self.started.services.items()}
        serving_at: dict[str, float] = {}
        deadline = time.monotonic() + self.options.ready_timeout_s
        try:
            while len(serving_at) < len(waiting):
                pending = [task for task in waiting if not task.done()] + list(exits)
                done, _ = await asyncio.wait(
                    pending, timeout=max(0.0, deadline - time.monotonic()), return_when=asyncio.FIRST_COMPLETED
                )
                if not done:
                    late = [name for task, name in waiting.items() if not task.done()]
                    what = f"not SERVING {self.options.ready_timeout_s:g} s after start"
                    raise StartError("\n".join(_failed(name, what, self._log(name)) for name in late))
                for task in done:
                    if task in exits:
                        name = exits[task]
                        what = f"exited with code {task.result()} while starting"
                        raise StartError(_failed(name, what, self._log(name)))
                    serving_at[waiting[task]] = task.result()
        finally:
            for task in [*waiting, *exits]:
                task.cancel()
            await asyncio.gather(*waiting, *exits, return_exceptions=True)
        return serving_at

    def _log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    # -- run ---------------------------------------------------------------------------------------------------------

    async def _supervise(self, stopping: asyncio.Task[Any]) -> int:
        """Wait for a stop signal (0) or the first child to die (1, after saying which)."""
        watchers: dict[asyncio.Future[Any], str] = {}
        children = [*self.started.services.values(), self.started.devnet]
        for child in children:
            if child is not None:
                watchers[asyncio.ensure_future(child.wait())] = child.name
        for server, name in ((self.started.mongo, "mongo"), (self.started.redis, "redis")):
            if server is not None:
                watchers[asyncio.ensure_future(_until_exited(server))] = name
        try:
            done, _ = await asyncio.wait({stopping, *watchers}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for watcher in watchers:
                watcher.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)
        if stopping in done:
            return 0
        name = next(watchers[task] for task in done if task in watchers)
        child = next((c for c in children if c is not None and c.name == name), None)
        if child is not None:
            what = f"exited unexpectedly (exit code {child.returncode}); stopping the rest"
            _err(_failed(name, what, child.log_path))
        else:
            server = self.started.mongo if name == "mongo" else self.started.redis
            _err(_failed(name, "server exited unexpectedly; stopping the rest", server.log_path))
        return 1

    # -- stop --------------------------------------------------------------------------------------------------------

    async def _stop_all(self) -> None:
        started = self.started
        if self._tor_restart is not None:
            self._tor_restart.cancel()
            await asyncio.gather(self._tor_restart, return_exceptions=True)
        await asyncio.gather(*started.threads, return_exceptions=True)
        # Only the ones still running now: a crash was already reported when it happened.
        services = [child for child in started.services.values() if child.returncode is None]
        exited = await asyncio.gather(*(child.stop(self.options.grace_s + STOP_MARGIN_S) for child in services))
        for child, by_itself in zip(services, exited, strict=True):
            if not by_itself:
                _err(f"{child.name} did not stop within its grace period: killed (see {child.log_path})")
            elif child.returncode not in (0, -signal.SIGTERM):  # -SIGTERM: stopped before its handler was set
                _err(f"{child.name} exited with code {child.returncode} while stopping (see {child.log_path})")
        if started.devnet is not None:
            await started.devnet.stop(DEVNET_STOP_TIMEOUT_S)
        await asyncio.gather(
            *(asyncio.to_thread(server.stop) for server in (started.mongo, started.redis) if server is not None)
        )
        # Last: while anything that may still talk to TronGrid runs, Tor stays up.
        if started.tor is not None:
            await asyncio.to_thread(started.tor.stop)
        stopped_any = bool(started.services) or started.devnet is not None
        started.services.clear()
        started.devnet = started.mongo = started.redis = started.tor = None
        if stopped_any:
            _say("stopped")


async def _fund(devnet_url: str, address: str, trx_sun: int, usdt_units: int) -> None:
    """Credit `address` on devnet (its admin API, out of band like a genesis allocation)."""
    import aiohttp

    body = {"address": address, "trx_sun": trx_sun, "usdt_units": usdt_units}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        async with session.post(f"{_reachable_url(devnet_url)}/devnet/fund", json=body) as response:
            if response.status != 200:
                raise StartError(f"devnet refused to fund {address}: HTTP {response.status} {await response.text()}")


async def _until_exited(server: Any) -> None:
    while server.running:
        await asyncio.sleep(0.5)


def _lock(state_dir: Path) -> IO[str]:
    """Hold `<state_dir>/up.lock` for the life of this `up`; BlockingIOError if another `up` holds it."""
    state_dir.mkdir(parents=True, exist_ok=True)
    lock = open(state_dir / "up.lock", "w")  # noqa: SIM115 - held until `up` ends
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise
    return lock


def _ensure_master_key(path: Path) -> None:
    """wallet-manager's master secret, created once: a new one would not open the wallets sealed under the old."""
    from lucid_tron.keys import MasterSecret

    if not path.exists():
        MasterSecret.create_file(path)


def _ensure_webhook_key(path: Path) -> None:
    """WEBHOOK_SECRETS_KEY, read by payment-gateway and payout-router from SECRETS_DIR, created once: a new one would
    not open the endpoint secrets sealed under the old."""
    if path.exists():
        return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as file:
        file.write(base64.b64encode(secrets.token_bytes(32)).decode("ascii"))


def _reachable_url(url: str) -> str:
    """`url` with a wildcard host (0.0.0.0, ::) replaced by one a client on this machine can connect to."""
    parts = urlsplit(url)
    if parts.hostname is None or parts.port is None:
        return url
    return urlunsplit(parts._replace(netloc=f"{client_host(parts.hostname)}:{parts.port}"))


def _port_of(url: str) -> int:
    port = urlsplit(url).port
    if port is None:
        raise StartError(f"devnet printed a URL without a port: {url}")
    return port


def _shown(url: str) -> str:
    """`url` without its password, for the terminal."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def _failed(name: str, what: str, log_path: Path) -> str:
    lines = tail(log_path)
    return f"{name} {what}; last lines of {log_path}:\n{lines}" if lines else f"{name} {what}; {log_path} is empty"


def _print_table(addresses: dict[str, str], took: dict[str, float]) -> None:
    rows = [("SERVICE", "ADDRESS", "gRPC SERVICE", "SERVING AFTER")]
    rows += [(s.name, addresses[s.name], s.grpc_service, f"{took[s.name]:.2f} s") for s in MESH]
    widths = [max(len(row[column]) for row in rows) for column in range(3)] + [0]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip(), flush=True)


def _say(message: str) -> None:
    print(f"lucid-tron up: {message}", flush=True)


def _err(message: str) -> None:
    print(f"lucid-tron up: {message}", file=sys.stderr, flush=True)

