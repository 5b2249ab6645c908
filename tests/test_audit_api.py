"""The auditor API on SQLite and PostgreSQL, against a real Anvil node: proof bundles verify
against the anchored root (and the contract holds it), consistency proofs and the export
rebuild what was anchored; pending leaves are 404 not_anchored; caching and auth."""

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from app.ingest.models import Reading
from app.ledger.models import LogEntry
from app.pure import merkle
from app.pure.encoding import decode_leaf
from app.pure.signing import decode_batch, verify_signature
from tests.chain_helpers import Chain
from tests.conftest import ADMIN, AUDITOR, Fleet, half_hours, sequence_log
from tests.impact_helpers import anchor_confirmed, run_pipeline

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def reading_ids(client: TestClient) -> list[int]:
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        return list(session.scalars(select(Reading.id).order_by(Reading.id)))


def get_bundle(client: TestClient, kind: str, ref_id: int, **params: Any) -> dict[str, Any]:
    response = client.get(f"/v1/audit/proofs/{kind}/{ref_id}", params=params, headers=AUDITOR)
    assert response.status_code == 200, response.text
    bundle: dict[str, Any] = response.json()
    return bundle


def check_included(leaf: dict[str, Any], proof_hex: list[str], cp: dict[str, Any]) -> bytes:
    """The leaf's hash is its bytes' RFC 9162 hash and it is in the checkpoint's tree."""
    data = bytes.fromhex(leaf["leaf_hex"])
    leaf_hash = merkle.leaf_hash(data)
    assert leaf_hash.hex() == leaf["leaf_hash_hex"]
    proof = [bytes.fromhex(p) for p in proof_hex]
    root = bytes.fromhex(cp["root_hex"])
    assert merkle.verify_inclusion(leaf_hash, leaf["leaf_index"], cp["tree_size"], proof, root)
    bad = bytes([leaf_hash[0] ^ 1]) + leaf_hash[1:]
    assert not merkle.verify_inclusion(bad, leaf["leaf_index"], cp["tree_size"], proof, root)
    return data


def check_on_chain(chain: Chain, cp: dict[str, Any]) -> None:
    registry = chain.client().registry(cp["contract_address"])
    size, root = registry.functions.getCheckpoint(cp["number"]).call()[:2]
    assert (size, bytes(root).hex()) == (cp["tree_size"], cp["root_hex"])
    assert cp["chain_id"] == 31337


def test_reading_bundle_verifies_with_its_provenance(
    fleet: Fleet, client: TestClient, chain: Chain
) -> None:
    meter = fleet.meter()
    assert fleet.post(meter, 1, half_hours(T0, 6)).status_code == 200
    run_pipeline(client, chain)
    reading_id = reading_ids(client)[2]
    response = client.get(f"/v1/audit/proofs/reading/{reading_id}", headers=AUDITOR)
    assert response.status_code == 200, response.text
    bundle = response.json()
    assert bundle["format"] == "gbt-proof-bundle/1"
    assert (bundle["leaf"]["kind"], bundle["leaf"]["ref_id"]) == ("reading", reading_id)
    cp = bundle["checkpoint"]
    assert cp["number"] == 0 and cp["tx_hash"].startswith("0x") and cp["block_number"]
    data = check_included(bundle["leaf"], bundle["inclusion_proof_hex"], cp)
    check_on_chain(chain, cp)
    reading = decode_leaf(data)
    assert reading["energy_wh"] == 1002

    provenance = bundle["provenance"]
    batch = bytes.fromhex(provenance["batch_hex"])
    assert hashlib.sha256(batch).hexdigest() == reading["batch_sha256"]
    batch_meter, _, signed = decode_batch(batch)
    assert batch_meter == meter and any(r.value == 1002 for r in signed)
    key_bundle = provenance["meter_key"]
    key_leaf = decode_leaf(
        check_included(key_bundle["leaf"], key_bundle["inclusion_proof_hex"], cp)
    )
    assert key_leaf["meter_id"] == meter and key_bundle["leaf"]["kind"] == "meter_key"
    signature = bytes.fromhex(provenance["signature_hex"])
    assert verify_signature(key_leaf["public_key_hex"], signature, batch)
    assert not verify_signature(key_leaf["public_key_hex"], signature, batch + b"x")

    # The same bundle for checkpoint 0 asked by number; caching headers and 304.
    assert get_bundle(client, "reading", reading_id, checkpoint=0) == bundle
    etag = response.headers["etag"]
    assert etag == f'"{hashlib.sha256(response.content).hexdigest()}"'
    assert response.headers["cache-control"] == "public, max-age=60"
    again = client.get(
        f"/v1/audit/proofs/reading/{reading_id}", headers={**AUDITOR, "If-None-Match": etag}
    )
    assert again.status_code == 304 and again.headers["etag"] == etag and not again.content
    other = client.get(
        f"/v1/audit/proofs/reading/{reading_id}", headers={**AUDITOR, "If-None-Match": '"x"'}
    )
    assert other.status_code == 200

    # A registry leaf has a bundle too, without provenance.
    key_only = get_bundle(client, "meter_key", meter)
    assert "provenance" not in key_only
    assert key_only["leaf"] == key_bundle["leaf"]


