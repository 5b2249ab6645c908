"""Historical imports (docs/ingest-signing.md, "Historical imports"): CSV intervals, CSV bills and
Green Button files stored all or nothing and logged (an ``import`` leaf, then reading leaves that
name it); refusals that name the line or element; idempotency by file hash; device-signed data
wins; the proof bundle of an imported reading and ``gbt-verify recompute`` on a real Anvil."""

import hashlib
import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from greenbutton_objects import parse as greenbutton_parse  # type: ignore[import-untyped]
from sqlalchemy import select, text

from app.core.db import create_db_engine
from app.ingest.import_formats import ATOM, ESPI, parse_import
from app.ingest.models import BillingPeriod
from app.ledger import log
from app.ledger.sources import build_leaves
from app.main import create_app
from app.models import Base
from app.pure.encoding import decode_leaf
from tests.chain_helpers import Chain
from tests.conftest import (
    ADMIN,
    AUDITOR,
    Fleet,
    app_state,
    half_hours,
    make_settings,
    sequence_log,
)
from tests.impact_helpers import Site, run_job, run_pipeline

REPO = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 1, 5, tzinfo=UTC)
CSV = "text/csv"
XML = "application/atom+xml"


def csv_intervals(
    start: datetime, values: list[str], unit: str = "kWh", step_s: int = 1800
) -> bytes:
    """An interval CSV, timestamps written with a +09:00 offset (the same instants)."""
    jst = start.astimezone(timezone(timedelta(hours=9)))
    lines = ["start,end,value,unit"]
    for i, value in enumerate(values):
        a, b = jst + timedelta(seconds=i * step_s), jst + timedelta(seconds=(i + 1) * step_s)
        lines.append(f"{a.isoformat()},{b.isoformat()},{value},{unit}")
    return ("\r\n".join(lines) + "\r\n").encode()


def green_button(
    start_s: int, values: list[int], multiplier: str = "0", duration: int = 1800, uom: str = "72"
) -> bytes:
    readings = "".join(
        f"<espi:IntervalReading><espi:timePeriod><espi:duration>{duration}</espi:duration>"
        f"<espi:start>{start_s + i * duration}</espi:start></espi:timePeriod>"
        f"<espi:value>{v}</espi:value></espi:IntervalReading>"
        for i, v in enumerate(values)
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><feed xmlns="{ATOM}" xmlns:espi="{ESPI}">'
        "<id>urn:x</id><title>t</title><updated>2026-01-01T00:00:00Z</updated>"
        "<entry><content><espi:UsagePoint><espi:ServiceCategory><espi:kind>0</espi:kind>"
        "</espi:ServiceCategory></espi:UsagePoint></content></entry>"
        "<entry><content><espi:MeterReading/></content></entry>"
        f"<entry><content><espi:ReadingType><espi:powerOfTenMultiplier>{multiplier}"
        f"</espi:powerOfTenMultiplier><espi:uom>{uom}</espi:uom></espi:ReadingType></content></entry>"
        f"<entry><content><espi:IntervalBlock>{readings}</espi:IntervalBlock></content></entry>"
        "<entry><content><espi:LocalTimeParameters><espi:tzOffset>32400</espi:tzOffset>"
        "</espi:LocalTimeParameters></content></entry></feed>"
    ).encode()


def post_import(
    client: TestClient, meter: int, body: bytes, media: str = CSV, person: str | None = None
) -> Any:
    headers = {**ADMIN, "Content-Type": media} | (
        {} if person is None else {"X-Imported-By": person}
    )
    return client.post(f"/v1/admin/meters/{meter}/imports", content=body, headers=headers)


def readings(client: TestClient, meter: int, all_revisions: bool = False) -> list[dict[str, Any]]:
    r = client.get(
        f"/v1/admin/meters/{meter}/readings",
        params={"all_revisions": all_revisions},
        headers=ADMIN,
    )
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def logged_leaves(client: TestClient) -> list[dict[str, Any]]:
    """Every leaf of the log, in order, rebuilt from its rows, after sequencing the queue."""
    size = sequence_log(client)
    with app_state(client).session_factory() as session:
        entries = log.entries(session, 0, size)
        built = build_leaves(session, [(e.kind, e.ref_id) for e in entries])
        return [decode_leaf(built[(e.kind, e.ref_id)]) for e in entries]


def epoch(value: str) -> int:
    return int(datetime.fromisoformat(value).timestamp())


