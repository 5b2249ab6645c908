"""Tampering is detected and named: GET /v1/admin/integrity on SQLite and PostgreSQL, with a real
Anvil node holding the anchored checkpoints. Each test rewrites rows with SQL, as someone with
database access would, and checks that the report names what was changed."""

import json
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.impact.models import BondAssetMonth
from app.ingest.models import IngestBatch, Reading
from app.ledger import log
from app.ledger.models import Checkpoint, MerkleNode
from app.ledger.sources import build_leaves
from app.pure import merkle
from tests.chain_helpers import Chain
from tests.conftest import ADMIN, Fleet, half_hours
from tests.impact_helpers import run_pipeline
from tests.test_anchor import T0
from tests.test_investor_api import setup_bond


def anchor(client: TestClient, chain: Chain) -> Checkpoint:
    """Sequence and anchor what is queued; the new (confirmed) checkpoint."""
    run_pipeline(client, chain)
    with session_of(client) as session:
        cp = session.scalar(select(Checkpoint).order_by(Checkpoint.id.desc()).limit(1))
        assert cp is not None
        return cp


def integrity(client: TestClient, full: bool = False) -> dict[str, Any]:
    response = client.get("/v1/admin/integrity", params={"full": full}, headers=ADMIN)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def session_of(client: TestClient) -> Session:
    session: Session = client.app.state.session_factory()  # type: ignore[attr-defined]
    return session


def anchored_log(fleet: Fleet, client: TestClient, chain: Chain, readings: int = 20) -> Checkpoint:
    fleet.post(fleet.meter(), 1, half_hours(T0, readings))
    cp = anchor(client, chain)
    clean = integrity(client)
    assert clean["ok"], clean["problems"]
    assert clean["anchored_root_hex"] == cp.root.hex()
    return cp


def stored(session: Session, level: int, index: int) -> bytes:
    h = session.scalar(
        select(MerkleNode.hash).where(MerkleNode.level == level, MerkleNode.index == index)
    )
    assert h is not None
    return h


def set_node(session: Session, level: int, index: int, h: bytes) -> None:
    session.execute(
        update(MerkleNode)
        .where(MerkleNode.level == level, MerkleNode.index == index)
        .values(hash=h)
    )


def flipped(h: bytes) -> bytes:
    return bytes([h[0] ^ 1]) + h[1:]


def test_tampered_internal_node_is_named(fleet: Fleet, client: TestClient, chain: Chain) -> None:
    """A changed level-1 node inside an anchored subtree: proofs through it fail; the full check
    names the node with the hash its children give."""
    cp = anchored_log(fleet, client, chain)
    with session_of(client) as session:
        original = stored(session, 1, 2)
        set_node(session, 1, 2, flipped(original))
        session.commit()
        proof = log.inclusion_proof(session, 6, cp.tree_size)  # leaves 4..5 are its neighbour
        leaf = stored(session, 0, 6)
    assert not merkle.verify_inclusion(leaf, 6, cp.tree_size, proof, cp.root)

    report = integrity(client, full=True)
    assert not report["ok"]
    assert report["problems"] == [
        {
            "kind": "node",
            "what": "merkle_node (level 1, index 2): leaves 4..5",
            "expected": original.hex(),
            "found": flipped(original).hex(),
        }
    ]


def test_tampered_node_on_the_root_path_is_caught_by_the_incremental_check(
    fleet: Fleet, client: TestClient, chain: Chain
) -> None:
    """The default (incremental) run re-derives the anchored root from the stored subtrees; a
    changed one fails it and the run falls back to checking every node, naming it."""
    cp = anchored_log(fleet, client, chain)
    peak_level = cp.tree_size.bit_length() - 1  # the first complete subtree of the tree head
    with session_of(client) as session:
        original = stored(session, peak_level, 0)
        set_node(session, peak_level, 0, flipped(original))
        session.commit()
    report = integrity(client)
    assert not report["ok"] and report["checked_from"] == 0
    kinds = {(p["kind"], p["what"].split(":")[0]) for p in report["problems"]}
    assert ("node", f"merkle_node (level {peak_level}, index 0)") in kinds
    [root_problem] = [p for p in report["problems"] if p["kind"] == "checkpoint"]
    assert f"checkpoint {cp.number}" in root_problem["what"]
    assert root_problem["expected"] == cp.root.hex()  # as the chain holds it


def test_consistent_rewrite_of_leaf_ancestors_and_checkpoint_row_is_caught_by_the_chain(
    fleet: Fleet, client: TestClient, chain: Chain
) -> None:
    """Reading, its leaf, every ancestor and the checkpoint row rewritten consistently: only the
    contract still holds the real root, and the check compares with it."""
    cp = anchored_log(fleet, client, chain)
    with session_of(client) as session:
        reading_id = session.scalar(select(Reading.id).order_by(Reading.id).limit(1))
        session.execute(update(Reading).where(Reading.id == reading_id).values(energy_wh=1))
        index = log.leaf_index_of(session, "reading", reading_id)
        assert index is not None
        data = build_leaves(session, [("reading", reading_id)])[("reading", reading_id)]
        set_node(session, 0, index, merkle.leaf_hash(data))
        level, i = 1, index >> 1
        while level < cp.tree_size.bit_length() and (i + 1) << level <= cp.tree_size:
            children = stored(session, level - 1, 2 * i), stored(session, level - 1, 2 * i + 1)
            set_node(session, level, i, merkle.node_hash(*children))
            level, i = level + 1, i >> 1
        forged = log.root(session, cp.tree_size)
        assert forged != cp.root
        session.execute(update(Checkpoint).where(Checkpoint.id == cp.id).values(root=forged))
        session.commit()
    report = integrity(client, full=True)
    assert not report["ok"]
    problems = {p["what"]: p for p in report["problems"]}
    row = problems[f"checkpoint {cp.number} (id {cp.id}) root (database vs chain)"]
    assert (row["expected"], row["found"]) == (cp.root.hex(), forged.hex())
    [derived] = [p for p in report["problems"] if p["what"].startswith("root of the stored tree")]
    assert (derived["expected"], derived["found"]) == (cp.root.hex(), forged.hex())
    # The reading no longer is what the meter signed, either.
    assert any(f"reading {reading_id} " in p["what"] for p in report["problems"])


