"""The standalone verifier (``gbt-verify``): checks proof bundles (docs/audit-bundle.md),
consistency between anchored checkpoints, recomputations of a checkpoint from an export of the
log, downloaded green bond reports (docs/reporting.md) and carbon credit issuances
(docs/credits.md) against the chain itself, trusting nothing the service says. It imports only
the pure modules (Merkle tree, leaf encoding, batch signing, the calculation, report and credit
rules), web3 for read-only JSON-RPC calls, and openpyxl and pypdf to read reports, so an auditor
can run it without the service, its database or its configuration.
"""
