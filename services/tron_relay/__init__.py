"""tron-relay: serves lucid.tron.v1.RelayService."""
