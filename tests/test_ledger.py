"""The log in the database, on SQLite and PostgreSQL: what becomes a leaf, in which order,
proofs from stored subtrees, and tampering caught by the integrity check."""

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from app.ingest.models import Reading
from app.ledger import integrity, log
from app.ledger.models import LogEntry
from app.ledger.onchain import AnchoredCheckpoints
from app.ledger.sources import build_leaves
from app.outbox.service import enqueue
from app.pure import merkle
from app.pure.encoding import decode_leaf
from app.pure.signing import SignedReading, ValueKind, encode_batch
from tests.conftest import ADMIN, Fleet, allocate, create_bond, half_hours, sequence_log
from tests.impact_helpers import run_job

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def logged(client: TestClient) -> list[tuple[int, str, int, dict[str, Any]]]:
    """(leaf index, kind, ref id, decoded leaf) of every leaf, rebuilt from the rows."""
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        entries = list(session.scalars(select(LogEntry).order_by(LogEntry.leaf_index)))
        leaves = build_leaves(session, [(e.kind, e.ref_id) for e in entries])
        return [
            (e.leaf_index, e.kind, e.ref_id, decode_leaf(leaves[(e.kind, e.ref_id)]))
            for e in entries
        ]


def test_readings_and_registrations_become_leaves_in_order(
    fleet: Fleet, client: TestClient
) -> None:
    """Meter registration, then each stored reading (not duplicates), in acceptance order; a
    correction names the reading it supersedes; the signed batch's hash is in every reading."""
    meter = fleet.meter()
    first = half_hours(T0, 3)
    fleet.post(meter, 1, first)
    fleet.post(meter, 2, half_hours(T0, 4, [1000, 1001, 999, 1003]))  # 1 correction, 1 new
    sequence_log(client)
    leaves = logged(client)
    kinds = [kind for _, kind, _, _ in leaves]
    assert kinds.count("emission_factor") >= 1  # shipped defaults are leaves too
    ours = [leaf for _, kind, _, leaf in leaves if kind in ("meter_key", "reading")]
    assert [leaf["type"] for leaf in ours] == ["meter_key"] + ["reading"] * 5
    assert ours[0]["public_key_hex"] == fleet.keys[meter].public_key().public_bytes_raw().hex()
    readings = ours[1:]
    assert [r["energy_wh"] for r in readings] == [1000, 1001, 1002, 999, 1003]
    assert [r["revision"] for r in readings] == [0, 0, 0, 1, 0]
    assert readings[3]["supersedes_reading_id"] == readings[2]["reading_id"]
    assert [i for i, _, _, _ in leaves] == list(range(len(leaves)))

    signed = [
        SignedReading(
            int(datetime.fromisoformat(r["start"]).timestamp()),
            int(datetime.fromisoformat(r["end"]).timestamp()),
            ValueKind.ENERGY_WH,
            r["energy_wh"],
        )
        for r in first
    ]
    expected_hash = hashlib.sha256(encode_batch(meter, 1, signed)).hexdigest()
    assert {r["batch_sha256"] for r in readings[:3]} == {expected_hash}


def test_meter_key_leaf_carries_installed_at_only_when_registered(
    fleet: Fleet, client: TestClient
) -> None:
    """A meter's installation time is part of its logged registration (it decides which
    readings are accepted); a meter without one keeps the leaf shape it always had."""
    installed = fleet.meter(installed_at="2025-04-01T09:00:00+09:00")
    plain = fleet.meter()
    sequence_log(client)
    keys = {ref: leaf for _, kind, ref, leaf in logged(client) if kind == "meter_key"}
    assert keys[installed]["installed_at"] == int(datetime(2025, 4, 1, tzinfo=UTC).timestamp())
    assert "installed_at" not in keys[plain]


def test_sequencing_twice_adds_nothing_and_sources_enter_once(
    fleet: Fleet, client: TestClient
) -> None:
    meter = fleet.meter()
    fleet.post(meter, 1, half_hours(T0, 5))
    size = sequence_log(client)
    assert sequence_log(client) == size
    # The same source queued again (e.g. a retried job) is not logged twice.
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        batch_id = session.scalar(select(Reading.batch_id).limit(1))
        assert batch_id is not None
        enqueue(session, "batch", [batch_id])
        session.commit()
    assert sequence_log(client) == size


