"""The ``bond_token`` leaf: a token's deployment, rebuilt from its ``bond_token`` row, the
deployment transaction's recorded request (terms and initial supply) and the bond's code.
Registered with the ledger's leaf builders on import (app/bonds/__init__.py), since the ledger
sits below this domain."""

import json
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.bonds.models import BondToken, IssuerTx
from app.ledger.sources import register_kind
from app.pure.bond_terms import BondTerms
from app.pure.leaves import BondTokenLeaf
from app.registry.service import bonds_by_ids

KIND = "bond_token"
DEPLOY = "deploy_token"


def terms_json(terms: BondTerms) -> dict[str, Any]:
    """The terms as the API writes them (and the deployment's request records them)."""
    return {
        "name": terms.name,
        "symbol": terms.symbol,
        "face_value": terms.face_value,
        "currency": terms.currency,
        "interest_rate": terms.interest_rate,
        "interest_payment_dates": [d.isoformat() for d in terms.interest_payment_dates],
        "redemption_date": terms.redemption_date.isoformat(),
        "redemption_value": terms.redemption_value,
        "purpose": terms.purpose,
    }


def terms_of(request: dict[str, Any]) -> BondTerms:
    """The terms of a deployment's recorded request."""
    t = request["terms"]
    return BondTerms(
        name=t["name"],
        symbol=t["symbol"],
        face_value=t["face_value"],
        currency=t["currency"],
        interest_rate=t["interest_rate"],
        interest_payment_dates=tuple(date.fromisoformat(d) for d in t["interest_payment_dates"]),
        redemption_date=date.fromisoformat(t["redemption_date"]),
        redemption_value=t["redemption_value"],
        purpose=t["purpose"],
    )


def deployment_tx(session: Session, token: BondToken) -> IssuerTx | None:
    return session.scalar(
        select(IssuerTx).where(
            IssuerTx.bond_id == token.bond_id,
            IssuerTx.operation == DEPLOY,
            IssuerTx.tx_hash == token.deploy_tx_hash,
        )
    )


def bond_token_leaves(session: Session, token_ids: list[int]) -> dict[int, bytes]:
    rows = session.execute(
        select(BondToken, IssuerTx)
        .join(
            IssuerTx,
            (IssuerTx.bond_id == BondToken.bond_id)
            & (IssuerTx.operation == DEPLOY)
            & (IssuerTx.tx_hash == BondToken.deploy_tx_hash),
        )
        .where(BondToken.id.in_(token_ids))
    ).all()
    bonds = bonds_by_ids(session, [token.bond_id for token, _ in rows])
    out = {}
    for token, tx in rows:
        request = json.loads(tx.request_json)
        out[token.id] = BondTokenLeaf(
            token_id=token.id,
            bond_id=token.bond_id,
            bond_code=bonds[token.bond_id].code,
            chain_id=token.chain_id,
            contract_address=token.contract_address,
            personal_info_address=token.personal_info_address,
            impact_registry_address=token.impact_registry_address,
            issuer_address=token.issuer_address,
            deploy_tx_hash=token.deploy_tx_hash,
            deployed_block=token.deployed_block,
            initial_supply=request["initial_supply"],
            terms=terms_of(request),
        ).encode()
    return out


register_kind(KIND, bond_token_leaves)
