"""Historical files an issuer imports (docs/ingest-signing.md, "Historical imports"): CSV of
intervals, CSV of billing periods, Green Button (NAESB ESPI Atom feed); their parsing and the
rules their rows must satisfy, and the Green Button export. Pure: no I/O, no clock.

Every problem names where it is: ``line N`` of a CSV file (the header is line 1) or the
XPath-like path of an XML element (``/feed/entry[2]/content/IntervalBlock/IntervalReading[5]``,
positions counted from 1 among siblings of the same name).
"""

import csv
import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from itertools import pairwise

ATOM = "http://www.w3.org/2005/Atom"
ESPI = "http://naesb.org/espi"
ESPI_UOM_WH = 72
# ESPI UnitMultiplierKind: the powers of ten a ReadingType may scale its values by.
ESPI_MULTIPLIERS = frozenset({-12, -9, -6, -3, -2, -1, 0, 1, 2, 3, 6, 9, 12})

INTERVALS_HEADER = ["start", "end", "value", "unit"]
BILLING_HEADER = ["period_start", "period_end", "kwh"]
# unit -> the factor to the stored integer unit, per value field
UNITS = {
    "energy_wh": {"Wh": Decimal(1), "kWh": Decimal(1000), "MWh": Decimal(1_000_000)},
    "temperature_centi_c": {"°C": Decimal(100), "centi-°C": Decimal(1)},
}
VALUE_LIMIT = 2**62  # the ingest API's bound: every value fits a signed 64-bit column
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_XML_INTEGER = re.compile(r"[+-]?\d{1,19}")


@dataclass(frozen=True)
class Problem:
    where: str  # "line 7" or an element path
    reason: str


class ImportFormatError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{p.where}: {p.reason}" for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class ImportedInterval:
    start_s: int
    end_s: int
    value: int  # in the meter's unit: energy_wh or temperature_centi_c
    where: str


@dataclass(frozen=True)
class ImportedBillRow:
    start: date
    end: date  # excluded: the next read date
    energy_wh: int
    where: str


@dataclass
class ImportedFile:
    format: str  # csv_intervals, csv_billing or green_button
    intervals: list[ImportedInterval] = field(default_factory=list)
    bills: list[ImportedBillRow] = field(default_factory=list)


def parse_import(body: bytes, media_type: str, value_field: str) -> ImportedFile:
    """The file's rows; ImportFormatError with every problem found. ``media_type``: text/csv
    (the header says which CSV), or application/xml, text/xml, application/atom+xml."""
    if media_type == "text/csv":
        return _parse_csv(_text(body), value_field)
    return _parse_green_button(body, value_field)


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ImportFormatError(
            [Problem("body", f"not UTF-8 text (byte {e.start}): send the CSV in UTF-8")]
        ) from None


# --- CSV ----------------------------------------------------------------------------------------


def _parse_csv(text: str, value_field: str) -> ImportedFile:
    rows = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(rows, None)
        if header is None or [h.strip() for h in header] not in (INTERVALS_HEADER, BILLING_HEADER):
            raise ImportFormatError(
                [
                    Problem(
                        "line 1",
                        f"header must be {','.join(INTERVALS_HEADER)} (intervals) or "
                        f"{','.join(BILLING_HEADER)} (billing periods)",
                    )
                ]
            )
        billing = [h.strip() for h in header] == BILLING_HEADER
        out = ImportedFile("csv_billing" if billing else "csv_intervals")
        problems: list[Problem] = []
        for row in rows:
            where = f"line {rows.line_num}"
            if not row or all(not cell.strip() for cell in row):
                continue
            try:
                if billing:
                    out.bills.append(_bill(row, where, value_field))
                else:
                    out.intervals.append(_interval(row, where, value_field))
            except ValueError as e:
                problems.append(Problem(where, str(e)))
    except csv.Error as e:
        raise ImportFormatError([Problem(f"line {rows.line_num}", f"not CSV: {e}")]) from None
    if not problems and not out.intervals and not out.bills:
        problems.append(Problem("line 2", "the file has no rows after its header"))
    if problems:
        raise ImportFormatError(problems)
    return out


def _interval(row: list[str], where: str, value_field: str) -> ImportedInterval:
    if len(row) != len(INTERVALS_HEADER):
        raise ValueError(f"{len(row)} fields, expected {len(INTERVALS_HEADER)}")
    start, end, value, unit = (cell.strip() for cell in row)
    factors = UNITS[value_field]
    if unit not in factors:
        raise ValueError(
            f"unit {unit!r} is not one of {', '.join(factors)} (this meter's readings are "
            f"{value_field})"
        )
    return ImportedInterval(
        _timestamp(start, "start"), _timestamp(end, "end"), _scaled(value, factors[unit]), where
    )