def test_proofs_from_stored_subtrees_verify(fleet: Fleet, client: TestClient) -> None:
    """Every leaf's inclusion proof and consistency proofs between sizes verify against roots
    computed independently from the rebuilt leaves."""
    meter = fleet.meter()
    for n in range(5):
        fleet.post(meter, n, half_hours(T0 + timedelta(days=n), 7 + n))
        sequence_log(client)
    leaves = logged(client)
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        entries = list(session.scalars(select(LogEntry).order_by(LogEntry.leaf_index)))
        data = build_leaves(session, [(e.kind, e.ref_id) for e in entries])
        hashes = [merkle.leaf_hash(data[(e.kind, e.ref_id)]) for e in entries]
        size = len(leaves)

        def independent_root(k: int) -> bytes:
            nodes: dict[tuple[int, int], bytes] = {}
            for lv, ix, h in merkle.append(lambda a, b: nodes[(a, b)], 0, hashes[:k]):
                nodes[(lv, ix)] = h
            return merkle.root(lambda a, b: nodes[(a, b)], k)

        root = log.root(session, size)
        assert root == independent_root(size)
        for index in range(size):
            proof = log.inclusion_proof(session, index, size)
            assert merkle.verify_inclusion(hashes[index], index, size, proof, root)
        for size1 in (1, size // 3, size // 2, size - 1):
            proof = log.consistency_proof(session, size1, size)
            assert merkle.verify_consistency(size1, size, independent_root(size1), root, proof)


def test_final_results_and_registry_records_become_leaves(fleet: Fleet, client: TestClient) -> None:
    asset = fleet.asset()
    meter = fleet.meter(asset_id=asset["id"])
    bond_id = create_bond(client, "GB-LOG", amount_issued="1000", issue_date="2025-01-01")
    allocate(client, bond_id, asset["id"], "0.5")
    day = T0.date()
    client.post(
        f"/v1/admin/assets/{asset['id']}/benchmarks",
        json={
            "effective_from": day.isoformat(),
            "params": {"method": "intensity", "building_type": "office"},
        },
        headers=ADMIN,
    )
    fleet.post(meter, 1, half_hours(T0 - timedelta(hours=9), 48))  # the JST day of T0
    client.post(f"/v1/admin/meters/{meter}/deactivate", headers=ADMIN)
    run_job(client, datetime(2026, 1, 10, tzinfo=UTC))
    sequence_log(client)
    leaves = [leaf for _, _, _, leaf in logged(client)]
    by_type: dict[str, list[dict[str, Any]]] = {}
    for leaf in leaves:
        by_type.setdefault(leaf["type"], []).append(leaf)
    assert by_type["allocation"][0]["financing_share"] == "0.50000000"
    assert by_type["allocation"][0]["bond_code"] == "GB-LOG"
    config = by_type["benchmark_config"][0]
    assert config["params"]["kwh_per_m2_year"] and config["timezone"] == "Asia/Tokyo"
    assert by_type["meter_revoked"][0]["meter_id"] == meter
    results = [r for r in by_type["result"] if r["period"] == "day"]
    first_day = next(r for r in results if r["period_start"] == day.isoformat())
    api = client.get(
        f"/v1/admin/assets/{asset['id']}/results",
        params={"first_day": day.isoformat(), "last_day": day.isoformat()},
        headers=ADMIN,
    ).json()[0]
    assert first_day["reduction_wh"] == api["reduction_wh"]
    assert first_day["co2_avoided_g"] == api["co2_avoided_g"]
    assert first_day["factor_ids"] == api["emission_factor_ids"]
    assert all(r["revision"] == 0 for r in results)  # only final results, each once


def test_tampered_reading_is_caught_by_the_integrity_check(
    fleet: Fleet, client: TestClient
) -> None:
    meter = fleet.meter()
    fleet.post(meter, 1, half_hours(T0, 10))
    size = sequence_log(client)
    no_chain = AnchoredCheckpoints(None)  # nothing anchored yet: the chain is not needed
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        clean = integrity.check(session, no_chain, full=True)
        assert clean.ok and clean.tree_size == clean.leaves_checked == size
        reading_id = session.scalar(select(Reading.id).order_by(Reading.id).offset(4).limit(1))
        session.execute(update(Reading).where(Reading.id == reading_id).values(energy_wh=1))
        session.commit()
        index = log.leaf_index_of(session, "reading", reading_id)
        report = integrity.check(session, no_chain, full=True)
    assert not report.ok
    assert [(p.kind, p.what.split(":")[0]) for p in report.problems if p.kind == "leaf"] == [
        ("leaf", f"leaf {index} (reading {reading_id})")
    ]
    # The reading is no longer the one the meter signed, either.
    assert any(p.kind == "batch" and f"reading {reading_id} " in p.what for p in report.problems)


def test_proof_costs_logarithmic_reads(fleet: Fleet, client: TestClient) -> None:
    """A proof in a log of a few thousand leaves reads O(log n) stored hashes."""
    meter = fleet.meter(interval_s=60)
    fleet.post(meter, 1, half_hours(T0, 3000, interval_s=60))
    size = sequence_log(client)
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        for index in (0, size // 2, size - 1):
            reader = log.NodeReader(session)
            merkle.inclusion_proof(reader, index, size)
            merkle.root(reader, size)
            assert reader.reads <= 3 * size.bit_length()


def test_leaves_are_built_in_chunks(
    fleet: Fleet, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sources beyond one query's worth (PostgreSQL takes at most 65,535 parameters) are built
    chunk by chunk, with the same bytes."""
    from app.ledger import sources

    fleet.post(fleet.meter(), 1, half_hours(T0, 9))
    sequence_log(client)
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        entries = [(e.kind, e.ref_id) for e in session.scalars(select(LogEntry))]
        whole = build_leaves(session, entries)
        monkeypatch.setattr(sources, "CHUNK", 2)
        assert build_leaves(session, entries) == whole
    assert len(whole) == len(entries)
