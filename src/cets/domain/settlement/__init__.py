"""Settlement: delivery versus payment of the day's trades, runs, reconciliation (DOMAIN.md,
"Settlement")."""
