"""The gRPC adapter of payment-gateway: lucid.tron.v1.PaymentGatewayService.

Every RPC is still the generated base's, so each answers UNIMPLEMENTED (naming the method) until the issue that
builds invoices and the chain watcher implements it here.
"""

from __future__ import annotations

from lucid.tron.v1 import payment_gateway_pb2, payment_gateway_pb2_grpc
from lucid_tron.mesh import Registration

SERVICE_NAME: str = payment_gateway_pb2.DESCRIPTOR.services_by_name["PaymentGatewayService"].full_name


class PaymentGatewayServicer(payment_gateway_pb2_grpc.PaymentGatewayServiceServicer):
    """lucid.tron.v1.PaymentGatewayService; no RPC implemented yet."""


def registration(servicer: PaymentGatewayServicer) -> Registration:
    """The servicer as the mesh registers it (health and reflection under SERVICE_NAME)."""
    return Registration(payment_gateway_pb2_grpc.add_PaymentGatewayServiceServicer_to_server, servicer, SERVICE_NAME)
