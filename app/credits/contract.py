"""The CarbonCredit contract (contracts/CarbonCredit.sol): its deployment, bindings, token ids,
day numbers and the issuance request.

An ERC-1155 token of emission reduction credits, 1 unit = 1 t-CO2, one token id per project and
vintage. The contract issues only against a verifier's approval that is a leaf of a checkpoint
anchored in ImpactRegistry, credits each project's periods in order and numbers each token id's
units with contiguous serials; retirement burns a holder's units and gives them the token id's
lowest serials not yet retired.
"""

from dataclasses import dataclass
from datetime import date

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractConstructor

from app.bonds.contracts import constructor
from app.ledger.contract import deploy_contract
from app.pure.artifact import CARBON_CREDIT
from app.pure.credit_leaves import day_number as day_number
from app.pure.credit_leaves import day_of as day_of

ISSUER_ROLE: bytes = Web3.keccak(text="ISSUER_ROLE")
UINT16_MAX = 2**16 - 1
UINT64_MAX = 2**64 - 1


def token_id_of(project_id: int, vintage: int) -> int:
    """The token id of ``project_id``'s credits of ``vintage`` (a calendar year): the contract's
    ``tokenIdOf``, project id in the high bits, vintage in the low 16."""
    if not 0 <= project_id <= UINT64_MAX:
        raise ValueError(f"project id {project_id} is not a uint64")
    if not 0 <= vintage <= UINT16_MAX:
        raise ValueError(f"vintage {vintage} is not a uint16")
    return (project_id << 16) | vintage


@dataclass(frozen=True)
class IssueRequest:
    """The argument of ``issue`` (the contract's ``IssueRequest``). The period is inclusive and
    lies inside calendar year ``vintage``; ``serial_first`` is the token id's ``nextSerial``."""

    project_id: int
    vintage: int
    to: ChecksumAddress
    amount: int  # units, 1 unit = 1 t-CO2
    serial_first: int
    period_first_day: date
    period_last_day: date
    checkpoint: int  # the ImpactRegistry checkpoint the approval is anchored in
    report_hash: bytes  # 32 bytes
    approval_leaf_hash: bytes  # RFC 9162 leaf hash of the verifier's approval
    approval_leaf_index: int
    approval_proof: tuple[bytes, ...]  # its inclusion proof in the checkpoint's tree

    @property
    def token_id(self) -> int:
        return token_id_of(self.project_id, self.vintage)

    def as_tuple(self) -> tuple[object, ...]:
        """The ABI tuple, in the struct's field order."""
        return (
            self.project_id,
            self.vintage,
            self.to,
            self.amount,
            self.serial_first,
            day_number(self.period_first_day),
            day_number(self.period_last_day),
            self.checkpoint,
            self.report_hash,
            self.approval_leaf_hash,
            self.approval_leaf_index,
            list(self.approval_proof),
        )


def constructor_call(w3: Web3, registry: ChecksumAddress, uri: str = "") -> ContractConstructor:
    """The deployment of a CarbonCredit anchored in ``registry``, to sign."""
    return constructor(w3, CARBON_CREDIT, registry, uri)


def deploy_carbon_credit(
    w3: Web3,
    account: LocalAccount,
    registry: ChecksumAddress,
    uri: str = "",
    *,
    timeout: float = 120.0,
) -> ChecksumAddress:
    """Deploys a CarbonCredit that issues against ``registry``'s checkpoints; ``account`` gets
    DEFAULT_ADMIN_ROLE and ISSUER_ROLE. ``uri``: the ERC-1155 metadata URI (``{id}`` is
    replaced by clients)."""
    return deploy_contract(w3, account, CARBON_CREDIT, registry, uri, timeout=timeout)


def carbon_credit(w3: Web3, address: ChecksumAddress) -> Contract:
    return w3.eth.contract(address=address, abi=CARBON_CREDIT.abi)
