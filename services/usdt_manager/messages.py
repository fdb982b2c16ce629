"""usdt-manager's proto side: the name of lucid.tron.v1.UsdtService, and the mapping between its messages and the values
of `transfers` as its RPCs are implemented.
"""

from __future__ import annotations

from lucid.tron.v1 import usdt_pb2

SERVICE_NAME: str = usdt_pb2.DESCRIPTOR.services_by_name["UsdtService"].full_name
