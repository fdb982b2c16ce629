"""The mesh runtime every service runs on: grpc.aio server, health, reflection, shutdown, config, logs, tracing, errors."""
