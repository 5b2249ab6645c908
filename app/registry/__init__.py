"""The registry: bonds, green assets, allocations and meters (admin)."""
