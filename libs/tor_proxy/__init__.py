"""The one way out to the internet: HTTP sessions through Tor's SOCKS port that fail closed."""
