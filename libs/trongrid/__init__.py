"""An async TronGrid HTTP client that reaches the network only through tor_proxy, with retries and a circuit breaker."""
