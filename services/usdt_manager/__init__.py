"""usdt-manager: serves lucid.tron.v1.UsdtService."""
