"""The bond as a security token on chain: contracts (GreenBondToken and PersonalInfo, their
deployment and bindings), the issuer's side (its encryption key, the token's deployment and the
issuer's operations, app/bonds/service.py and operations.py), and the ``bond_token`` leaf.

Importing the package registers that leaf's builder with the ledger (app/bonds/leaves.py), so
every process that knows the bond tables (app.models imports them) can rebuild the leaf.
"""

from app.bonds import leaves as leaves
