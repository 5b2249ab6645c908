"""A bond token's terms (GreenBondToken.Terms), fixed at deployment: the record the service
deploys with and the ``bond_token`` leaf carries. Pure: no I/O, no app imports."""

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class BondTerms:
    """The token's terms (GreenBondToken.Terms), fixed at deployment."""

    name: str
    symbol: str
    face_value: int  # per unit, whole units of the currency
    currency: str  # ISO 4217
    interest_rate: int  # yearly, percent with 4 decimals: 12500 is 1.2500 %
    interest_payment_dates: tuple[date, ...]  # strictly ascending, none after redemption
    redemption_date: date
    redemption_value: int  # per unit, whole units of the currency
    purpose: str


def yyyymmdd(day: date) -> int:
    """A date as the contract stores it: 2030-03-31 is 20300331."""
    return day.year * 10_000 + day.month * 100 + day.day
