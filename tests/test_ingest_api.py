"""POST /v1/meters/{id}/readings and GET /v1/admin/meters/{id}/readings, on SQLite and
PostgreSQL: every response the ingestion API documents."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from app.core.db import create_db_engine
from app.main import create_app
from app.models import Base
from tests.conftest import ADMIN, Fleet, half_hours, make_settings, stored_readings

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def stored(client: TestClient, meter_id: int, all_revisions: bool = False) -> list[dict[str, Any]]:
    return stored_readings(client, meter_id, all_revisions)


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["message"]
    if code:
        assert error["code"] == code
    return error


def test_new_readings_are_accepted_and_stored_exactly(fleet: Fleet, client: TestClient) -> None:
    meter = fleet.meter()
    readings = half_hours(T0, 20)
    response = fleet.post(meter, 1, readings)
    assert response.status_code == 200, response.text
    assert response.json() | {"batch_id": 0} == {
        "batch_id": 0,
        "sequence": 1,
        "accepted": 20,
        "duplicate": 0,
        "corrected": 0,
        "replayed": False,
    }
    rows = stored(client, meter)
    assert [(r["start"], r["energy_wh"], r["revision"]) for r in rows] == [
        (r["start"].replace("+00:00", "Z"), r["energy_wh"], 0) for r in readings
    ]
    assert all(r["supersedes_id"] is None for r in rows)


def test_duplicates_and_corrections_make_revisions(fleet: Fleet, client: TestClient) -> None:
    """Same value again: a duplicate, nothing stored. Different value: revision n+1 naming n."""
    meter = fleet.meter()
    first = [1000 + i for i in range(10)]
    assert fleet.post(meter, 1, half_hours(T0, 10, first)).status_code == 200
    second = [*first, 2000, 2001]
    second[3] += 7
    second[8] += 9
    response = fleet.post(meter, 2, half_hours(T0, 12, second))
    assert response.status_code == 200, response.text
    counts = response.json()
    assert (counts["accepted"], counts["duplicate"], counts["corrected"]) == (2, 8, 2)

    third = list(second)
    third[3] = first[3]  # back to the original value: still a new revision, not an overwrite
    counts = fleet.post(meter, 3, half_hours(T0, 12, third)).json()
    assert (counts["accepted"], counts["duplicate"], counts["corrected"]) == (0, 11, 1)

    history = [
        r for r in stored(client, meter, all_revisions=True) if r["start"] == "2026-01-01T01:30:00Z"
    ]
    assert [(r["revision"], r["energy_wh"]) for r in history] == [
        (0, first[3]),
        (1, second[3]),
        (2, first[3]),
    ]
    assert history[1]["supersedes_id"] == history[0]["id"]
    assert history[2]["supersedes_id"] == history[1]["id"]

    latest = stored(client, meter)
    assert [r["energy_wh"] for r in latest] == third
    assert len(stored(client, meter, all_revisions=True)) == 12 + 3


def test_exact_replay_is_idempotent(fleet: Fleet, client: TestClient) -> None:
    """A retried batch returns the original counts and stores nothing more."""
    meter = fleet.meter()
    fleet.post(meter, 1, half_hours(T0, 5))
    readings = half_hours(T0, 8, [1000, 1001, 1002, 99, 1004, 1005, 1006, 1007])
    body = fleet.batch(meter, 2, readings)
    original = client.post(f"/v1/meters/{meter}/readings", json=body)
    retried = client.post(f"/v1/meters/{meter}/readings", json=body)
    assert original.status_code == retried.status_code == 200
    assert retried.json() == original.json() | {"replayed": True}
    assert len(stored(client, meter, all_revisions=True)) == 5 + 3 + 1


def test_reused_sequence_with_other_content_is_409(fleet: Fleet, client: TestClient) -> None:
    meter = fleet.meter()
    fleet.post(meter, 1, half_hours(T0, 4))
    before = stored(client, meter, all_revisions=True)
    error = assert_error(fleet.post(meter, 1, half_hours(T0, 4, [1, 2, 3, 4])), 409, "conflict")
    assert error["details"][0]["field"] == "sequence"
    assert stored(client, meter, all_revisions=True) == before


def test_signature_problems_are_401_and_store_nothing(fleet: Fleet, client: TestClient) -> None:
    meter = fleet.meter()
    url = f"/v1/meters/{meter}/readings"
    readings = half_hours(T0, 3)
    good = fleet.batch(meter, 1, readings)
    missing = {k: v for k, v in good.items() if k != "signature_hex"}
    wrong_key = fleet.batch(meter, 1, readings, key=Ed25519PrivateKey.generate())
    tampered = {**good, "readings": half_hours(T0, 3, [1000, 1001, 1003])}
    other_sequence = {**good, "sequence": 2}
    for body in (missing, wrong_key, tampered, other_sequence, {**good, "signature_hex": "zz"}):
        error = assert_error(client.post(url, json=body), 401, "bad_signature")
        assert error["details"][0]["field"] == "signature_hex"
    assert stored(client, meter) == []
    assert client.post(url, json=good).status_code == 200


def test_signature_is_bound_to_the_meter(fleet: Fleet, client: TestClient) -> None:
    """A batch signed for meter A, posted to meter B (even with B's key), is refused."""
    a, b = fleet.meter(), fleet.meter()
    body = fleet.batch(a, 1, half_hours(T0, 2), key=fleet.keys[b])
    assert_error(client.post(f"/v1/meters/{b}/readings", json=body), 401)


def test_unknown_meter_is_404(fleet: Fleet, client: TestClient) -> None:
    meter = fleet.meter()
    body = fleet.batch(meter, 1, half_hours(T0, 1))
    assert_error(client.post(f"/v1/meters/{meter + 1000}/readings", json=body), 404, "not_found")


def test_inactive_meter_is_403(fleet: Fleet, client: TestClient) -> None:
    meter = fleet.meter()
    assert fleet.post(meter, 1, half_hours(T0, 2)).status_code == 200
    client.post(f"/v1/admin/meters/{meter}/deactivate", headers=ADMIN)
    assert_error(
        fleet.post(meter, 2, half_hours(T0 + timedelta(hours=1), 2)), 403, "meter_inactive"
    )
    assert len(stored(client, meter)) == 2


def test_too_many_readings_is_413(fleet: Fleet, client: TestClient) -> None:
    meter = fleet.meter(interval_s=60)
    readings = half_hours(T0, 5001, interval_s=60)
    error = assert_error(fleet.post(meter, 1, readings), 413, "batch_too_large")
    assert error["details"][0]["field"] == "readings"
    assert fleet.post(meter, 2, readings[:5000]).json()["accepted"] == 5000


def test_body_above_the_byte_limit_is_413(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path, ingest_max_body_bytes=4096)
    engine = create_db_engine(settings.database_url)
    Base.metadata.create_all(engine)
    engine.dispose()
    with TestClient(create_app(settings)) as client:
        fleet = Fleet(client)
        meter = fleet.meter()
        assert_error(fleet.post(meter, 1, half_hours(T0, 100)), 413, "body_too_large")
        assert fleet.post(meter, 2, half_hours(T0, 10)).status_code == 200


def test_every_invalid_reading_is_listed_and_nothing_stored(
    fleet: Fleet, client: TestClient
) -> None:
    meter = fleet.meter()
    readings = half_hours(T0, 8)
    readings[1]["energy_wh"] = -5
    readings[2]["end"] = readings[2]["start"]
    readings[3]["end"] = (
        datetime.fromisoformat(readings[3]["start"]) + timedelta(minutes=15)
    ).isoformat()
    shifted = datetime.fromisoformat(readings[4]["start"]) + timedelta(minutes=1)
    readings[4]["start"] = shifted.isoformat()
    readings[4]["end"] = (shifted + timedelta(minutes=30)).isoformat()
    future = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=2)
    readings[5] = {
        "start": future.isoformat(),
        "end": (future + timedelta(minutes=30)).isoformat(),
        "energy_wh": 1,
    }
    readings[6] = {
        "start": readings[6]["start"],
        "end": readings[6]["end"],
        "temperature_centi_c": 2100,
    }
    error = assert_error(fleet.post(meter, 1, readings), 422, "invalid_input")
    indexed = {(d["index"], d["field"]) for d in error["details"]}
    assert indexed == {
        (1, "readings[1].energy_wh"),
        (2, "readings[2].end"),
        (3, "readings[3].end"),
        (4, "readings[4].start"),
        (5, "readings[5].start"),
        (6, "readings[6].temperature_centi_c"),
    }
    assert all(d["reason"] for d in error["details"])
    assert stored(client, meter) == []


