"""The seven services `lucid-tron up` runs (and beta-sidecar in front of wallet-manager), and each one's environment.

Every service gets the same environment apart from its own GRPC_PORT, HEALTH_PORT, METRICS_PORT and certificate
(and wallet-manager its ENCRYPTION_KEY_FILE, the master secret in the secrets dir): the address of every peer, the
storage URLs, the devnet, the Tor switch and the TLS switch. A service reads only the variables its settings declare,
so this module does not have to mirror who calls whom; a compose file or a k8s manifest sets the same variables. The
one exception is the wallet/ops border: payment-gateway's WALLET_MANAGER_ADDR names beta-sidecar, and the sidecar's
BACKEND_ADDR names wallet-manager, as in compose and k3s.

The Tor switch has two positions. Without `--tor`, devnet on loopback is reached directly (DEVNET_DIRECT). With
`--tor` (`TorEndpoint`), Tor is required exactly as in production: the services get the SOCKS and control ports of
the private Tor network `up` started, and TRONGRID_URL names devnet as `trongrid.test`, a name only that network's
exit can resolve, so a request that bypassed Tor could not even find devnet.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lucid_tron.pki import TlsFiles

__all__ = [
    "BETA_SIDECAR",
    "MASTER_KEY_FILE",
    "MESH",
    "SERVICES",
    "TOR_TRONGRID_HOST",
    "MeshService",
    "TorEndpoint",
    "client_host",
    "service_environment",
    "trongrid_url_through_tor",
]

#: wallet-manager's master secret in the services' secrets dir (created by `up`, read by `lucid-tron wallet`).
MASTER_KEY_FILE = "wallet_master_key"


@dataclass(frozen=True)
class MeshService:
    """One service of the mesh: `name` as in logs and endpoints.json, its module, its gRPC service's full name."""

    name: str
    module: str
    grpc_service: str

    @property
    def address_variable(self) -> str:
        """The variable through which peers find this service, e.g. WALLET_MANAGER_ADDR."""
        return self.name.upper().replace("-", "_") + "_ADDR"


SERVICES: tuple[MeshService, ...] = tuple(
    MeshService(name, f"lucid_tron.services.{name.replace('-', '_')}", f"lucid.tron.v1.{grpc_service}")
    for name, grpc_service in (
        ("tron-client", "TronClientService"),
        ("tron-relay", "RelayService"),
        ("wallet-manager", "WalletService"),
        ("usdt-manager", "UsdtService"),
        ("staking", "StakingService"),
        ("payment-gateway", "PaymentGatewayService"),
        ("payout-router", "PayoutRouterService"),
    )
)

#: The Beta sidecar: deployed like a service (compose, k3s) in front of wallet-manager, on the wallet/ops border;
#: no API of its own, its health reports whether it reaches WalletService.
BETA_SIDECAR = MeshService("beta-sidecar", "lucid_tron.services.beta_sidecar", "lucid.tron.v1.WalletService")

#: Every process of the mesh, as `up`, compose and k3s run it: the seven services, then the sidecar.
MESH: tuple[MeshService, ...] = (*SERVICES, BETA_SIDECAR)

# devnet listens on loopback over plain HTTP: Tor is switched off the only way tor_proxy accepts (both variables),
# and TOR_ONLY is set false so that a TOR_ONLY=true left in the developer's shell does not contradict it.
DEVNET_DIRECT = {
    "USE_TOR_FOR_EXTERNAL_CALLS": "false",
    "ALLOW_DIRECT_EXTERNAL_CALLS": "true",
    "TOR_ONLY": "false",
}


# Through the private Tor network: any `*.test` name reaches 127.0.0.1 at the exit (lucid_tron.testing.tor_network's
# DNS stub). Nothing on this machine resolves it, so only the exit can connect to devnet under this name.
TOR_TRONGRID_HOST = "trongrid.test"

# Variables of the caller's shell that would contradict or weaken Tor-required mode: a TOR_PROXY URL disagreeing with
# the ports `up` sets, a control password next to the cookie (tor_proxy refuses both at once), the direct-mode switch.
_NOT_WITH_TOR = frozenset(
    {"TOR_PROXY", "TOR_CONTROL_PASSWORD", "TOR_CONTROL_PASSWORD_FILE", "ALLOW_DIRECT_EXTERNAL_CALLS"}
)


@dataclass(frozen=True)
class TorEndpoint:
    """Where the services find Tor (`lucid-tron up --tor`): one host for the SOCKS and control ports, cookie auth."""

    host: str
    socks_port: int
    control_port: int
    control_cookie_path: str

    def environment(self) -> dict[str, str]:
        """Tor required, fail closed, names resolved by Tor only: the production settings, pointed at this Tor."""
        return {
            "USE_TOR_FOR_EXTERNAL_CALLS": "true",
            "TOR_ONLY": "true",
            "TOR_PREVENT_DNS_LEAKS": "true",
            "TOR_PROXY_HOST": self.host,
            "TOR_PROXY_SOCKS_PORT": str(self.socks_port),
            "TOR_PROXY_CONTROL_PORT": str(self.control_port),
            "TOR_CONTROL_COOKIE_PATH": self.control_cookie_path,
        }


