"""Pure validation rules for a signed batch (no database, no clock)."""

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from app.core.settings import Settings
from app.ingest.validation import ReadingsFloor, validate_readings
from app.pure.signing import SignedReading, ValueKind

NOW = 1_800_000_000  # a fixed "now", aligned to the half-hour grid
HALF_HOUR = 1800
NO_INSTALLATION_TIME = ReadingsFloor.of(None, Settings().ingest_earliest_reading)


def energy(start: int, value: int = 100, length: int = HALF_HOUR) -> SignedReading:
    return SignedReading(start, start + length, ValueKind.ENERGY_WH, value)


def check(
    readings: list[SignedReading],
    quantity: str = "consumption",
    skew: int = 300,
    floor: ReadingsFloor = NO_INSTALLATION_TIME,
):
    return [
        (e.index, e.field, e.reason)
        for e in validate_readings(readings, quantity, HALF_HOUR, NOW, skew, floor)
    ]


def test_valid_batch_has_no_errors() -> None:
    assert check([energy(NOW - HALF_HOUR * i) for i in range(1, 10)]) == []


def test_each_rule_reports_index_and_field() -> None:
    readings = [
        energy(NOW - 10 * HALF_HOUR),  # 0: fine
        energy(NOW - 9 * HALF_HOUR, value=-1),  # 1: negative energy
        SignedReading(NOW - 8 * HALF_HOUR, NOW - 8 * HALF_HOUR, ValueKind.ENERGY_WH, 1),  # 2
        energy(NOW - 7 * HALF_HOUR, length=900),  # 3: wrong interval length
        energy(NOW - 6 * HALF_HOUR + 60),  # 4: not aligned
        energy(NOW + 2 * HALF_HOUR),  # 5: in the future beyond the skew
        SignedReading(NOW - 5 * HALF_HOUR, NOW - 4 * HALF_HOUR, ValueKind.TEMPERATURE_CENTI_C, 5),
    ]
    errors = check(readings)
    by_index: dict[int, list[tuple[str, str]]] = {}
    for index, field, reason in errors:
        by_index.setdefault(index, []).append((field, reason))
    assert 0 not in by_index
    assert by_index[1] == [("energy_wh", "energy must not be negative")]
    assert by_index[2] == [("end", "must be after start")]
    assert by_index[3][0][0] == "end" and "900 s" in by_index[3][0][1]
    assert [f for f, _ in by_index[4]] == ["start"] and "aligned" in by_index[4][0][1]
    assert [f for f, _ in by_index[5]] == ["start"] and "future" in by_index[5][0][1]
    assert by_index[6][0][0] == "temperature_centi_c" and "wrong quantity" in by_index[6][0][1]


def test_clock_skew_is_a_tolerance_not_a_hard_now() -> None:
    """A start up to the configured skew ahead of now is accepted; beyond it, refused."""
    ahead = energy(NOW + HALF_HOUR)
    assert check([ahead], skew=HALF_HOUR) == []
    assert check([ahead], skew=HALF_HOUR - 1)[0][1] == "start"


def test_temperature_meter_accepts_negative_temperatures_and_refuses_energy() -> None:
    cold = SignedReading(NOW - HALF_HOUR, NOW, ValueKind.TEMPERATURE_CENTI_C, -1250)
    assert check([cold], quantity="outdoor_temperature") == []
    errors = check([energy(NOW - HALF_HOUR)], quantity="outdoor_temperature")
    assert [(i, f) for i, f, _ in errors] == [(0, "energy_wh")]


def test_same_interval_twice_in_a_batch() -> None:
    """Repeated with the same value is tolerated (stored once); with another value it is refused."""
    start = NOW - HALF_HOUR
    assert check([energy(start, 5), energy(start, 5)]) == []
    assert [(i, f) for i, f, _ in check([energy(start, 5), energy(start, 6)])] == [(1, "start")]


@given(st.lists(st.tuples(st.integers(1, 100_000), st.integers(0, 10**9)), min_size=1, max_size=50))
def test_aligned_past_non_negative_readings_are_always_valid(
    offsets_and_values: list[tuple[int, int]],
) -> None:
    readings = {}
    for offset, value in offsets_and_values:
        readings[offset] = energy(NOW - offset * HALF_HOUR, value)
    assert check(list(readings.values())) == []


@given(st.lists(st.integers(-5, 5), min_size=1, max_size=30))
def test_every_bad_item_is_reported(values: list[int]) -> None:
    """All negative readings are listed, not just the first one."""
    readings = [energy(NOW - (i + 1) * HALF_HOUR, v) for i, v in enumerate(values)]
    reported = {i for i, _, _ in check(readings)}
    assert reported == {i for i, v in enumerate(values) if v < 0}


def test_readings_before_the_installation_are_refused() -> None:
    """From the meter's installed_at on, readings are fine; an interval starting earlier is
    refused as 'before the meter's installation', whatever the service-wide earliest date."""
    installed = datetime.fromtimestamp(NOW - 4 * HALF_HOUR, UTC)
    floor = ReadingsFloor.of(installed, Settings().ingest_earliest_reading)
    readings = [energy(NOW - i * HALF_HOUR) for i in range(6, 0, -1)]
    errors = check(readings, floor=floor)
    assert [(i, f) for i, f, _ in errors] == [(0, "start"), (1, "start")]
    assert all("before the meter's installation" in reason for _, _, reason in errors)


def test_without_installation_time_the_earliest_reading_setting_bounds_the_past() -> None:
    earliest = datetime.fromtimestamp(NOW - HALF_HOUR, UTC)
    floor = ReadingsFloor.of(None, earliest)
    errors = check([energy(NOW - 2 * HALF_HOUR), energy(NOW - HALF_HOUR)], floor=floor)
    assert [(i, f) for i, f, _ in errors] == [(0, "start")]
    assert "GBT_INGEST_EARLIEST_READING" in errors[0][2]
    assert check([energy(-2_000_001_600)]) == [(0, "start", NO_INSTALLATION_TIME.reason)]
