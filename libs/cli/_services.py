"""The seven services `lucid-tron up` runs, and the environment each one gets.

Every service gets the same environment apart from its own GRPC_PORT: the address of every peer, the storage URLs,
the devnet and the Tor switch. A service reads only the variables its settings declare, so this module does not
have to mirror who calls whom; a compose file or a k8s manifest sets the same variables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["SERVICES", "MeshService", "client_host", "service_environment"]


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

# devnet listens on loopback over plain HTTP: Tor is switched off the only way tor_proxy accepts (both variables),
# and TOR_ONLY is set false so that a TOR_ONLY=true left in the developer's shell does not contradict it.
DEVNET_DIRECT = {
    "USE_TOR_FOR_EXTERNAL_CALLS": "false",
    "ALLOW_DIRECT_EXTERNAL_CALLS": "true",
    "TOR_ONLY": "false",
}


def client_host(host: str) -> str:
    """The host a client on this machine uses to reach a server listening on `host` (wildcards -> loopback)."""
    if host in ("0.0.0.0", "", "::", "[::]"):
        return "127.0.0.1"
    if ":" in host and not host.startswith("["):
        return f"[{host}]"
    return host


def service_environment(
    base: Mapping[str, str],
    *,
    service: MeshService,
    host: str,
    ports: Mapping[str, int],
    trongrid_url: str,
    usdt_contract: str,
    mongo_url: str,
    redis_url: str,
    secrets_dir: str,
    log_level: str,
    grace_s: float,
) -> dict[str, str]:
    """The environment of `service`: `base` (the caller's) overridden by everything `up` decides."""
    decided = {
        **DEVNET_DIRECT,
        **{peer.address_variable: f"{client_host(host)}:{ports[peer.name]}" for peer in SERVICES},
        "GRPC_HOST": host,
        "GRPC_PORT": str(ports[service.name]),
        "LOG_FORMAT": "json",
        "LOG_LEVEL": log_level,
        "SHUTDOWN_GRACE_S": f"{grace_s:g}",
        # A secret file under /run/secrets on the developer's machine must not override what `up` sets.
        "SECRETS_DIR": secrets_dir,
        "TRONGRID_URL": trongrid_url,
        "USDT_CONTRACT": usdt_contract,
        "MONGO_URL": mongo_url,
        "REDIS_URL": redis_url,
    }
    # A secret setting reads <VAR>_FILE before <VAR>: one left in the caller's shell would win over `up`.
    shadowing = {f"{key}_FILE" for key in decided}
    return {**{key: value for key, value in base.items() if key not in shadowing}, **decided}