def test_csv_intervals_are_stored_and_logged_after_their_import_leaf(
    fleet: Fleet, client: TestClient
) -> None:
    meter = fleet.meter()
    body = csv_intervals(T0, ["1.234", "0.5", "2", "0.001"])
    response = post_import(client, meter, body, person="Hanako Sato (facilities)")
    assert response.status_code == 201, response.text
    answer = response.json()
    sha = hashlib.sha256(body).hexdigest()
    assert answer | {"imported_at": None} == {
        "import_id": answer["import_id"],
        "meter_id": meter,
        "sha256": sha,
        "format": "csv_intervals",
        "imported_by": "admin",
        "imported_by_person": "Hanako Sato (facilities)",
        "imported_at": None,
        "rows": 4,
        "conflicts": 0,
        "duplicates": 0,
        "first_start": "2026-01-05T00:00:00Z",
        "last_end": "2026-01-05T02:00:00Z",
    }
    stored = readings(client, meter)
    assert [(r["energy_wh"], r["import_id"], r["batch_id"]) for r in stored] == [
        (1234, answer["import_id"], None),
        (500, answer["import_id"], None),
        (2000, answer["import_id"], None),
        (1, answer["import_id"], None),
    ]
    leaves = logged_leaves(client)
    kinds = [leaf["type"] for leaf in leaves]
    first = kinds.index("import")
    assert kinds[first + 1 :] == ["reading"] * 4
    imported = leaves[first]
    assert imported["row_count"] == 4 and imported["sha256"] == sha
    assert imported["imported_by_person"] == "Hanako Sato (facilities)"
    assert imported["billing_periods"] == []
    for leaf, row in zip(leaves[first + 1 :], stored, strict=True):
        assert leaf["import_id"] == answer["import_id"]
        assert leaf["batch_sha256"] == sha and leaf["batch_sequence"] == 0
        assert (leaf["reading_id"], leaf["energy_wh"]) == (row["id"], row["energy_wh"])
        assert leaf["start"] == epoch(row["start"])


def test_a_billing_csv_is_stored_and_carried_in_the_import_leaf(
    fleet: Fleet, client: TestClient
) -> None:
    meter = fleet.meter()
    reads = [date(2025, m, 1) for m in range(1, 13)] + [date(2026, 1, 1)]
    kwh = [f"{1000 + 17 * m}.5" for m in range(12)]
    body = "period_start,period_end,kwh\n" + "".join(
        f"{a},{b},{k}\n" for a, b, k in zip(reads, reads[1:], kwh, strict=False)
    )
    response = post_import(client, meter, body.encode())
    assert response.status_code == 201, response.text
    assert (response.json()["format"], response.json()["rows"]) == ("csv_billing", 12)
    assert readings(client, meter) == []
    expected = [
        {"start": a.isoformat(), "end": b.isoformat(), "energy_wh": int(float(k) * 1000)}
        for a, b, k in zip(reads, reads[1:], kwh, strict=False)
    ]
    (imported,) = [leaf for leaf in logged_leaves(client) if leaf["type"] == "import"]
    assert imported["billing_periods"] == expected and imported["row_count"] == 12
    with app_state(client).session_factory() as session:
        bills = session.scalars(select(BillingPeriod).order_by(BillingPeriod.period_start))
        assert [
            {
                "start": b.period_start.isoformat(),
                "end": b.period_end.isoformat(),
                "energy_wh": b.energy_wh,
            }
            for b in bills
        ] == expected


def test_a_green_button_file_is_stored_with_its_multiplier(
    fleet: Fleet, client: TestClient
) -> None:
    meter = fleet.meter()
    start = int(T0.timestamp())
    response = post_import(client, meter, green_button(start, [123, 45, 6], multiplier="1"), XML)
    assert response.status_code == 201, response.text
    assert response.json()["format"] == "green_button"
    assert [(epoch(r["start"]), r["energy_wh"]) for r in readings(client, meter)] == [
        (start, 1230),
        (start + 1800, 450),
        (start + 3600, 60),
    ]
    kinds = [leaf["type"] for leaf in logged_leaves(client)]
    assert kinds[-4:] == ["import", "reading", "reading", "reading"]


