"""The code location's assets, grouped by layer: each asset's group is one of LAYERS."""

LAYERS = ("raw", "staging", "intermediate", "marts", "portfolio", "lifecycle")