def test_result_bundle_verifies(fleet: Fleet, client: TestClient, chain: Chain) -> None:
    asset = fleet.asset()
    meter = fleet.meter(asset_id=asset["id"])
    day = T0.date()
    response = client.post(
        f"/v1/admin/assets/{asset['id']}/benchmarks",
        json={
            "effective_from": day.isoformat(),
            "params": {"method": "intensity", "building_type": "office"},
        },
        headers=ADMIN,
    )
    assert response.status_code == 201, response.text
    fleet.post(meter, 1, half_hours(T0 - timedelta(hours=9), 48))  # the JST day of T0
    run_pipeline(client, chain, impact_at=datetime(2026, 1, 10, tzinfo=UTC))
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        result_ids = list(session.scalars(select(LogEntry.ref_id).where(LogEntry.kind == "result")))
    assert result_ids
    for result_id in result_ids:
        bundle = get_bundle(client, "result", result_id)
        assert "provenance" not in bundle
        leaf = decode_leaf(
            check_included(bundle["leaf"], bundle["inclusion_proof_hex"], bundle["checkpoint"])
        )
        assert leaf["type"] == "result" and leaf["result_id"] == result_id
    check_on_chain(chain, bundle["checkpoint"])


def test_pending_leaves_are_not_anchored(fleet: Fleet, client: TestClient, chain: Chain) -> None:
    meter = fleet.meter()
    fleet.post(meter, 1, half_hours(T0, 2))
    run_pipeline(client, chain)
    fleet.post(meter, 2, half_hours(T0 + timedelta(days=1), 2))
    queued = reading_ids(client)[-1]
    for _ in range(2):  # queued, then sequenced but not anchored
        response = client.get(f"/v1/audit/proofs/reading/{queued}", headers=AUDITOR)
        assert response.status_code == 404, response.text
        error = response.json()["error"]
        assert error["code"] == "not_anchored" and "pending" in error["message"]
        sequence_log(client)
    response = client.get(f"/v1/audit/proofs/reading/{queued}?checkpoint=0", headers=AUDITOR)
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_anchored"
    response = client.get("/v1/audit/proofs/reading/999999", headers=AUDITOR)
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    response = client.get(f"/v1/audit/proofs/reading/{queued - 1}?checkpoint=5", headers=AUDITOR)
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    response = client.get("/v1/audit/proofs/bond/1", headers=AUDITOR)
    assert response.status_code == 422
    anchor_confirmed(client, chain)  # now anchored, in checkpoint 1
    assert get_bundle(client, "reading", queued)["checkpoint"]["number"] == 1