def test_the_green_button_export_imports_into_another_meter_unchanged(
    fleet: Fleet, client: TestClient, tmp_path: Path
) -> None:
    """The ESPI XSD is not on any package registry (the only sources reachable here), so the
    export is checked by a round trip through the import's ESPI parser and by a peer parser."""
    source, target = fleet.meter(), fleet.meter()
    assert fleet.post(source, 1, half_hours(T0, 6)).status_code == 200
    exported = client.get(f"/v1/admin/meters/{source}/readings.xml", headers=ADMIN)
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("application/atom+xml")
    parsed = parse_import(exported.content, "application/xml", "energy_wh")
    assert len(parsed.intervals) == 6
    response = post_import(client, target, exported.content, XML)
    assert response.status_code == 201, response.text

    def intervals(meter: int) -> list[tuple[str, str, int]]:
        return [(r["start"], r["end"], r["energy_wh"]) for r in readings(client, meter)]

    assert intervals(target) == intervals(source)

    # A peer parser (greenbutton-objects, PyPI) follows the feed's Atom links from the
    # UsagePoint to its MeterReading, ReadingType and IntervalBlocks, and reads the same intervals.
    path = tmp_path / "export.xml"
    path.write_bytes(exported.content)
    [usage_point] = greenbutton_parse.parse_feed(str(path))
    [meter_reading] = usage_point.meterReadings
    assert meter_reading.readingType.uom.name == "wattHours"
    peer = [
        (int(r.timePeriod.start.timestamp()), int(r.timePeriod.duration.total_seconds()), r.value)
        for r in meter_reading.intervalReadings
    ]
    assert peer == [
        (epoch(r["start"]), epoch(r["end"]) - epoch(r["start"]), r["energy_wh"])
        for r in readings(client, source)
    ]


BAD_FILES = [
    ("wrong header", CSV, b"from,to,value,unit\n2026-01-05T00:00:00Z,x,1,Wh\n", "line 1", "header"),
    (
        "bad date",
        CSV,
        b"start,end,value,unit\n2026-01-05T00:00:00Z,2026-01-05T00:30:00Z,1,Wh\n"
        b"2026-01-05 00:30,2026-01-05T01:00:00Z,1,Wh\n",
        "line 3",
        "not RFC 3339",
    ),
    (
        "misaligned interval",
        CSV,
        b"start,end,value,unit\n2026-01-05T00:15:00Z,2026-01-05T00:45:00Z,1,Wh\n",
        "line 2",
        "not aligned",
    ),
    (
        "interval of the wrong length",
        CSV,
        b"start,end,value,unit\n2026-01-05T00:00:00Z,2026-01-05T01:00:00Z,1,Wh\n",
        "line 2",
        "this meter's is 1800 s",
    ),
    (
        "wrong unit",
        CSV,
        b"start,end,value,unit\n2026-01-05T00:00:00Z,2026-01-05T00:30:00Z,1,kW\n",
        "line 2",
        "unit 'kW'",
    ),
    (
        "duplicate interval",
        CSV,
        b"start,end,value,unit\n2026-01-05T00:00:00Z,2026-01-05T00:30:00Z,1,Wh\n"
        b"2026-01-05T09:00:00+09:00,2026-01-05T09:30:00+09:00,2,Wh\n",
        "line 3",
        "duplicate interval: same start as line 2",
    ),
    (
        "overlapping bills",
        CSV,
        b"period_start,period_end,kwh\n2025-01-01,2025-02-01,10\n2025-01-20,2025-03-01,10\n",
        "line 3",
        "overlaps the period of line 2",
    ),
    (
        "XML without IntervalBlock",
        XML,
        green_button(0, []).replace(
            b"<entry><content><espi:IntervalBlock></espi:IntervalBlock>" b"</content></entry>", b""
        ),
        "/feed",
        "no IntervalBlock",
    ),
    (
        "bad multiplier",
        XML,
        green_button(int(T0.timestamp()), [1], multiplier="5"),
        "/feed/entry[3]/content/ReadingType/powerOfTenMultiplier",
        "not an ESPI multiplier",
    ),
    (
        "missing start",
        XML,
        green_button(int(T0.timestamp()), [1, 2]).replace(
            f"<espi:start>{int(T0.timestamp()) + 1800}</espi:start>".encode(), b""
        ),
        "/feed/entry[4]/content/IntervalBlock/IntervalReading[2]/timePeriod/start",
        "missing",
    ),
]


@pytest.mark.parametrize(
    ("media", "body", "field", "reason"),
    [case[1:] for case in BAD_FILES],
    ids=[case[0] for case in BAD_FILES],
)
def test_a_broken_file_is_refused_naming_where_and_stores_nothing(
    fleet: Fleet, client: TestClient, media: str, body: bytes, field: str, reason: str
) -> None:
    meter = fleet.meter()
    size = sequence_log(client)
    response = post_import(client, meter, body, media)
    assert response.status_code == 422, response.text
    details = response.json()["error"]["details"]
    assert any(d["field"] == field and reason in d["reason"] for d in details), details
    assert readings(client, meter, all_revisions=True) == []
    assert sequence_log(client) == size  # nothing queued for the log
    with app_state(client).session_factory() as session:
        assert session.scalar(text("SELECT count(*) FROM reading_import")) == 0
        assert session.scalar(text("SELECT count(*) FROM billing_period")) == 0