@pytest.mark.parametrize(
    ("bad_reading", "field", "reason_part"),
    [
        ({"energy_wh": 1.5}, "energy_wh", "integer"),
        ({"energy_wh": 10.0}, "energy_wh", "integer"),
        ({"energy_wh": "12"}, "energy_wh", "integer"),
        ({"energy_wh": True}, "energy_wh", "integer"),
        ({"energy_wh": 2**70}, "energy_wh", "less than"),
        ({"start": "2026-01-01T00:00:00"}, "start", "offset"),
        ({"start": "2026-01-01T00:00:00.500Z"}, "start", "whole seconds"),
        ({"start": "yesterday"}, "start", "timestamp"),
        # Only the documented form (docs/ingest-signing.md): nothing that the canonical bytes
        # would silently round or that other parsers read differently.
        ({"start": "2026-01-01T10:00:00+0900"}, "start", "+HH:MM"),
        ({"start": "2026-01-01 01:00:00Z"}, "start", "upper-case 'T'"),
        ({"start": "2026-01-01t01:00:00z"}, "start", "upper-case 'T'"),
        ({"start": 1767229200}, "start", "must be a string"),
        ({"end": 1767229200.0}, "end", "must be a string"),
        ({"start": "2026-01-01T01:00:00.000Z"}, "start", "whole seconds"),
        ({"start": "2026-01-01T01:00:00Z "}, "start", "RFC 3339"),
        ({"start": "2026-02-30T01:00:00Z"}, "start", "not a valid date"),
        ({"start": "2026-01-01T01:00:00+24:00"}, "start", "not a valid date"),
        ({"temperature_centi_c": 5}, "", "exactly one"),
        ({"energy_wh": None}, "", "exactly one"),
        ({"colour": "green"}, "colour", "not a known field"),
    ],
)
def test_malformed_values_are_422_with_index(
    fleet: Fleet, client: TestClient, bad_reading: dict[str, Any], field: str, reason_part: str
) -> None:
    """Values that are not integers (or not finite), bad timestamps: 422, before any signature
    check, naming the reading's index and field."""
    meter = fleet.meter()
    readings = half_hours(T0, 3)
    body = {"sequence": 1, "readings": readings, "signature_hex": "00" * 64}
    body["readings"][2] = {**readings[2], **bad_reading}
    error = assert_error(client.post(f"/v1/meters/{meter}/readings", json=body), 422)
    [detail] = error["details"]
    assert detail["index"] == 2
    assert detail["field"] == f"readings[2].{field}".rstrip(".")
    assert reason_part in detail["reason"]


