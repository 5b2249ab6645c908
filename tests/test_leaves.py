"""Each kind of leaf (app/pure/leaves.py) read back as written, and malformed leaves refused;
the lines of the log export (app/pure/audit_formats.py) likewise. Pure."""

import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from app.pure.audit_formats import (
    ExportCheckpoint,
    ExportLeaf,
    checkpoint_line,
    leaf_line,
    parse_line,
)
from app.pure.bond_terms import BondTerms
from app.pure.calc.factors import EmissionFactor
from app.pure.calc.results import PeriodResult
from app.pure.credit_leaves import CreditApprovalLeaf, CreditIssuanceLeaf, MonitoringReportLeaf
from app.pure.encoding import LEAF_TYPES, decode_leaf
from app.pure.leaves import (
    PARSERS,
    AllocationLeaf,
    BenchmarkConfigLeaf,
    BondTokenLeaf,
    EmissionFactorLeaf,
    ImportedBill,
    ImportLeaf,
    Leaf,
    MeterKeyLeaf,
    MeterRevokedLeaf,
    ReadingLeaf,
    ReportLeaf,
    ResultLeaf,
    parse_leaf,
)

RECORDS: list[Leaf] = [
    ReadingLeaf(1, 7, 1_775_001_600, 1_775_003_400, "energy_wh", 5230, 0, None, 42, "ab" * 32),
    ReadingLeaf(2, 8, 1_775_001_600, 1_775_003_400, "temperature_centi_c", -150, 1, 1, 3, "cd"),
    MeterKeyLeaf(7, 1, "tky-lab-01-main", "consumption", 1800, "d7" * 32, 1_774_915_200, None),
    MeterKeyLeaf(8, 1, "tky-lab-01-temp", "outdoor_temperature", 1800, "e1" * 32, 1, 0),
    MeterRevokedLeaf(7, 1_775_000_000),
    EmissionFactorLeaf(
        EmissionFactor(
            6,
            "JP-TEPCO",
            "location_grid_average",
            date(2025, 4, 1),
            date(2026, 4, 1),
            Decimal("0.000441"),
            date(2025, 1, 10),
        ),
        publisher="MOE Japan",
        document="R6 emission factors",
        needs_verification=False,
    ),
    AllocationLeaf(3, 1, "GB-1", date(2026, 1, 1), 1, "JPY", Decimal("100000000"), Decimal("0.6")),
    BenchmarkConfigLeaf(
        3,
        1,
        "building",
        Decimal("5000.50"),
        "Asia/Tokyo",
        "JP-TEPCO",
        date(2026, 1, 1),
        "baseline",
        {"baseline_start": "2025-01-01", "temperature_meter_id": 8},
    ),
    BenchmarkConfigLeaf(
        4, 2, "renewable_facility", None, "UTC", "JP", date(2026, 1, 1), "generation", {}
    ),
    ResultLeaf(
        12,
        1,
        1,
        11,
        3,
        None,
        PeriodResult(
            "day",
            date(2026, 4, 1),
            240150,
            506849,
            266699,
            112814,
            46,
            48,
            ("corrected_data", "gaps"),
            "intensity",
            "intensity/1",
            (6,),
            final=True,
        ),
    ),
    ResultLeaf(
        13,
        1,
        0,
        None,
        3,
        5,
        PeriodResult(
            "month",
            date(2026, 4, 1),
            10,
            None,
            None,
            None,
            0,
            1440,
            (),
            "baseline",
            "b/1",
            (),
            True,
        ),
    ),
    ReadingLeaf(
        3, 7, 1_775_001_600, 1_775_003_400, "energy_wh", 10, 0, None, 0, "ef" * 32, import_id=4
    ),
    ImportLeaf(4, 7, "ef" * 32, "csv_intervals", "admin", None, 1_775_100_000, 1, 0, 1800, ()),
    ImportLeaf(
        5,
        7,
        "aa" * 32,
        "csv_billing",
        "admin",
        "佐藤 花子",
        1_775_100_000,
        1,
        1_735_689_600,
        1_738_368_000,
        (ImportedBill(date(2025, 1, 1), date(2025, 2, 1), 1_000_500),),
    ),
    BondTokenLeaf(
        1,
        1,
        "GB-1",
        31337,
        "0x5FbDB2315678afecb367f032d93F642f64180aa3",
        "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
        "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0",
        "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
        "0x" + "ab" * 32,
        12,
        0,
        BondTerms(
            "Tokyo Green Retrofit Bond 2030 \u6771\u4eac",
            "TGRB30",
            1_000_000,
            "JPY",
            12_500,
            (date(2026, 3, 31), date(2026, 9, 30)),
            date(2030, 3, 31),
            1_000_000,
            "Energy efficiency retrofits",
        ),
    ),
    ReportLeaf(3, 1, "fiscal_year", date(2025, 4, 1), date(2026, 3, 31), 4, 1234, "cd" * 32),
]


