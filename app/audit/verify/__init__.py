"""The standalone verifier (``gbt-verify``): checks proof bundles (docs/audit-bundle.md) and
consistency between anchored checkpoints against the chain itself, trusting nothing the service
says. It imports only the pure modules (Merkle tree, leaf encoding, batch signing) and web3 for
read-only JSON-RPC calls, so an auditor can run it without the service, its database or its
configuration.
"""
