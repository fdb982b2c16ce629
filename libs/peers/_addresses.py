"""Where each peer is: one settings group per peer, declared once, composed by the services that call it.

The variable is the peer's name in capitals with `_ADDR` (`lucid-tron up`, compose and k3s set the same ones), its
value `host:port`. Each group includes TlsSettings: the client presents the process's own certificate (mutual
TLS) unless GRPC_INSECURE_PLAINTEXT. Only peers some service calls have a group; the next caller of another peer
adds its group here.
"""

from __future__ import annotations

from dataclasses import dataclass

from lucid_tron.config import setting
from lucid_tron.pki import TlsSettings

from ._client import client_tls
from ._services import PaymentGatewayService, RelayService, StakingService, TronClientService, WalletService


@dataclass(frozen=True, kw_only=True)
class TronClientAddress(TlsSettings):
    """tron-client's address."""

    tron_client_addr: str = setting("TRON_CLIENT_ADDR")

    def tron_client(self) -> TronClientService:
        """A client of tron-client at this address (close it on stop)."""
        return TronClientService(self.tron_client_addr, tls=client_tls(self))


@dataclass(frozen=True, kw_only=True)
class TronRelayAddress(TlsSettings):
    """tron-relay's address."""

    tron_relay_addr: str = setting("TRON_RELAY_ADDR")

    def tron_relay(self) -> RelayService:
        """A client of tron-relay at this address (close it on stop)."""
        return RelayService(self.tron_relay_addr, tls=client_tls(self))


@dataclass(frozen=True, kw_only=True)
class WalletManagerAddress(TlsSettings):
    """wallet-manager's address."""

    wallet_manager_addr: str = setting("WALLET_MANAGER_ADDR")

    def wallet_manager(self) -> WalletService:
        """A client of wallet-manager at this address (close it on stop)."""
        return WalletService(self.wallet_manager_addr, tls=client_tls(self))


@dataclass(frozen=True, kw_only=True)
class StakingAddress(TlsSettings):
    """staking's address; optional: empty means the caller runs without it (usdt-manager then plans no energy)."""

    staking_addr: str = setting("STAKING_ADDR", default="")

    def staking(self) -> StakingService | None:
        """A client of staking at this address (close it on stop); None when STAKING_ADDR is unset."""
        return StakingService(self.staking_addr, tls=client_tls(self)) if self.staking_addr else None


@dataclass(frozen=True, kw_only=True)
class PaymentGatewayAddress(TlsSettings):
    """payment-gateway's address; optional: empty means the caller runs without it (staking's treasury then finds no
    invoices to sweep)."""

    payment_gateway_addr: str = setting("PAYMENT_GATEWAY_ADDR", default="")

    def payment_gateway(self) -> PaymentGatewayService | None:
        """A client of payment-gateway at this address (close it on stop); None when PAYMENT_GATEWAY_ADDR is unset."""
        if not self.payment_gateway_addr:
            return None
        return PaymentGatewayService(self.payment_gateway_addr, tls=client_tls(self))