# The carbon credit workflow's leaves (app/pure/credit_leaves.py).
CREDIT_RECORDS: list[Leaf] = [
    MonitoringReportLeaf(
        5,
        2,
        "JCL-0001",
        7,
        "EN-R-002",
        date(2026, 1, 1),
        date(2026, 1, 31),
        3,
        900,
        "ab" * 32,
        5_378_962,
        5,
    ),
    CreditApprovalLeaf(
        6,
        5,
        "ab" * 32,
        2,
        7,
        date(2026, 1, 1),
        date(2026, 1, 31),
        5,
        "approved",
        "verifier \u691c\u8a3c",
        "12" * 32,
        "site visit",
        1_775_100_000,
    ),
    CreditIssuanceLeaf(
        8,
        31337,
        "0x5FbDB2315678afecb367f032d93F642f64180aa3",
        0,
        (2 << 16) | 2026,
        2,
        7,
        2026,
        date(2026, 1, 1),
        date(2026, 1, 31),
        5,
        1,
        5,
        "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
        4,
        5,
        "ab" * 32,
        "34" * 32,
        5_378_962,
        "0x" + "56" * 32,
        42,
    ),
]


@pytest.mark.parametrize("record", RECORDS + CREDIT_RECORDS, ids=lambda r: type(r).__name__)
def test_each_kind_reads_back_as_written(record: Leaf) -> None:
    data = record.encode()
    assert parse_leaf(decode_leaf(data)) == record
    assert type(record).parse(json.loads(data)) == record


def test_every_leaf_kind_has_a_parser_and_is_tested() -> None:
    assert sorted(PARSERS) == sorted(LEAF_TYPES)
    assert {_fields(r)["type"] for r in RECORDS + CREDIT_RECORDS} == set(LEAF_TYPES)


def _fields(record: Leaf) -> dict[str, Any]:
    fields: dict[str, Any] = json.loads(record.encode())
    return fields


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"meter_id": "7"}, "'meter_id' must be of JSON type int"),
        ({"revision": True}, "'revision' must be of JSON type int"),
        ({"batch_sha256": None}, "'batch_sha256' must be of JSON type str"),
        ({"temperature_centi_c": 5}, "needs exactly one of energy_wh, temperature_centi_c"),
        ({"type": "result"}, "not a reading leaf"),
    ],
)
def test_a_malformed_reading_is_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ReadingLeaf.parse(_fields(RECORDS[0]) | change)


def test_malformed_fields_of_other_kinds_are_refused() -> None:
    result = _fields(RECORDS[9])
    with pytest.raises(ValueError, match="result leaf: missing 'metered_wh'"):
        ResultLeaf.parse({k: v for k, v in result.items() if k != "metered_wh"})
    with pytest.raises(ValueError, match="'flags' must be a list of strings"):
        ResultLeaf.parse(result | {"flags": [1]})
    with pytest.raises(ValueError, match="'period_start'"):
        ResultLeaf.parse(result | {"period_start": "April"})
    with pytest.raises(ValueError, match="'financing_share' is not a decimal"):
        AllocationLeaf.parse(_fields(RECORDS[6]) | {"financing_share": "sixty percent"})
    token = _fields(RECORDS[-2])
    with pytest.raises(ValueError, match="'interest_payment_dates': day is out of range"):
        BondTokenLeaf.parse(token | {"interest_payment_dates": ["2026-02-30"]})
    with pytest.raises(ValueError, match="bond_token leaf: 'initial_supply' must be of JSON"):
        BondTokenLeaf.parse(token | {"initial_supply": "0"})
    report = _fields(RECORDS[-1])
    with pytest.raises(ValueError, match="report leaf: 'checkpoint_tree_size' must be of JSON"):
        ReportLeaf.parse(report | {"checkpoint_tree_size": "1234"})
    with pytest.raises(ValueError, match="report leaf: 'period_end'"):
        ReportLeaf.parse(report | {"period_end": "March"})
    with pytest.raises(ValueError, match="unknown leaf type 'batch'"):
        parse_leaf({"type": "batch"})


def test_export_lines_read_back_as_written() -> None:
    checkpoint = {
        "number": 3,
        "tree_size": 1200,
        "root_hex": "11" * 32,
        "chain_id": 31337,
        "contract_address": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
        "tx_hash": "0x" + "22" * 32,
        "block_number": 12,
    }
    assert parse_line(leaf_line(5, b"{}")) == ExportLeaf(5, b"{}")
    assert parse_line(checkpoint_line(checkpoint)) == ExportCheckpoint(
        3, 1200, b"\x11" * 32, 31337, checkpoint["contract_address"]
    )
    assert leaf_line(5, b"{}") == '{"leaf_index": 5, "leaf_hex": "7b7d"}'


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not JSON"),
        ("[1]", "expected an object"),
        ('{"leaf_index": "5", "leaf_hex": "00"}', "'leaf_index' must be an integer"),
        ('{"leaf_index": 5, "leaf_hex": "0g"}', "leaf_hex must be hex"),
        ('{"checkpoint": []}', "checkpoint must be an object"),
        ('{"checkpoint": {"root_hex": "00"}}', "contract_address is not an Ethereum address"),
        ('{"checkpoint": {"contract_address": "0x", "root_hex": "00"}}', "root_hex must be 32"),
    ],
)
def test_malformed_export_lines_say_what_is_wrong(line: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_line(line)


def test_only_imported_readings_carry_import_id() -> None:
    """Device-signed reading leaves keep the bytes they had before imports existed."""
    assert b"import_id" not in RECORDS[0].encode()
    assert _fields(RECORDS[-5])["import_id"] == 4