def test_the_same_file_again_is_the_first_import_and_another_meter_gets_its_own(
    fleet: Fleet, client: TestClient
) -> None:
    first, second = fleet.meter(), fleet.meter()
    body = csv_intervals(T0, ["1", "2"])
    created = post_import(client, first, body)
    assert created.status_code == 201
    again = post_import(client, first, body, person="someone else")
    assert again.status_code == 200 and again.json() == created.json()
    assert len(readings(client, first, all_revisions=True)) == 2
    other = post_import(client, second, body)
    assert other.status_code == 201
    assert other.json()["import_id"] != created.json()["import_id"]
    assert other.json()["sha256"] == created.json()["sha256"]


def test_device_signed_data_wins_and_the_conflict_is_marked(
    fleet: Fleet, client: TestClient
) -> None:
    meter = fleet.meter()
    signed = half_hours(T0, 2, values=[700, 701])
    assert fleet.post(meter, 1, signed).status_code == 200
    response = post_import(client, meter, csv_intervals(T0, ["1", "1", "1", "1"]))
    assert response.status_code == 201
    assert (response.json()["rows"], response.json()["conflicts"]) == (2, 2)
    # A signed reading for an imported interval supersedes it, even with the same value.
    late = half_hours(T0 + timedelta(hours=1), 2, values=[1000, 999])
    answer = fleet.post(meter, 2, late).json()
    assert (answer["accepted"], answer["corrected"], answer["duplicate"]) == (0, 2, 0)
    latest = readings(client, meter)
    assert [(r["energy_wh"], r["revision"]) for r in latest] == [
        (700, 0),
        (701, 0),
        (1000, 1),
        (999, 1),
    ]
    assert [r["conflict_with_import"] for r in latest] == [False, False, True, True]
    history = {r["id"]: r for r in readings(client, meter, all_revisions=True)}
    for r in latest[2:]:
        superseded = history[r["supersedes_id"]]
        assert superseded["import_id"] == response.json()["import_id"]
        assert r["batch_id"] is not None and r["import_id"] is None


