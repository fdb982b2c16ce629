"""staking's proto side: the name of lucid.tron.v1.StakingService, and the mapping between its messages and the values
of `stakes` as its RPCs are implemented.
"""

from __future__ import annotations

from lucid.tron.v1 import staking_pb2

SERVICE_NAME: str = staking_pb2.DESCRIPTOR.services_by_name["StakingService"].full_name
