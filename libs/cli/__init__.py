"""The `lucid-tron` command: up, status, devnet."""
