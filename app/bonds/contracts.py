"""The bond's contracts on chain: GreenBondToken (the security token, linked to the bond's
totals in ImpactRegistry) and PersonalInfo (holders' encrypted registrations): their deployment
and bindings. docs/bond-token.md describes the rules.
"""

from dataclasses import dataclass
from datetime import date

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from web3 import Web3
from web3.contract import Contract

from app.ledger.contract import deploy_contract
from app.pure.artifact import GREEN_BOND_TOKEN, PERSONAL_INFO


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


def terms_tuple(terms: BondTerms) -> tuple[object, ...]:
    """The constructor's ``Terms`` argument (an ABI tuple, in the struct's field order)."""
    return (
        terms.name,
        terms.symbol,
        terms.face_value,
        terms.currency,
        terms.interest_rate,
        [yyyymmdd(d) for d in terms.interest_payment_dates],
        yyyymmdd(terms.redemption_date),
        terms.redemption_value,
        terms.purpose,
    )


def deploy_personal_info(
    w3: Web3, account: LocalAccount, *, timeout: float = 120.0
) -> ChecksumAddress:
    """Deploys a PersonalInfo register (it has no owner: one serves any number of issuers)."""
    return deploy_contract(w3, account, PERSONAL_INFO, timeout=timeout)


def deploy_green_bond_token(
    w3: Web3,
    account: LocalAccount,
    terms: BondTerms,
    *,
    initial_supply: int,
    personal_info: ChecksumAddress,
    impact_registry: ChecksumAddress,
    bond_id: int,
    timeout: float = 120.0,
) -> ChecksumAddress:
    """Deploys a GreenBondToken whose issuer is ``account`` (holding ``initial_supply``), whose
    holders register in ``personal_info`` and whose impact is bond ``bond_id``'s totals in
    ``impact_registry``."""
    return deploy_contract(
        w3,
        account,
        GREEN_BOND_TOKEN,
        terms_tuple(terms),
        initial_supply,
        personal_info,
        impact_registry,
        bond_id,
        timeout=timeout,
    )


def green_bond_token(w3: Web3, address: ChecksumAddress) -> Contract:
    return w3.eth.contract(address=address, abi=GREEN_BOND_TOKEN.abi)


def personal_info(w3: Web3, address: ChecksumAddress) -> Contract:
    return w3.eth.contract(address=address, abi=PERSONAL_INFO.abi)
