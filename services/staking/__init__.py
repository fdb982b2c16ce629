"""staking: serves lucid.tron.v1.StakingService."""