def test_readings_before_the_meters_installation_are_422(fleet: Fleet, client: TestClient) -> None:
    """A reading whose interval starts before the registered installed_at is refused, each
    one listed with its index; from installed_at on, readings are accepted."""
    installed = T0 + timedelta(hours=2)
    meter = fleet.meter(installed_at="2026-01-01T02:00:00Z")
    error = assert_error(fleet.post(meter, 1, half_hours(T0, 6)), 422, "invalid_input")
    assert [(d["index"], d["field"]) for d in error["details"]] == [
        (i, f"readings[{i}].start") for i in range(4)
    ]
    assert all(
        "before the meter's installation (2026-01-01T02:00:00Z)" in d["reason"]
        for d in error["details"]
    )
    assert stored(client, meter) == []
    assert fleet.post(meter, 2, half_hours(installed, 2)).json()["accepted"] == 2


def test_readings_before_the_earliest_date_are_422_without_installed_at(
    fleet: Fleet, client: TestClient
) -> None:
    """A meter registered without installed_at: readings from 1870 (or any time before
    GBT_INGEST_EARLIEST_READING, default 2000-01-01T00:00:00Z) are refused."""
    meter = fleet.meter()
    for sequence, start in enumerate(
        [datetime(1870, 1, 1, tzinfo=UTC), datetime(1999, 12, 31, 23, 30, tzinfo=UTC)], 1
    ):
        error = assert_error(fleet.post(meter, sequence, half_hours(start, 1)), 422)
        [detail] = error["details"]
        assert detail["field"] == "readings[0].start"
        assert "2000-01-01T00:00:00Z" in detail["reason"]
        assert "GBT_INGEST_EARLIEST_READING" in detail["reason"]
    first_allowed = datetime(2000, 1, 1, tzinfo=UTC)
    assert fleet.post(meter, 3, half_hours(first_allowed, 1)).json()["accepted"] == 1
    assert stored(client, meter)[0]["start"] == "2000-01-01T00:00:00Z"


