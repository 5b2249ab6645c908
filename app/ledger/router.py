"""Admin views of the log: checkpoints and the integrity check."""

import json
from dataclasses import asdict
from datetime import datetime

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from app.core.deps import LimitQuery, SessionDep
from app.core.security import require_admin
from app.ledger import checkpoints
from app.ledger.credited import credited_co2_at
from app.ledger.integrity import check

router = APIRouter(prefix="/v1/admin", tags=["ledger"], dependencies=[Depends(require_admin)])


class CheckpointOut(BaseModel):
    id: int
    status: str
    tree_size: int
    root_hex: str
    closes_at: datetime
    methodology_hash_hex: str
    bond_totals: list[dict[str, int]] = Field(
        description="Per bond: `bond_id`, `reduction_wh` and `co2_avoided_g` (the anchored, "
        "gross totals), `credited_co2_avoided_g` (of which issued as carbon credits by the "
        "checkpoint: the credit issuance leaves among its `tree_size` leaves) and "
        "`claimable_co2_avoided_g` (`co2_avoided_g` - `credited_co2_avoided_g`)."
    )
    chain_id: int
    contract_address: str
    tx_hash: str
    number: int | None
    block_number: int | None
    created_at: datetime
    confirmed_at: datetime | None
    error: str | None


class IntegrityProblemOut(BaseModel):
    kind: str = Field(description="leaf | node | batch | checkpoint | chain | rollup")
    what: str = Field(description="The leaf, stored node, batch, checkpoint or roll-up row.")
    expected: str | None
    found: str | None


class IntegrityOut(BaseModel):
    ok: bool
    full: bool
    tree_size: int
    checked_from: int = Field(
        description="Leaves from this index on (and the nodes and batches above them) were "
        "checked in this run; below it, the anchored root was re-derived from the stored nodes."
    )
    anchored_checkpoint_number: int | None
    anchored_tree_size: int | None
    anchored_root_hex: str | None = Field(description="As read from the contract.")
    leaves_checked: int
    nodes_checked: int
    batches_checked: int
    checkpoints_checked: int
    rollups_checked: int
    problems: list[IntegrityProblemOut]
    problems_left_out: int


@router.get("/checkpoints", response_model=list[CheckpointOut])
def list_checkpoints(session: SessionDep, limit: LimitQuery = 100) -> list[CheckpointOut]:
    rows = checkpoints.newest_first(session, limit, None, on_chain_only=False).items
    credited = credited_co2_at(session, [c.tree_size for c in rows])
    return [
        CheckpointOut(
            id=c.id,
            status=c.status,
            tree_size=c.tree_size,
            root_hex=c.root.hex(),
            closes_at=c.closes_at,
            methodology_hash_hex=c.methodology_hash.hex(),
            bond_totals=[
                {
                    "bond_id": b,
                    "reduction_wh": r,
                    "co2_avoided_g": g,
                    "credited_co2_avoided_g": credited[c.tree_size].get(b, 0),
                    "claimable_co2_avoided_g": g - credited[c.tree_size].get(b, 0),
                }
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
    summary="Check the stored log, signed batches, checkpoints and roll-ups against the chain",
    description="A full audit by default (O(n) in the log's size): every leaf rebuilt from its "
    "rows, every stored node, every signed batch, every confirmed checkpoint compared with the "
    "contract, every bond roll-up recomputed. `full=false` is the cheap incremental run for a "
    "schedule: it verifies what was logged since the last fully verified confirmed checkpoint, "
    "re-derives that checkpoint's root (read from the contract) from the stored nodes, compares "
    "newer confirmed checkpoints with the contract and recomputes every bond roll-up; a changed "
    "source row of an older leaf is seen only by a full run. `ok` is false when any problem is "
    "found or the chain cannot be read; each problem names what is wrong, with the expected and "
    "found values. See docs/anchoring.md, section Integrity check.",
)
def integrity(request: Request, session: SessionDep, full: bool = True) -> IntegrityOut:
    report = check(session, request.app.state.anchored, full=full)
    anchored = report.anchored
    return IntegrityOut(
        ok=report.ok,
        full=report.full,
        tree_size=report.tree_size,
        checked_from=report.checked_from,
        anchored_checkpoint_number=None if anchored is None else anchored.number,
        anchored_tree_size=None if anchored is None else anchored.tree_size,
        anchored_root_hex=None if anchored is None else anchored.root.hex(),
        leaves_checked=report.leaves_checked,
        nodes_checked=report.nodes_checked,
        batches_checked=report.batches_checked,
        checkpoints_checked=report.checkpoints_checked,
        rollups_checked=report.rollups_checked,
        problems=[IntegrityProblemOut(**asdict(p)) for p in report.problems],
        problems_left_out=report.problems_left_out,
    )
