"""The auditor API: proof bundles, consistency proofs between anchored checkpoints, and a
streamed export of the anchored log (read-only)."""
