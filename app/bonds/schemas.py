"""Admin API bodies of the bond token: its terms and deployment, the issuer's operations and
transactions, the issuer's encryption key."""

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, Field
from web3 import Web3

from app.core.schemas import Output, StrictInput
from app.pure.bond_terms import BondTerms

UNITS_MAX = 2**63 - 1  # units are BIGINT in the positions table
ZERO_ADDRESS = "0x" + "0" * 40


def _address(value: str) -> str:
    if value.lower() == ZERO_ADDRESS:
        raise ValueError("must not be the zero address")
    mixed = value[2:] != value[2:].lower() and value[2:] != value[2:].upper()
    if mixed and not Web3.is_checksum_address(value):
        raise ValueError("has mixed case but a wrong EIP-55 checksum (a typo?)")
    return Web3.to_checksum_address(value)


EthAddress = Annotated[
    str,
    Field(pattern=r"^0x[0-9a-fA-F]{40}$", examples=["0x70997970C51812dc3A010C7d01b50e0d17dc79C8"]),
    AfterValidator(_address),
]
"""An account: 0x and 40 hex digits (EIP-55 checksummed when in mixed case), never zero;
returned checksummed."""
Units = Annotated[int, Field(ge=1, le=UNITS_MAX, description="Token units (bonds).")]
IdempotencyKey = Annotated[
    str,
    Field(
        min_length=1,
        max_length=128,
        pattern=r"^[!-~]+$",
        description="Any printable ASCII up to 128 characters, chosen by the client per "
        "operation: a retry with the same key and body returns the first outcome instead of "
        "sending a second transaction.",
    ),
]


class TokenTerms(StrictInput):
    """GreenBondToken's terms, fixed at deployment (docs/bond-token.md)."""

    name: str = Field(min_length=1, max_length=100, examples=["Tokyo Green Retrofit Bond"])
    symbol: str = Field(pattern=r"^[A-Z0-9]{1,12}$", examples=["TGRB"])
    face_value: int = Field(ge=1, le=UNITS_MAX, description="Per unit, whole currency units.")
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217: the bond's currency.")
    interest_rate: int = Field(
        ge=0,
        le=1_000_000,
        description="Yearly, in percent with 4 decimals: 12500 is 1.2500 %.",
        examples=[12500],
    )
    interest_payment_dates: list[date] = Field(
        max_length=600,
        description="Strictly ascending, after the bond's issue date, none after the "
        "redemption date.",
    )
    redemption_date: date = Field(description="The bond's maturity date.")
    redemption_value: int = Field(ge=1, le=UNITS_MAX, description="Per unit, currency units.")
    purpose: str = Field(min_length=1, max_length=500, description="Use of proceeds.")

    def to_terms(self) -> BondTerms:
        return BondTerms(
            name=self.name,
            symbol=self.symbol,
            face_value=self.face_value,
            currency=self.currency,
            interest_rate=self.interest_rate,
            interest_payment_dates=tuple(self.interest_payment_dates),
            redemption_date=self.redemption_date,
            redemption_value=self.redemption_value,
            purpose=self.purpose,
        )


class TokenDeploy(TokenTerms):
    initial_supply: int = Field(
        default=0,
        ge=0,
        le=UNITS_MAX,
        description="Units credited to the issuer at deployment (usually 0: holders get theirs "
        "through issues).",
    )


class TokenOnChain(Output):
    """The token's state read from the contract at ``block_number``."""

    block_number: int
    total_supply: int
    transferable: bool
    transfer_approval_required: bool
    is_redeemed: bool
    application_count: int = Field(description="Transfer applications so far (indices 0..n-1).")


class IssuerTxOut(Output):
    """A transaction the service signed as the issuer: ``pending`` (recorded, not yet sent),
    ``sent``, ``confirmed`` (mined), ``reverted`` (mined, did nothing) or ``dropped`` (never
    mined: its nonce went to another transaction). Reverted and dropped ones may be retried."""

    id: int
    bond_id: int | None
    operation: str
    idempotency_key: str | None = Field(
        description="The client's key (issues, redemptions), the application index (approvals, "
        "cancellations) or `deploy`."
    )
    request: dict[str, Any]
    status: str
    chain_id: int
    nonce: int
    tx_hash: str
    contract_address: str | None = Field(description="What a deployment creates.")
    block_number: int | None
    error: str | None
    created_at: datetime
    settled_at: datetime | None


class TokenOut(Output):
    """A bond's token: where it is, its terms, and its state on chain (``on_chain`` is null
    with ``chain_error`` when the chain cannot be read)."""

    id: int = Field(description="The token's id: its deployment is leaf `bond_token` {id}.")
    bond_id: int
    chain_id: int
    contract_address: str
    personal_info_address: str
    impact_registry_address: str
    issuer_address: str = Field(description="The service's chain account.")
    deploy_tx_hash: str
    deployed_block: int
    created_at: datetime
    terms: TokenTerms
    initial_supply: int
    on_chain: TokenOnChain | None
    chain_error: str | None
    open_transactions: list[IssuerTxOut] = Field(
        description="The issuer's transactions for this token still on their way (sent, not "
        "mined yet)."
    )


class TokenUnits(StrictInput):
    """An issue or a redemption."""

    holder: EthAddress
    amount: Units
    lock_address: EthAddress | None = Field(
        default=None,
        description="Issue into, or redeem from, the holder's balance locked to this address; "
        "null: the free balance.",
    )


class TransferDecision(StrictInput):
    data: str = Field(
        default="", max_length=200, description="A note recorded in the contract's event."
    )


class TokenSettings(StrictInput):
    """The issuer's switches; an omitted one is left as it is."""

    transferable: bool | None = None
    transfer_approval_required: bool | None = None


class TransferApplicationOut(Output):
    index: int
    applicant: str
    recipient: str
    amount: int
    pending: bool = Field(description="Neither approved nor cancelled yet.")


class TransferApplicationsOut(Output):
    block_number: int = Field(description="Every value was read at this block.")
    application_count: int
    items: list[TransferApplicationOut]


class IssuerKeyIn(StrictInput):
    public_key_pem: str = Field(
        min_length=1,
        max_length=4000,
        description="The issuer's RSA public key (2048 to 8192 bits), PEM SubjectPublicKeyInfo "
        "(`-----BEGIN PUBLIC KEY-----`).",
    )


class IssuerKeyOut(Output):
    public_key_pem: str
    fingerprint: str = Field(description="SHA-256 of the DER SubjectPublicKeyInfo, hex.")
    key_bits: int
    registered_at: datetime
    private_key_configured: bool = Field(description="`GBT_ISSUER_KEY_FILE` is set.")
