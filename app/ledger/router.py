"""Admin views of the log: checkpoints and the integrity check."""

import json
from datetime import datetime

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlalchemy import select

from app.core.deps import LimitQuery, SessionDep
from app.core.security import require_admin
from app.ledger import log
from app.ledger.models import Checkpoint

router = APIRouter(prefix="/v1/admin", tags=["ledger"], dependencies=[Depends(require_admin)])


class CheckpointOut(BaseModel):
    id: int
    status: str
    tree_size: int
    root_hex: str
    closes_at: datetime
    methodology_hash_hex: str
    bond_totals: list[dict[str, int]]
    chain_id: int
    contract_address: str
    tx_hash: str
    number: int | None
    block_number: int | None
    created_at: datetime
    confirmed_at: datetime | None
    error: str | None


class IntegrityOut(BaseModel):
    ok: bool
    tree_size: int
    stored_root_hex: str
    rebuilt_root_hex: str
    anchored_root_hex: str | None
    anchored_tree_size: int | None
    mismatched_leaf_indices: list[int]


@router.get("/checkpoints", response_model=list[CheckpointOut])
def list_checkpoints(session: SessionDep, limit: LimitQuery = 100) -> list[CheckpointOut]:
    rows = session.scalars(select(Checkpoint).order_by(Checkpoint.id.desc()).limit(limit))
    return [
        CheckpointOut(
            id=c.id,
            status=c.status,
            tree_size=c.tree_size,
            root_hex=c.root.hex(),
            closes_at=c.closes_at,
            methodology_hash_hex=c.methodology_hash.hex(),
            bond_totals=[
                {"bond_id": b, "reduction_wh": r, "co2_avoided_g": g}
                for b, r, g in json.loads(c.totals_json)
            ],
            chain_id=c.chain_id,
            contract_address=c.contract_address,
            tx_hash=c.tx_hash,
            number=c.number,
            block_number=c.block_number,
            created_at=c.created_at,
            confirmed_at=c.confirmed_at,
            error=c.error,
        )
        for c in rows
    ]


@router.get(
    "/integrity",
    response_model=IntegrityOut,
    summary="Rebuild every leaf from the database and compare with the anchored root",
    description="O(n) in the log's size: an audit to run on demand or on a schedule, not on a "
    "request path. `ok` is false when any leaf no longer matches its row or the rebuilt root "
    "differs from the latest confirmed checkpoint's.",
)
def integrity(session: SessionDep) -> IntegrityOut:
    anchored = session.scalar(
        select(Checkpoint)
        .where(Checkpoint.status == "confirmed")
        .order_by(Checkpoint.tree_size.desc())
        .limit(1)
    )
    report = log.check_integrity(session)
    anchored_ok = True
    if anchored is not None:
        at_anchor = log.check_integrity(session, anchored.tree_size)
        anchored_ok = at_anchor.rebuilt_root == anchored.root
    return IntegrityOut(
        ok=report.ok and anchored_ok,
        tree_size=report.tree_size,
        stored_root_hex=report.stored_root.hex(),
        rebuilt_root_hex=report.rebuilt_root.hex(),
        anchored_root_hex=None if anchored is None else anchored.root.hex(),
        anchored_tree_size=None if anchored is None else anchored.tree_size,
        mismatched_leaf_indices=report.mismatched_leaves,
    )
