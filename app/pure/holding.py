"""A holding's attributed share of its bond's totals: the one rule the service (the holdings
statement), the verifier (``gbt-verify holding``) and GreenBondToken's ``holderImpact`` view
compute, and the statement format that carries it (docs/bond-token.md, "The impact of a
holding")."""

HOLDING_STATEMENT_FORMAT = "gbt-holding-statement/1"


def holder_share(total: int, holding: int, supply: int) -> int:
    """``total x holding / supply`` rounded toward zero, as the contract's ``_share``: exact in
    the product, truncated on the magnitude (Python's ``//`` floors, so a negative total would
    round away from zero otherwise); 0 when the supply is 0."""
    if supply == 0:
        return 0
    magnitude = abs(total) * holding // supply
    return -magnitude if total < 0 else magnitude
