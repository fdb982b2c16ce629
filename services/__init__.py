"""The seven TRON services, one package each."""