def test_tampered_batch_signature_and_payload_are_named(
    fleet: Fleet, client: TestClient, chain: Chain
) -> None:
    anchored_log(fleet, client, chain)
    with session_of(client) as session:
        batch = session.scalar(select(IngestBatch).limit(1))
        assert batch is not None
        batch_id, signature, payload = batch.id, batch.signature, batch.payload
        session.execute(
            update(IngestBatch)
            .where(IngestBatch.id == batch_id)
            .values(signature=flipped(signature))
        )
        session.commit()
    report = integrity(client, full=True)
    assert [(p["kind"], p["what"].split(" signature")[0]) for p in report["problems"]] == [
        ("batch", f"ingest_batch {batch_id} (meter {batch.meter_id}, sequence 1)")
    ]
    assert report["problems"][0]["found"] == flipped(signature).hex()

    with session_of(client) as session:
        # The payload changed (one reading's value), the signature put back.
        tampered = payload[:-1] + bytes([payload[-1] ^ 1])
        session.execute(
            update(IngestBatch)
            .where(IngestBatch.id == batch_id)
            .values(signature=signature, payload=tampered)
        )
        session.commit()
    report = integrity(client, full=True)
    whats = [p["what"] for p in report["problems"]]
    assert any(w.startswith(f"ingest_batch {batch_id} ") and "payload: SHA-256" in w for w in whats)
    assert any(w.startswith(f"ingest_batch {batch_id} ") and "signature" in w for w in whats)
    assert all(p["kind"] == "batch" for p in report["problems"])


def test_tampered_rollup_and_checkpoint_totals_are_named_and_investors_see_the_chain(
    fleet: Fleet, client: TestClient, chain: Chain
) -> None:
    """Attributed CO2 in a roll-up raised by 5 t and the checkpoint row's totals raised: the
    integrity check names both; the investor API's anchored totals stay the chain's."""
    ids = setup_bond(client, fleet)
    bond_id = ids["bond"]["id"]
    cp = anchor(client, chain)
    before = client.get(f"/v1/investor/bonds/{bond_id}").json()
    assert before["anchored_totals"]["read_from_chain"] is True
    assert integrity(client)["ok"]
    [(_, reduction_wh, co2_g)] = json.loads(cp.totals_json)
    with session_of(client) as session:
        row = session.scalar(select(BondAssetMonth).where(BondAssetMonth.bond_id == bond_id))
        assert row is not None
        month, attributed = row.month_start, row.attributed_co2_avoided_g
        session.execute(
            update(BondAssetMonth)
            .where(BondAssetMonth.bond_id == bond_id, BondAssetMonth.month_start == month)
            .values(attributed_co2_avoided_g=attributed + 5_000_000)
        )
        forged_totals = [[bond_id, reduction_wh, co2_g + 5_000_000]]
        session.execute(
            update(Checkpoint)
            .where(Checkpoint.id == cp.id)
            .values(totals_json=json.dumps(forged_totals))
        )
        session.commit()

    after = client.get(f"/v1/investor/bonds/{bond_id}").json()
    assert after["anchored_totals"] == before["anchored_totals"]  # read from the contract
    listed = client.get(f"/v1/investor/checkpoints/{cp.number}").json()
    assert listed["read_from_chain"] and listed["bond_totals"][0]["co2_avoided_t"] == str(
        before["anchored_totals"]["co2_avoided_t"]
    )

    report = integrity(client)
    assert not report["ok"]
    problems = {p["what"]: (p["expected"], p["found"]) for p in report["problems"]}
    asset_id = ids["asset"]["id"]
    rollup = (
        f"bond_asset_month (bond {bond_id}, asset {asset_id}, month {month.isoformat()}) "
        "attributed_co2_avoided_g"
    )
    assert problems[rollup] == (str(attributed), str(attributed + 5_000_000))
    totals = problems[f"checkpoint {cp.number} (id {cp.id}) totals (database vs chain)"]
    assert totals == (json.dumps([[bond_id, reduction_wh, co2_g]]), json.dumps(forged_totals))


def test_unreachable_chain_is_said_not_hidden(
    fleet: Fleet, client: TestClient, chain: Chain
) -> None:
    """With the node down, the investor API shows no anchored figure it could not read from the
    chain, and the integrity check is not ok."""
    ids = setup_bond(client, fleet)
    bond_id = ids["bond"]["id"]
    anchor(client, chain)
    chain.stop()
    body = client.get(f"/v1/investor/bonds/{bond_id}").json()
    assert body["anchored_totals"]["read_from_chain"] is False
    assert body["anchored_totals"]["co2_avoided_t"] is None
    assert body["anchored_totals"]["chain_error"]
    report = integrity(client)
    assert not report["ok"]
    assert [p["kind"] for p in report["problems"]] == ["chain"]
