"""Generated from protos/lucid/tron/chain: TRON's own wire messages (package `protocol`). Do not edit."""