def test_consistency_and_export_rebuild_the_anchored_roots(
    fleet: Fleet, client: TestClient, chain: Chain
) -> None:
    meter = fleet.meter()
    fleet.post(meter, 1, half_hours(T0, 7))
    run_pipeline(client, chain)
    fleet.post(meter, 2, half_hours(T0 + timedelta(days=1), 13))
    run_pipeline(client, chain)

    response = client.get("/v1/audit/consistency", params={"from": 0, "to": 1}, headers=AUDITOR)
    assert response.status_code == 200, response.text
    body = response.json()
    first, second = body["from"], body["to"]
    assert (first["number"], second["number"]) == (0, 1)
    assert 0 < first["tree_size"] < second["tree_size"]
    assert body["chain_id"] == 31337 and body["contract_address"].startswith("0x")
    proof = [bytes.fromhex(p) for p in body["proof_hex"]]
    roots = bytes.fromhex(first["root_hex"]), bytes.fromhex(second["root_hex"])
    assert merkle.verify_consistency(first["tree_size"], second["tree_size"], *roots, proof)
    assert not merkle.verify_consistency(
        first["tree_size"], second["tree_size"], roots[1], roots[1], proof
    )
    for cp in (first, second):
        check_on_chain(
            chain, {**cp, "contract_address": body["contract_address"], "chain_id": 31337}
        )
    same = client.get("/v1/audit/consistency?from=1&to=1", headers=AUDITOR).json()
    assert same["proof_hex"] == [] and same["from"] == same["to"] == second
    bad = client.get("/v1/audit/consistency?from=1&to=0", headers=AUDITOR)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_input"
    missing = client.get("/v1/audit/consistency?from=0&to=7", headers=AUDITOR)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"

    def export(**params: int) -> list[dict[str, Any]]:
        with client.stream("GET", "/v1/audit/export", params=params, headers=AUDITOR) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("application/x-ndjson")
            return [json.loads(line) for line in r.iter_lines() if line]

    lines = export(to=1)
    *leaves, last = lines
    assert last["checkpoint"]["number"] == 1
    assert last["checkpoint"]["root_hex"] == second["root_hex"]
    assert [leaf["leaf_index"] for leaf in leaves] == list(range(second["tree_size"]))
    assert rebuild_root(leaves) == roots[1]
    assert rebuild_root(leaves[: first["tree_size"]]) == roots[0]
    tail = export(to=1, **{"from": 0})
    assert tail[:-1] == leaves[first["tree_size"] :] and tail[-1] == last
    assert client.get("/v1/audit/export?to=1&from=2", headers=AUDITOR).status_code == 422
    assert client.get("/v1/audit/export?to=9", headers=AUDITOR).status_code == 404


def rebuild_root(leaves: list[dict[str, Any]]) -> bytes:
    nodes: dict[tuple[int, int], bytes] = {}

    def get(level: int, index: int) -> bytes:
        return nodes[(level, index)]

    hashes = [merkle.leaf_hash(bytes.fromhex(leaf["leaf_hex"])) for leaf in leaves]
    for level, index, h in merkle.append(get, 0, hashes):
        nodes[(level, index)] = h
    return merkle.root(get, len(leaves))


def test_auditor_api_needs_the_token(client: TestClient) -> None:
    for path in (
        "/v1/audit/proofs/reading/1",
        "/v1/audit/consistency?from=0&to=1",
        "/v1/audit/export?to=0",
    ):
        response = client.get(path)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthenticated"
        wrong = client.get(path, headers={"Authorization": "Bearer not-the-token-at-all"})
        assert wrong.status_code == 403
        for other in (ADMIN, {"X-API-Key": "investor-key-is-not-an-auditor-key"}):
            refused = client.get(path, headers=other)
            assert refused.status_code == 403, "admin and investor credentials are not auditor ones"
