"""The gRPC adapter of payment-gateway: lucid.tron.v1.PaymentGatewayService over `Invoices`.

Every RPC is still the generated base's, so each answers UNIMPLEMENTED (naming the method) until the issue that builds
invoices and the chain watcher implements it here: parse the request (`messages`), call `Invoices`, map the answer back.
"""

from __future__ import annotations

from lucid.tron.v1 import payment_gateway_pb2_grpc
from lucid_tron.mesh import Registration

from .messages import SERVICE_NAME
from .invoices import Invoices


class PaymentGatewayServicer(payment_gateway_pb2_grpc.PaymentGatewayServiceServicer):
    """lucid.tron.v1.PaymentGatewayService; no RPC implemented yet."""

    def __init__(self, invoices: Invoices) -> None:
        self._invoices = invoices


def registration(servicer: PaymentGatewayServicer) -> Registration:
    """The servicer as the mesh registers it (health and reflection under SERVICE_NAME)."""
    return Registration(payment_gateway_pb2_grpc.add_PaymentGatewayServiceServicer_to_server, servicer, SERVICE_NAME)
