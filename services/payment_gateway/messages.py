"""payment-gateway's proto side: the name of lucid.tron.v1.PaymentGatewayService, and the mapping between its messages
and the values of `invoices` as its RPCs are implemented.
"""

from __future__ import annotations

from lucid.tron.v1 import payment_gateway_pb2

SERVICE_NAME: str = payment_gateway_pb2.DESCRIPTOR.services_by_name["PaymentGatewayService"].full_name
