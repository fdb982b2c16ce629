"""devnet: a TronGrid-compatible HTTP simulator for local runs and tests."""
