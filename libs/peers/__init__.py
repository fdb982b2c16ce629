"""Typed clients for one service calling another, and the settings that say where each peer is.

    TronClientService, RelayService, WalletService, UsdtService, StakingService, PaymentGatewayService,
    PayoutRouterService, WebhookService  `client.rpc.<Method>(request)`: typed request in, typed response out
    PeerClient, DEFAULT_PEER_TIMEOUT_S   their base; the timeout of a call made without a caller's deadline
    TronClientAddress, TronRelayAddress, WalletManagerAddress, StakingAddress, PaymentGatewayAddress
                                         settings groups (TRON_CLIENT_ADDR, ...); `settings.wallet_manager()` -> client

A call carries the caller's deadline, request id and trace, and a peer's failure arrives as the caller's own error
(`lucid_tron.errors`), mapped once in the mesh (`lucid_tron.mesh.open_peer_channel`)::

    wallet = settings.wallet_manager()
    response = await wallet.rpc.GetWallet(wallet_pb2.GetWalletRequest(wallet_id=wallet_id))   # NotFound, Unavailable...
    await wallet.close()
"""

from ._addresses import (
    PaymentGatewayAddress,
    StakingAddress,
    TronClientAddress,
    TronRelayAddress,
    WalletManagerAddress,
)
from ._client import DEFAULT_PEER_TIMEOUT_S, PeerClient
from ._services import (
    PaymentGatewayService,
    PayoutRouterService,
    RelayService,
    StakingService,
    TronClientService,
    UsdtService,
    WalletService,
    WebhookService,
)

__all__ = [
    "DEFAULT_PEER_TIMEOUT_S",
    "PaymentGatewayAddress",
    "PaymentGatewayService",
    "PayoutRouterService",
    "PeerClient",
    "RelayService",
    "StakingAddress",
    "StakingService",
    "TronClientAddress",
    "TronClientService",
    "TronRelayAddress",
    "UsdtService",
    "WalletManagerAddress",
    "WalletService",
    "WebhookService",
]