def test_earliest_reading_date_is_a_setting(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(
        database_url, tmp_path, ingest_earliest_reading="2026-01-01T09:00:00+09:00"
    )
    engine = create_db_engine(settings.database_url)
    Base.metadata.create_all(engine)
    engine.dispose()
    with TestClient(create_app(settings)) as client:
        fleet = Fleet(client)
        meter = fleet.meter()
        early = T0 - timedelta(minutes=30)
        error = assert_error(fleet.post(meter, 1, half_hours(early, 2)), 422)
        assert [d["index"] for d in error["details"]] == [0]
        assert "2026-01-01T00:00:00Z" in error["details"][0]["reason"]
        assert fleet.post(meter, 2, half_hours(T0, 1)).json()["accepted"] == 1


@pytest.mark.parametrize("sequence", ["42", 42.0, True, "0x2a"])
def test_sequence_must_be_a_json_integer(
    fleet: Fleet, client: TestClient, sequence: object
) -> None:
    meter = fleet.meter()
    body = {**fleet.batch(meter, 42, half_hours(T0, 1)), "sequence": sequence}
    error = assert_error(client.post(f"/v1/meters/{meter}/readings", json=body), 422)
    assert [(d["field"], d["reason"]) for d in error["details"]] == [
        ("sequence", "must be an integer")
    ]
    assert stored(client, meter) == []


@pytest.mark.parametrize("param", ["start_from", "start_to"])
def test_reading_filters_take_only_the_documented_timestamp_form(
    fleet: Fleet, client: TestClient, param: str
) -> None:
    meter = fleet.meter()
    response = client.get(
        f"/v1/admin/meters/{meter}/readings",
        params={param: "2026-01-01 00:00:00+0900"},
        headers=ADMIN,
    )
    [detail] = assert_error(response, 422, "invalid_input")["details"]
    assert detail["field"] == param and "RFC 3339" in detail["reason"]


def test_non_finite_json_number_is_422(fleet: Fleet, client: TestClient) -> None:
    meter = fleet.meter()
    readings = half_hours(T0, 1)
    raw = (
        '{"sequence": 1, "signature_hex": "'
        + "00" * 64
        + '", "readings": [{"start": "'
        + readings[0]["start"]
        + '", "end": "'
        + readings[0]["end"]
        + '", "energy_wh": NaN}]}'
    )
    response = client.post(
        f"/v1/meters/{meter}/readings", content=raw, headers={"content-type": "application/json"}
    )
    error = assert_error(response, 422)
    assert error["details"][0]["field"] == "readings[0].energy_wh"


def test_temperature_meter_stores_centi_degrees(fleet: Fleet, client: TestClient) -> None:
    meter = fleet.meter(quantity="outdoor_temperature", interval_s=3600)
    readings = [
        {
            "start": (T0 + timedelta(hours=i)).isoformat(),
            "end": (T0 + timedelta(hours=i + 1)).isoformat(),
            "temperature_centi_c": -250 + 100 * i,
        }
        for i in range(4)
    ]
    assert fleet.post(meter, 1, readings).json()["accepted"] == 4
    assert [r["temperature_centi_c"] for r in stored(client, meter)] == [-250, -150, -50, 50]
    assert all(r["energy_wh"] is None for r in stored(client, meter))
    error = assert_error(fleet.post(meter, 2, half_hours(T0, 1, interval_s=3600)), 422)
    assert error["details"][0]["field"] == "readings[0].energy_wh"


def test_offsets_other_than_utc_are_converted(fleet: Fleet, client: TestClient) -> None:
    """A meter in Tokyo may send +09:00; the service stores and returns UTC."""
    meter = fleet.meter()
    jst = datetime(2026, 1, 1, 9, 0, tzinfo=UTC) + timedelta(hours=0)
    reading = {
        "start": "2026-01-01T09:00:00+09:00",
        "end": "2026-01-01T09:30:00+09:00",
        "energy_wh": 42,
    }
    assert fleet.post(meter, 1, [reading]).status_code == 200
    [row] = stored(client, meter)
    assert row["start"] == (jst - timedelta(hours=9)).isoformat().replace("+00:00", "Z")


def test_readings_time_range_filter(fleet: Fleet, client: TestClient) -> None:
    meter = fleet.meter()
    fleet.post(meter, 1, half_hours(T0, 48))
    start_from = T0 + timedelta(hours=3)
    start_to = T0 + timedelta(hours=5)
    response = client.get(
        f"/v1/admin/meters/{meter}/readings",
        params={"start_from": start_from.isoformat(), "start_to": start_to.isoformat()},
        headers=ADMIN,
    )
    starts = [datetime.fromisoformat(r["start"]) for r in response.json()["items"]]
    expected = [start_from + timedelta(minutes=30 * i) for i in range(4)]
    assert starts == expected


def test_readings_listing_needs_admin(fleet: Fleet, client: TestClient) -> None:
    meter = fleet.meter()
    assert_error(client.get(f"/v1/admin/meters/{meter}/readings"), 401)
    assert_error(
        client.get(f"/v1/admin/meters/{meter}/readings", headers={"Authorization": "Bearer nope"}),
        403,
    )
    assert_error(client.get("/v1/admin/meters/999999/readings", headers=ADMIN), 404)


def test_body_that_is_not_json_is_422_naming_the_body(fleet: Fleet, client: TestClient) -> None:
    meter = fleet.meter()
    response = client.post(
        f"/v1/meters/{meter}/readings",
        content=b'{"sequence": 1, "readings": [',
        headers={"content-type": "application/json"},
    )
    error = assert_error(response, 422)
    assert [d["field"] for d in error["details"]] == ["body"]
    assert "JSON" in error["details"][0]["reason"]
