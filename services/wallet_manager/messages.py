"""wallet-manager's proto side: the name of lucid.tron.v1.WalletService, and the mapping between its messages and the
values of `wallets` as its RPCs are implemented.
"""

from __future__ import annotations

from lucid.tron.v1 import wallet_pb2

SERVICE_NAME: str = wallet_pb2.DESCRIPTOR.services_by_name["WalletService"].full_name
