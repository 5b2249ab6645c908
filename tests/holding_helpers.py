"""Investors' holdings in tests: EIP-4361 messages signed with a test account's key, and a bond
token on a real Anvil node with holders in every kind of position, whose indexed positions are
written to the database as the indexer would (the indexer and the admin API are built
elsewhere; the rows here are read back from the chain they describe)."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from sqlalchemy.orm import Session
from web3 import Web3
from web3.contract import Contract

from app.bonds.contracts import (
    BondTerms,
    deploy_green_bond_token,
    deploy_personal_info,
    green_bond_token,
    personal_info,
)
from app.bonds.models import BondToken, TokenPosition
from app.ledger.models import ChainDeployment
from tests.anvil import send
from tests.chain_helpers import Chain
from tests.test_bond_token_contract import TERMS

ZERO = "0x0000000000000000000000000000000000000000"
STATEMENT = "Sign in to see my green bond holdings."


def siwe_text(
    *,
    domain: str,
    address: str,
    uri: str,
    chain_id: int,
    nonce: str,
    issued_at: datetime | None = None,
    statement: str | None = STATEMENT,
    expiration_time: datetime | None = None,
    not_before: datetime | None = None,
    scheme: str | None = None,
    resources: tuple[str, ...] = (),
) -> str:
    """An EIP-4361 message, as a wallet or the dashboard writes it."""
    stamp = (issued_at or datetime.now(UTC)).isoformat().replace("+00:00", "Z")
    lines = [
        f"{scheme + '://' if scheme else ''}{domain} wants you to sign in with your Ethereum "
        "account:",
        address,
        "",
        *([statement, ""] if statement is not None else [""]),
        f"URI: {uri}",
        "Version: 1",
        f"Chain ID: {chain_id}",
        f"Nonce: {nonce}",
        f"Issued At: {stamp}",
    ]
    if expiration_time is not None:
        lines.append(f"Expiration Time: {expiration_time.isoformat().replace('+00:00', 'Z')}")
    if not_before is not None:
        lines.append(f"Not Before: {not_before.isoformat().replace('+00:00', 'Z')}")
    if resources:
        lines += ["Resources:", *(f"- {r}" for r in resources)]
    return "\n".join(lines)


def personal_sign(account: LocalAccount, text: str) -> str:
    """EIP-191 (``personal_sign``) signature as 0x-hex, v 27 or 28."""
    return "0x" + bytes(account.sign_message(encode_defunct(text=text)).signature).hex()


def signed_message(http: Any, account: LocalAccount, **fields: Any) -> tuple[str, str]:
    """A fresh nonce's message for ``account`` (what the service asks for unless ``fields``
    say otherwise) and its signature."""
    issued = http.post("/v1/investor/auth/nonce")
    assert issued.status_code == 200, issued.text
    asked = issued.json()
    values: dict[str, Any] = {
        "domain": asked["domain"],
        "address": account.address,
        "uri": asked["uri"],
        "chain_id": asked["chain_id"],
        "nonce": asked["nonce"],
    } | fields
    text = siwe_text(**values)
    return text, personal_sign(account, text)


def sign_in(http: Any, account: LocalAccount, **fields: Any) -> str:
    """Signs in as ``account``; returns the bearer token."""
    text, signature = signed_message(http, account, **fields)
    response = http.post("/v1/investor/auth/siwe", json={"message": text, "signature": signature})
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class SeededToken:
    """A GreenBondToken for ``bond_id`` issued by the service's chain account (the issuer
    decision of issue 13), its holders, and the block its indexed positions describe."""

    w3: Web3
    token: Contract
    issuer: LocalAccount
    alice: LocalAccount  # free, locked and pending units
    bob: LocalAccount  # free units only
    indexed_block: int
    token_row_id: int

    def holder_impact(self, account: str, number: int, block: int | str) -> tuple[int, ...]:
        return tuple(
            self.token.functions.holderImpactAt(account, number).call(block_identifier=block)
        )


def _mined(w3: Web3, account: LocalAccount, call: Any) -> int:
    receipt = send(w3, account, call)
    assert receipt["status"] == 1
    return int(receipt["blockNumber"])


def seed_token(
    session: Session, chain: Chain, bond_id: int, terms: BondTerms = TERMS
) -> SeededToken:
    """Deploys the token against the service's registry and gives alice 2,800 free + 500
    locked + 200 pending units (an application to transfer to bob, awaiting approval), bob
    6,000 and the issuer 1,000 (supply 10,500); then writes the token and the three positions
    as the indexer would, each with the block that last changed it."""
    assert chain.node is not None and chain.signer is not None
    w3, issuer = chain.node.web3(), chain.signer
    deployment = session.get(ChainDeployment, chain.node.chain_id)
    assert deployment is not None, "anchor a checkpoint first: the registry is deployed then"
    info = personal_info(w3, deploy_personal_info(w3, issuer))
    address = deploy_green_bond_token(
        w3,
        issuer,
        terms,
        initial_supply=1_000,
        personal_info=info.address,
        impact_registry=Web3.to_checksum_address(deployment.contract_address),
        bond_id=bond_id,
    )
    deployed = w3.eth.get_block("latest")
    token = green_bond_token(w3, address)
    alice, bob = chain.node.funded_account(), chain.node.funded_account()
    lock_address = Account.create().address
    f = token.functions
    _mined(w3, issuer, f.issueFrom(alice.address, ZERO, 3_000))
    _mined(w3, issuer, f.issueFrom(alice.address, lock_address, 500))
    bob_block = _mined(w3, issuer, f.issueFrom(bob.address, ZERO, 6_000))
    _mined(w3, issuer, f.setTransferable(True))
    _mined(w3, issuer, f.setTransferApprovalRequired(True))
    for holder in (alice, bob):
        _mined(w3, holder, info.functions.register(issuer.address, "ciphertext"))
    alice_block = _mined(w3, alice, f.applyForTransfer(bob.address, 200, ""))
    now = datetime.now(UTC).replace(microsecond=0)
    row = BondToken(
        bond_id=bond_id,
        chain_id=chain.node.chain_id,
        contract_address=address,
        personal_info_address=info.address,
        impact_registry_address=Web3.to_checksum_address(deployment.contract_address),
        issuer_address=issuer.address,
        deploy_tx_hash="0x" + bytes(deployed["transactions"][0]).hex(),  # type: ignore[arg-type]
        deployed_block=int(deployed["number"]),
        created_at=now,
    )
    session.add(row)
    session.flush()
    positions = [
        (issuer.address, (1_000, 0, 0), int(deployed["number"])),
        (alice.address, (2_800, 500, 200), alice_block),
        (bob.address, (6_000, 0, 0), bob_block),
    ]
    for account, units, block in positions:
        assert tuple(f.holdingOf(account).call(block_identifier=alice_block)) == units
        session.add(
            TokenPosition(
                token_id=row.id,
                account=account,
                balance_units=units[0],
                locked_units=units[1],
                pending_units=units[2],
                acquired_at=now - timedelta(hours=1),
                block_number=block,
                updated_at=now,
            )
        )
    session.commit()
    assert f.totalSupply().call(block_identifier=alice_block) == 10_500
    return SeededToken(w3, token, issuer, alice, bob, alice_block, row.id)
