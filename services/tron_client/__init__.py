"""tron-client: serves lucid.tron.v1.TronClientService."""
