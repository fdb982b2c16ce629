"""payout-router's proto side: the name of lucid.tron.v1.PayoutRouterService, and the mapping between its messages and
the values of `payouts` as its RPCs are implemented.
"""

from __future__ import annotations

from lucid.tron.v1 import payout_router_pb2

SERVICE_NAME: str = payout_router_pb2.DESCRIPTOR.services_by_name["PayoutRouterService"].full_name
