"""TradeSense infrastructure components (Pulumi program building blocks)."""
