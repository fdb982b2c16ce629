"""payment-gateway: serves lucid.tron.v1.PaymentGatewayService."""
