"""Storage helpers: PyMongo's async client and redis-py's asyncio client, configured to fail fast."""
