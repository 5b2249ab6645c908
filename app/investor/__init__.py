"""The investor read API: bonds, assets, series, methodology and checkpoints, each figure with its
anchoring status.
"""