def _bill(row: list[str], where: str, value_field: str) -> ImportedBillRow:
    if value_field != "energy_wh":
        raise ValueError("billing periods are energy: this meter measures temperature")
    if len(row) != len(BILLING_HEADER):
        raise ValueError(f"{len(row)} fields, expected {len(BILLING_HEADER)}")
    start, end, kwh = (cell.strip() for cell in row)
    return ImportedBillRow(
        _day(start, "period_start"), _day(end, "period_end"), _scaled(kwh, Decimal(1000)), where
    )


def _timestamp(value: str, name: str) -> int:
    if not _RFC3339.fullmatch(value):
        raise ValueError(f"{name} {value!r} is not RFC 3339 like 2026-04-01T00:00:00Z")
    try:
        return int(datetime.fromisoformat(value).timestamp())
    except ValueError as e:
        raise ValueError(f"{name} {value!r}: {e}") from None


def _day(value: str, name: str) -> date:
    if not _DATE.fullmatch(value):
        raise ValueError(f"{name} {value!r} is not a date like 2026-04-01")
    try:
        return date.fromisoformat(value)
    except ValueError as e:
        raise ValueError(f"{name} {value!r}: {e}") from None


def _scaled(text: str, factor: Decimal) -> int:
    """``text`` times ``factor``, which must come out a whole number in range."""
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"value {text!r} is not a decimal number") from None
    if not number.is_finite():
        raise ValueError(f"value {text!r} is not a decimal number")
    scaled = number * factor
    if scaled != scaled.to_integral_value():
        raise ValueError(
            f"value {text!r} is finer than the stored unit (a whole number after x{factor})"
        )
    if abs(scaled) >= VALUE_LIMIT:
        raise ValueError(f"value {text!r} is out of range")
    return int(scaled)


# --- Green Button -------------------------------------------------------------------------------