def trongrid_url_through_tor(devnet_port: int) -> str:
    """devnet's URL as the services use it through Tor: `http://trongrid.test:<port>`."""
    return f"http://{TOR_TRONGRID_HOST}:{devnet_port}"


def client_host(host: str) -> str:
    """The host a client on this machine uses to reach a server listening on `host` (wildcards -> loopback)."""
    if host in ("0.0.0.0", "", "::", "[::]"):
        return "127.0.0.1"
    if ":" in host and not host.startswith("["):
        return f"[{host}]"
    return host


# grpc core writes a plain-text INFO line to stderr for every failed TLS handshake (any port scan, any caller without
# a certificate), between the service's JSON log lines. It reads its level once, when grpc is imported, so only the
# process's environment can set it (the image sets the same); a GRPC_VERBOSITY of the caller's is kept.
_GRPC_CORE_QUIET = {"GRPC_VERBOSITY": "ERROR"}


def _tls_environment(tls: TlsFiles | None) -> dict[str, str]:
    if tls is None:
        return {"GRPC_INSECURE_PLAINTEXT": "true"}
    return {
        "GRPC_INSECURE_PLAINTEXT": "false",
        "TLS_CERT_FILE": str(tls.certificate),
        "TLS_KEY_FILE": str(tls.key),
        "TLS_CA_FILE": str(tls.ca),
    }


def _border_environment(service: MeshService, host: str, ports: Mapping[str, int]) -> dict[str, str]:
    """The wallet/ops border as compose and k3s wire it: payment-gateway reaches wallet-manager only through
    beta-sidecar (wallet-manager's policy refuses payment-gateway itself), which forwards to wallet-manager."""
    if service == BETA_SIDECAR:
        return {
            "BACKEND_ADDR": f"{client_host(host)}:{ports['wallet-manager']}",
            "BACKEND_SERVICE": next(s.grpc_service for s in SERVICES if s.name == "wallet-manager"),
        }
    if service.name == "payment-gateway":
        return {"WALLET_MANAGER_ADDR": f"{client_host(host)}:{ports[BETA_SIDECAR.name]}"}
    return {}


def service_environment(
    base: Mapping[str, str],
    *,
    service: MeshService,
    host: str,
    ports: Mapping[str, int],
    metrics_port: int,
    health_port: int,
    tls: TlsFiles | None,
    trongrid_url: str,
    usdt_contract: str,
    mongo_url: str,
    redis_url: str,
    secrets_dir: str,
    log_level: str,
    grace_s: float,
    tor: TorEndpoint | None = None,
) -> dict[str, str]:
    """The environment of `service`: `base` (the caller's) overridden by everything `up` decides.

    `ports`: the gRPC port of every process of MESH (beta-sidecar too: payment-gateway calls wallet-manager through it).

    `tls`: the service's certificate, key and CA bundle (mutual TLS); None: GRPC_INSECURE_PLAINTEXT.
    `tor`: Tor required through it (and `trongrid_url` should be `trongrid_url_through_tor`); None: devnet direct.
    Other Tor settings of the caller (TOR_HEALTH_CHECK_INTERVAL, TOR_CONNECTIVITY_TIMEOUT, ...) pass through."""
    decided = {
        **(DEVNET_DIRECT if tor is None else tor.environment()),
        **{peer.address_variable: f"{client_host(host)}:{ports[peer.name]}" for peer in SERVICES},
        "GRPC_HOST": host,
        "GRPC_PORT": str(ports[service.name]),
        "METRICS_PORT": str(metrics_port),
        "METRICS_HOST": host,
        "HEALTH_PORT": str(health_port),
        **_tls_environment(tls),
        "LOG_FORMAT": "json",
        "LOG_LEVEL": log_level,
        "SHUTDOWN_GRACE_S": f"{grace_s:g}",
        # A secret file under /run/secrets on the developer's machine must not override what `up` sets.
        "SECRETS_DIR": secrets_dir,
        "TRONGRID_URL": trongrid_url,
        "USDT_CONTRACT": usdt_contract,
        "MONGO_URL": mongo_url,
        "REDIS_URL": redis_url,
        **({"ENCRYPTION_KEY_FILE": os.path.join(secrets_dir, MASTER_KEY_FILE)} if service.name == "wallet-manager" else {}),
        **_border_environment(service, host, ports),
    }
    # A secret setting reads <VAR>_FILE before <VAR>: one left in the caller's shell would win over `up`.
    dropped = {f"{key}_FILE" for key in decided} | (_NOT_WITH_TOR if tor is not None else set())
    return {**_GRPC_CORE_QUIET, **{key: value for key, value in base.items() if key not in dropped}, **decided}