# --- proofs and the verifier, on a real chain ---------------------------------------------------


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.audit.verify.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_imported_readings_are_proved_and_recomputed_and_edits_are_caught(
    fleet: Fleet, client: TestClient, chain: Chain, tmp_path: Path
) -> None:
    meter = fleet.meter()
    assert fleet.post(meter, 1, half_hours(T0, 1)).status_code == 200
    imported = post_import(client, meter, csv_intervals(T0, ["1", "2", "3"])).json()
    run_pipeline(client, chain)
    assert chain.node is not None
    rows = [r for r in readings(client, meter) if r["import_id"] is not None]
    assert len(rows) == 2 == imported["rows"]

    bundle = client.get(f"/v1/audit/proofs/reading/{rows[0]['id']}", headers=AUDITOR)
    assert bundle.status_code == 200, bundle.text
    assert set(bundle.json()["provenance"]) == {"import_leaf"}
    path = tmp_path / "bundle.json"
    path.write_text(bundle.text)
    result = cli("bundle", str(path), "--rpc", chain.node.url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        result.stdout.splitlines()[-1] == f"ok   issuer-attested (import {imported['import_id']})"
    )
    signed = next(r for r in readings(client, meter) if r["batch_id"] is not None)
    signed_bundle = client.get(f"/v1/audit/proofs/reading/{signed['id']}", headers=AUDITOR).json()
    assert "batch_hex" in signed_bundle["provenance"]

    def recompute(name: str, *extra: str) -> subprocess.CompletedProcess[str]:
        with client.stream("GET", "/v1/audit/export?to=0", headers=AUDITOR) as r:
            content = "".join(r.iter_text())
        target = tmp_path / name
        target.write_text(content)
        contract = json.loads(content.splitlines()[-1])["checkpoint"]["contract_address"]
        assert chain.node is not None
        return cli(
            "recompute",
            "--export",
            str(target),
            "--rpc",
            chain.node.url,
            "--contract",
            contract,
            *extra,
        )

    good = recompute("export.ndjson")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "ok   2 imported readings match their 1 import leaves (issuer-attested)" in good.stdout

    engine = app_state(client).engine
    with engine.begin() as conn:
        conn.execute(text("UPDATE reading_import SET row_count = row_count + 1"))
    counted = recompute("count.ndjson")
    assert counted.returncode == 1 and counted.stdout.startswith("FAIL root: ")
    diagnosis = recompute("count.ndjson", "--skip-root")
    assert diagnosis.returncode == 1
    assert diagnosis.stdout.splitlines()[-1] == (
        f"FAIL import {imported['import_id']}: row_count 3, but 2 readings name it"
    )
    with engine.begin() as conn:
        conn.execute(text("UPDATE reading_import SET row_count = row_count - 1"))
    assert recompute("restored.ndjson").returncode == 0
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE reading SET energy_wh = energy_wh + 1 WHERE id = :id"),
            {"id": rows[1]["id"]},
        )
    edited = recompute("value.ndjson")
    assert edited.returncode == 1 and edited.stdout.startswith("FAIL root: "), edited.stdout


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_day_of_imported_data_is_flagged_issuer_attested_and_recomputed(
    fleet: Fleet, client: TestClient, chain: Chain, tmp_path: Path
) -> None:
    """A day whose data the issuer imported carries the flag ``issuer_attested`` in its result
    (a day of the meter's own signed readings does not), and `gbt-verify recompute` derives
    the same flags from the logged leaves."""
    asset = fleet.asset(floor_area_m2="2000")["id"]
    meter = fleet.meter(asset_id=asset)
    Site(client, fleet).configure(asset, T0.date(), method="intensity", building_type="office")
    day0 = T0 - timedelta(hours=9)  # the site's (JST) midnight of T0's date
    imported = post_import(client, meter, csv_intervals(day0, ["0.5"] * 48))
    assert imported.status_code == 201, imported.text
    signed = fleet.post(meter, 1, half_hours(day0 + timedelta(days=1), 48))
    assert signed.status_code == 200, signed.text
    run_job(client, T0 + timedelta(days=10))
    days = {
        r["period_start"]: r
        for r in Site(client, fleet).results(asset)
        if r["period_start"] in (T0.date().isoformat(), (T0.date() + timedelta(days=1)).isoformat())
    }
    first, second = (days[k] for k in sorted(days))
    assert "issuer_attested" in first["flags"] and first["final"]
    assert "issuer_attested" not in second["flags"]
    run_pipeline(client, chain)
    with client.stream("GET", "/v1/audit/export?to=0", headers=AUDITOR) as r:
        content = "".join(r.iter_text())
    export = tmp_path / "export.ndjson"
    export.write_text(content)
    contract = json.loads(content.splitlines()[-1])["checkpoint"]["contract_address"]
    assert chain.node is not None
    result = cli(
        "recompute", "--export", str(export), "--rpc", chain.node.url, "--contract", contract
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "day results recomputed" in result.stdout


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_import_file_has_its_own_size_limit(database_url: str, tmp_path: Path) -> None:
    """Import files are larger than any JSON body (a year of half-hourly Green Button XML is
    about 3.5 MB): the import route takes up to GBT_IMPORT_MAX_BODY_BYTES while every other
    route keeps GBT_INGEST_MAX_BODY_BYTES, each a 413 naming its own limit above it."""
    settings = make_settings(
        database_url, tmp_path, ingest_max_body_bytes=4096, import_max_body_bytes=60_000
    )
    engine = create_db_engine(settings.database_url)
    Base.metadata.create_all(engine)
    engine.dispose()
    app = create_app(settings)
    with TestClient(app) as client:
        meter = Fleet(client).meter()
        day = csv_intervals(T0, ["0.5"] * 48 * 3)  # three days: about 13 kB
        assert 4096 < len(day) < 60_000
        imported = post_import(client, meter, day)
        assert imported.status_code == 201, imported.text
        bond = {"code": "B" * 5000, "name": "n", "issuer": "i", "currency": "JPY"}
        too_big_json = client.post("/v1/admin/bonds", json=bond, headers=ADMIN)
        assert too_big_json.status_code == 413
        assert "4096 bytes" in too_big_json.json()["error"]["message"]
        huge = csv_intervals(T0 + timedelta(days=10), ["0.5"] * 48 * 25)
        assert len(huge) > 60_000
        refused = post_import(client, meter, huge)
        assert refused.status_code == 413
        assert "60000 bytes" in refused.json()["error"]["message"]
        assert len(readings(client, meter)) == 48 * 3  # the refused file stored nothing
    app.state.engine.dispose()
