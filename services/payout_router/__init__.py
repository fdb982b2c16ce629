"""payout-router: serves lucid.tron.v1.PayoutRouterService."""
