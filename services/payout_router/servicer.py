"""The gRPC adapter of payout-router: lucid.tron.v1.PayoutRouterService over `Payouts`.

Every RPC is still the generated base's, so each answers UNIMPLEMENTED (naming the method) until the issue that builds
payouts, limits and exactly-once broadcast implements it here: parse the request (`messages`), call `Payouts`, map the
answer back.
"""

from __future__ import annotations

from lucid.tron.v1 import payout_router_pb2_grpc
from lucid_tron.mesh import Registration

from .messages import SERVICE_NAME
from .payouts import Payouts


class PayoutRouterServicer(payout_router_pb2_grpc.PayoutRouterServiceServicer):
    """lucid.tron.v1.PayoutRouterService; no RPC implemented yet."""

    def __init__(self, payouts: Payouts) -> None:
        self._payouts = payouts


def registration(servicer: PayoutRouterServicer) -> Registration:
    """The servicer as the mesh registers it (health and reflection under SERVICE_NAME)."""
    return Registration(payout_router_pb2_grpc.add_PayoutRouterServiceServicer_to_server, servicer, SERVICE_NAME)
