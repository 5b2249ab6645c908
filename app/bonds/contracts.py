"""The bond's contracts on chain: GreenBondToken (the security token, linked to the bond's
totals in ImpactRegistry) and PersonalInfo (holders' encrypted registrations): their deployment
and bindings. docs/bond-token.md describes the rules.
"""

from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_account.signers.local import LocalAccount
from eth_typing import ABI, ChecksumAddress
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractConstructor

from app.ledger.contract import deploy_contract
from app.pure.artifact import CARBON_CREDIT, GREEN_BOND_TOKEN, PERSONAL_INFO, Artifact

# Re-exported: the terms are a pure record (the bond_token leaf carries them too).
from app.pure.bond_terms import BondTerms as BondTerms
from app.pure.bond_terms import yyyymmdd as yyyymmdd


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


def token_constructor_args(
    terms: BondTerms,
    initial_supply: int,
    personal_info: ChecksumAddress,
    impact_registry: ChecksumAddress,
    bond_id: int,
) -> tuple[object, ...]:
    """GreenBondToken's constructor arguments, in order."""
    return (terms_tuple(terms), initial_supply, personal_info, impact_registry, bond_id)


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
    args = token_constructor_args(terms, initial_supply, personal_info, impact_registry, bond_id)
    return deploy_contract(w3, account, GREEN_BOND_TOKEN, *args, timeout=timeout)


def constructor(w3: Web3, artifact: Artifact, *args: object) -> ContractConstructor:
    """The deployment of ``artifact`` with constructor arguments ``args``, to sign."""
    return w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode).constructor(*args)


def green_bond_token(w3: Web3, address: ChecksumAddress) -> Contract:
    return w3.eth.contract(address=address, abi=GREEN_BOND_TOKEN.abi)


def personal_info(w3: Web3, address: ChecksumAddress) -> Contract:
    return w3.eth.contract(address=address, abi=PERSONAL_INFO.abi)


def _error_selectors(abi: ABI) -> dict[bytes, tuple[str, list[str], list[str]]]:
    return {
        bytes(Web3.keccak(text=f"{e['name']}({','.join(i['type'] for i in e['inputs'])})"))[:4]: (
            e["name"],
            [i["name"] for i in e["inputs"]],
            [i["type"] for i in e["inputs"]],
        )
        for e in abi
        if e["type"] == "error"
    }


_ERRORS = {
    **_error_selectors(PERSONAL_INFO.abi),
    **_error_selectors(GREEN_BOND_TOKEN.abi),
    **_error_selectors(CARBON_CREDIT.abi),
}


def decode_custom_error(data: str | bytes) -> tuple[str, dict[str, Any]] | None:
    """(name, arguments by name) of a custom error of the bond's contracts or CarbonCredit
    from its revert data (addresses checksummed); None when the data is no error of theirs."""
    raw = bytes.fromhex(data.removeprefix("0x")) if isinstance(data, str) else data
    found = _ERRORS.get(raw[:4])
    if found is None:
        return None
    name, names, types = found
    try:
        values = abi_decode(types, raw[4:])
    except DecodingError:  # data that only starts like this error
        return None
    return name, {
        n: Web3.to_checksum_address(v) if t == "address" else v
        for n, t, v in zip(names, types, values, strict=True)
    }
