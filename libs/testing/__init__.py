"""Launchers for real servers used by tests, benchmarks and `lucid-tron up`: a Mongo-wire server, redis-server, a private Tor network."""
