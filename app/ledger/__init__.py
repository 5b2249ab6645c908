"""The verifiable log: leaves rebuilt from rows, the sequencer, proofs, checkpoints, the chain
client and anchor job, integrity checks.
"""