def _tag(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _parse_green_button(body: bytes, value_field: str) -> ImportedFile:
    # Entities and DTDs have no place in a Green Button file and are how XML bombs work.
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise ImportFormatError([Problem("body", "a DOCTYPE or ENTITY declaration is refused")])
    try:
        root = ET.fromstring(body)
    except ET.ParseError as e:
        raise ImportFormatError([Problem("body", f"not well-formed XML: {e}")]) from None
    if root.tag != _tag(ATOM, "feed"):
        raise ImportFormatError(
            [Problem(f"/{_local(root.tag)}", "the root must be an Atom feed (ESPI batch)")]
        )
    if value_field != "energy_wh":
        raise ImportFormatError(
            [
                Problem(
                    "/feed",
                    "Green Button carries energy (uom 72): this meter measures " "temperature",
                )
            ]
        )
    problems: list[Problem] = []
    reading_types: list[tuple[str, ET.Element]] = []
    blocks: list[tuple[str, ET.Element]] = []
    for n, entry in enumerate(root.findall(_tag(ATOM, "entry")), start=1):
        content = entry.find(_tag(ATOM, "content"))
        if content is None:
            continue
        for resource in content:
            path = f"/feed/entry[{n}]/content/{_local(resource.tag)}"
            if resource.tag == _tag(ESPI, "ReadingType"):
                reading_types.append((path, resource))
            elif resource.tag == _tag(ESPI, "IntervalBlock"):
                blocks.append((path, resource))
            elif resource.tag == _tag(ESPI, "LocalTimeParameters"):
                tz = resource.find(_tag(ESPI, "tzOffset"))
                if tz is not None:
                    try:
                        _xml_int(tz, f"{path}/tzOffset")
                    except _ElementError as e:
                        problems.append(e.problem)
    if len(reading_types) != 1:
        problems.append(
            Problem("/feed", f"expected one ReadingType entry, found {len(reading_types)}")
        )
    if not blocks:
        problems.append(Problem("/feed", "no IntervalBlock entry: the file holds no readings"))
    if problems:
        raise ImportFormatError(problems)
    multiplier = _reading_type(*reading_types[0])
    out = ImportedFile("green_button")
    for path, block in blocks:
        counts: dict[str, int] = {}
        for child in block:
            if child.tag != _tag(ESPI, "IntervalReading"):
                continue
            counts["r"] = counts.get("r", 0) + 1
            where = f"{path}/IntervalReading[{counts['r']}]"
            try:
                out.intervals.append(_interval_reading(child, where, multiplier))
            except _ElementError as e:
                problems.append(e.problem)
        if not counts:
            problems.append(Problem(path, "no IntervalReading"))
    if problems:
        raise ImportFormatError(problems)
    return out


class _ElementError(Exception):
    def __init__(self, where: str, reason: str) -> None:
        super().__init__(reason)
        self.problem = Problem(where, reason)


def _child(element: ET.Element, name: str, where: str) -> ET.Element:
    child = element.find(_tag(ESPI, name))
    if child is None:
        raise _ElementError(f"{where}/{name}", "missing")
    return child


def _xml_int(element: ET.Element, where: str) -> int:
    text = (element.text or "").strip()
    if not _XML_INTEGER.fullmatch(text):
        raise _ElementError(where, f"{text!r} is not an integer")
    return int(text)


def _reading_type(path: str, reading_type: ET.Element) -> int:
    """The power of ten the values are scaled by; the unit must be Wh."""
    problems = []
    try:
        uom = _xml_int(_child(reading_type, "uom", path), f"{path}/uom")
        if uom != ESPI_UOM_WH:
            problems.append(Problem(f"{path}/uom", f"unit {uom} is not Wh (72)"))
    except _ElementError as e:
        problems.append(e.problem)
    multiplier = 0
    element = reading_type.find(_tag(ESPI, "powerOfTenMultiplier"))
    if element is not None:
        where = f"{path}/powerOfTenMultiplier"
        try:
            multiplier = _xml_int(element, where)
            if multiplier not in ESPI_MULTIPLIERS:
                problems.append(
                    Problem(
                        where,
                        f"{multiplier} is not an ESPI multiplier "
                        f"({', '.join(str(m) for m in sorted(ESPI_MULTIPLIERS))})",
                    )
                )
        except _ElementError as e:
            problems.append(e.problem)
    if problems:
        raise ImportFormatError(problems)
    return multiplier


def _interval_reading(reading: ET.Element, where: str, multiplier: int) -> ImportedInterval:
    period = _child(reading, "timePeriod", where)
    start = _xml_int(_child(period, "start", f"{where}/timePeriod"), f"{where}/timePeriod/start")
    duration_path = f"{where}/timePeriod/duration"
    duration = _xml_int(_child(period, "duration", f"{where}/timePeriod"), duration_path)
    raw = _xml_int(_child(reading, "value", where), f"{where}/value")
    try:
        value = _scaled(str(raw), Decimal(10) ** multiplier)
    except ValueError as e:
        raise _ElementError(f"{where}/value", str(e)) from None
    return ImportedInterval(start, start + duration, value, where)


# --- rules --------------------------------------------------------------------------------------


def interval_problems(
    intervals: Sequence[ImportedInterval],
    interval_s: int,
    floor_s: int,
    floor_reason: str,
    latest_start_s: int,
    energy: bool,
) -> list[Problem]:
    """Each interval is the meter's interval on its grid, not negative energy, not before the
    meter's floor nor in the future, and no two of the file overlap."""
    problems = []
    for r in intervals:
        if r.end_s - r.start_s != interval_s:
            problems.append(
                Problem(
                    r.where,
                    f"interval is {r.end_s - r.start_s} s; this meter's is " f"{interval_s} s",
                )
            )
        if r.start_s % interval_s:
            problems.append(
                Problem(r.where, f"start not aligned to the meter's {interval_s} s interval grid")
            )
        if energy and r.value < 0:
            problems.append(Problem(r.where, "energy must not be negative"))
        if r.start_s < floor_s:
            problems.append(Problem(r.where, f"start {floor_reason}"))
        elif r.start_s > latest_start_s:
            problems.append(Problem(r.where, "start is in the future"))
    by_start = sorted(intervals, key=lambda r: (r.start_s, r.end_s))
    for before, after in pairwise(by_start):
        if after.start_s == before.start_s:
            problems.append(
                Problem(after.where, f"duplicate interval: same start as {before.where}")
            )
        elif after.start_s < before.end_s:
            problems.append(Problem(after.where, f"overlaps the interval of {before.where}"))
    return problems


def bill_problems(bills: Sequence[ImportedBillRow], floor: date, latest_end: date) -> list[Problem]:
    """Each period is non-empty, not before the meter's floor nor in the future; the periods
    follow one another without overlapping (a gap between bills is allowed)."""
    problems = []
    for b in bills:
        if b.end <= b.start:
            problems.append(Problem(b.where, "period_end must be after period_start"))
        if b.energy_wh < 0:
            problems.append(Problem(b.where, "energy must not be negative"))
        if b.start < floor:
            problems.append(Problem(b.where, f"period_start is before {floor.isoformat()}"))
        if b.end > latest_end:
            problems.append(Problem(b.where, "period_end is in the future"))
    by_start = sorted(bills, key=lambda b: b.start)
    for before, after in pairwise(by_start):
        if after.start < before.end:
            problems.append(Problem(after.where, f"overlaps the period of {before.where}"))
    return problems


# --- export -------------------------------------------------------------------------------------


def render_green_button(
    meter_id: int,
    title: str,
    interval_s: int,
    tz_offset_s: int,
    readings: Sequence[tuple[int, int, int]],
    updated: datetime,
) -> bytes:
    """An ESPI Atom feed of ``(start s, end s, energy_wh)`` intervals: UsagePoint, MeterReading,
    ReadingType (uom 72 = Wh, powerOfTenMultiplier 0), one IntervalBlock, LocalTimeParameters
    (the site's standard offset, no DST rule)."""
    ET.register_namespace("", ATOM)
    ET.register_namespace("espi", ESPI)
    stamp = updated.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    base = f"urn:gbt:meter:{meter_id}"
    feed = ET.Element(_tag(ATOM, "feed"))
    ET.SubElement(feed, _tag(ATOM, "id")).text = f"{base}:feed"
    ET.SubElement(feed, _tag(ATOM, "title")).text = f"Green Button export of {title}"
    ET.SubElement(feed, _tag(ATOM, "updated")).text = stamp

    # Green Button relates the resources by Atom links, as the ESPI REST paths do: an entry's
    # "self" and "up" (its collection), and its parent's "related" links to those collections.
    usage_point_href = f"{base}/UsagePoint/1"
    meter_reading_href = f"{usage_point_href}/MeterReading/1"
    links = {
        "UsagePoint": (
            usage_point_href,
            [f"{usage_point_href}/MeterReading", f"{base}/LocalTimeParameters/1"],
        ),
        "MeterReading": (
            meter_reading_href,
            [f"{base}/ReadingType/1", f"{meter_reading_href}/IntervalBlock"],
        ),
        "ReadingType": (f"{base}/ReadingType/1", []),
        "IntervalBlock": (f"{meter_reading_href}/IntervalBlock/1", []),
        "LocalTimeParameters": (f"{base}/LocalTimeParameters/1", []),
    }

    def entry(name: str) -> ET.Element:
        e = ET.SubElement(feed, _tag(ATOM, "entry"))
        ET.SubElement(e, _tag(ATOM, "id")).text = f"{base}:{name}"
        self_href, related = links[name]
        ET.SubElement(e, _tag(ATOM, "link"), rel="self", href=self_href)
        ET.SubElement(e, _tag(ATOM, "link"), rel="up", href=self_href.rsplit("/", 1)[0])
        for href in related:
            ET.SubElement(e, _tag(ATOM, "link"), rel="related", href=href)
        ET.SubElement(e, _tag(ATOM, "title")).text = name
        ET.SubElement(e, _tag(ATOM, "updated")).text = stamp
        content = ET.SubElement(e, _tag(ATOM, "content"))
        return ET.SubElement(content, _tag(ESPI, name))

    def leaf(parent: ET.Element, name: str, value: int | str) -> None:
        ET.SubElement(parent, _tag(ESPI, name)).text = str(value)

    usage_point = entry("UsagePoint")
    service = ET.SubElement(usage_point, _tag(ESPI, "ServiceCategory"))
    leaf(service, "kind", 0)  # electricity
    entry("MeterReading")
    reading_type = entry("ReadingType")
    for name, value in (
        ("accumulationBehaviour", 4),  # delta data
        ("commodity", 1),  # electricity, secondary metered
        ("flowDirection", 1),  # forward
        ("intervalLength", interval_s),
        ("kind", 12),  # energy
        ("powerOfTenMultiplier", 0),
        ("uom", ESPI_UOM_WH),
    ):
        leaf(reading_type, name, value)
    block = entry("IntervalBlock")
    span = ET.SubElement(block, _tag(ESPI, "interval"))
    first = readings[0][0] if readings else 0
    last = readings[-1][1] if readings else 0
    leaf(span, "duration", last - first)
    leaf(span, "start", first)
    for start, end, energy_wh in readings:
        reading = ET.SubElement(block, _tag(ESPI, "IntervalReading"))
        period = ET.SubElement(reading, _tag(ESPI, "timePeriod"))
        leaf(period, "duration", end - start)
        leaf(period, "start", start)
        leaf(reading, "value", energy_wh)
    local = entry("LocalTimeParameters")
    # DstRuleType is 4 bytes of hex; all zero with a zero offset: no daylight saving time.
    leaf(local, "dstEndRule", "00000000")
    leaf(local, "dstOffset", 0)
    leaf(local, "dstStartRule", "00000000")
    leaf(local, "tzOffset", tz_offset_s)
    data: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return data
