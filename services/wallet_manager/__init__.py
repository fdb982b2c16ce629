"""wallet-manager: serves lucid.tron.v1.WalletService."""
