"""Pure formats and rules, no I/O: meter signing, canonical leaf encoding, the Merkle tree, bond
totals, the calculation core (calc/), the contract artifact. The service and the standalone
verifier both import these, so an auditor checks the very code that computed the figures.
"""
