"""The bondholder register (社債原簿) at a record date, for the issuer: each holder's account,
name, address and contact (decrypted from PersonalInfo with the issuer's private key), units
and amount, and the date the holding began; as CSV.

The holder list is the indexer's snapshot at the last block of the record date (local date,
Asia/Tokyo: app/bonds/positions.py); each holder's registration is read from PersonalInfo at
that same block, so the register is what the chain said at the record date's end.
"""

import csv
import io
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy.orm import Session
from web3 import Web3
from web3.exceptions import Web3Exception

from app.bonds.contracts import personal_info
from app.bonds.issuer_key import issuer_private_key
from app.bonds.issuer_txs import IssuerChain, chain_unavailable, connect
from app.bonds.leaves import terms_of
from app.bonds.models import BondToken
from app.bonds.positions import (
    RECORD_DATE_TZ,
    HolderSnapshot,
    NotIndexedYetError,
    holders_at_record_date,
)
from app.bonds.service import deployed_token, deployment_request
from app.bonds.token_chain import TokenChain
from app.core.errors import ApiError
from app.core.settings import Settings
from app.ledger.chain import ChainError
from app.pure import holder_info

# Excel (the issuer's usual tool in Japan) reads UTF-8 CSV as such only after a byte order mark.
BOM = "\ufeff"
COLUMNS = (
    "record_date",
    "block_number",
    "account",
    "name",
    "address",
    "contact",
    "registration",
    "balance_units",
    "locked_units",
    "pending_units",
    "total_units",
    "face_value_per_unit",
    "amount",
    "currency",
    "acquired_on",
)


@dataclass(frozen=True)
class RegisterLine:
    account: str
    name: str
    address: str
    contact: str
    registration: str  # "registered", "not_registered" or "unreadable: <why>"
    balance_units: int
    locked_units: int
    pending_units: int
    acquired_on: date | None  # local date (Asia/Tokyo) the holding began

    @property
    def total_units(self) -> int:
        return self.balance_units + self.locked_units + self.pending_units


@dataclass(frozen=True)
class Register:
    record_date: date
    block_number: int
    face_value: int
    currency: str
    lines: tuple[RegisterLine, ...]


def build_register(
    session: Session,
    w3: Web3,
    token: BondToken,
    record_date: date,
    key: rsa.RSAPrivateKey,
    face_value: int,
    currency: str,
) -> Register:
    """NotIndexedYetError (app/bonds/positions.py) until the indexer is past the record date."""
    snapshot = holders_at_record_date(session, TokenChain(w3), token, record_date)
    return Register(
        record_date,
        snapshot.block_number,
        face_value,
        currency,
        tuple(_lines(w3, token, snapshot, key)),
    )


def _lines(
    w3: Web3, token: BondToken, snapshot: HolderSnapshot, key: rsa.RSAPrivateKey
) -> list[RegisterLine]:
    register = personal_info(w3, w3.to_checksum_address(token.personal_info_address))
    issuer = w3.to_checksum_address(token.issuer_address)
    block = snapshot.block_number
    tz = ZoneInfo(str(RECORD_DATE_TZ))
    out = []
    for h in snapshot.holders:
        account = w3.to_checksum_address(h.account)
        name = address = contact = ""
        if not register.functions.isRegistered(account, issuer).call(block_identifier=block):
            status = "not_registered"  # e.g. an issuer-forced transfer to an unregistered account
        else:
            blob = register.functions.personalInfo(account, issuer).call(block_identifier=block)
            try:
                info = holder_info.decrypt(key, blob)
            except ValueError as exc:
                status = f"unreadable: {exc}"
            else:
                status = "registered"
                name, address, contact = info.name, info.address, info.contact
        out.append(
            RegisterLine(
                account=account,
                name=name,
                address=address,
                contact=contact,
                registration=status,
                balance_units=h.balance_units,
                locked_units=h.locked_units,
                pending_units=h.pending_units,
                acquired_on=None if h.acquired_at is None else h.acquired_at.astimezone(tz).date(),
            )
        )
    return out


def to_csv(register: Register) -> str:
    """One line per holder, by account; UTF-8 with a byte order mark (for Excel)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for line in register.lines:
        writer.writerow(
            (
                register.record_date.isoformat(),
                register.block_number,
                line.account,
                line.name,
                line.address,
                line.contact,
                line.registration,
                line.balance_units,
                line.locked_units,
                line.pending_units,
                line.total_units,
                register.face_value,
                line.total_units * register.face_value,
                register.currency,
                "" if line.acquired_on is None else line.acquired_on.isoformat(),
            )
        )
    return BOM + buffer.getvalue()


def export_csv(
    session: Session, chain: IssuerChain, settings: Settings, bond_id: int, record_date: date
) -> str:
    """The register as CSV; 409 when the issuer's private key is not configured or the indexer
    has not passed the record date yet, 503 when the chain cannot be read."""
    token = deployed_token(session, bond_id)
    try:
        key = issuer_private_key(settings)
    except ValueError as exc:
        raise ApiError(409, "issuer_key_unusable", str(exc)) from exc
    if key is None:
        raise ApiError(
            409,
            "issuer_key_not_configured",
            "the register shows decrypted holder details: set GBT_ISSUER_KEY_FILE to the "
            "issuer's private key (PEM)",
        )
    terms = terms_of(deployment_request(session, token))
    client = connect(chain)
    try:
        register = build_register(
            session,
            client.w3,
            token,
            record_date,
            key,
            terms.face_value,
            terms.currency,
        )
    except NotIndexedYetError as exc:
        raise ApiError(
            409,
            "not_indexed_yet",
            f"{exc}: the register of {record_date} is ready once the indexer has read a block "
            "after that date (and its confirmations)",
            headers={"Retry-After": "10"},
        ) from exc
    except (ChainError, Web3Exception, OSError) as exc:
        raise chain_unavailable(exc) from exc
    return to_csv(register)
