"""The report's tables, as every format prints them: which fields, in which order, under which
machine id and unit (docs/reporting.md, "Formats"), and a field's value as
machine text (CSV), as a typed cell (XLSX) or as shown text (PDF). Pure: content in, values out.

Figure fields are app/pure/report.py's columns, so every format prints ``Column.value`` (exact)
or ``Column.shown`` of the same content field, and the verifier maps them back with
``Column.raw``."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from app.pure import report as rules
from app.pure.report import Column
from app.reports.render.labels import Labels

# key: the row's key (an integer id, or a string: the portfolio row, a month); code: a coded
# value printed by name; flags: {flag: days}; list: ids or names.
Kind = Literal["key", "figure", "int", "decimal", "text", "code", "flags", "list"]
Cell = int | Decimal | str | None


@dataclass(frozen=True)
class Field:
    id: str
    kind: Kind = "text"
    unit: str | None = None
    column: Column | None = None
    places: int = 0  # decimals shown of a ``decimal`` field
    label: str | None = None  # label key when the column id's label does not fit the table

    @property
    def source(self) -> str:
        """The content field it prints."""
        return self.column.key if self.column is not None else self.id

    def machine_header(self, currency: str) -> str:
        """``id [unit]``, as the CSV machine header and the XLSX's second row spell it."""
        unit = currency if self.unit == "currency" else self.unit
        return f"{self.id} [{unit}]" if unit else self.id

    def header(self, labels: Labels, currency: str) -> str:
        return labels.header(self.label or self.id, self.unit, currency)

    def value(self, row: Mapping[str, Any]) -> Any:
        """The field's value: figures as ``Column.value`` (exact Decimal), decimals as Decimal,
        the rest as in the content (None stays None)."""
        raw = row.get(self.source)
        if raw is None:
            return None
        if self.column is not None:
            return self.column.value(raw)
        if self.kind == "decimal":
            return Decimal(raw)
        return raw


def figure(column: Column, label: str | None = None) -> Field:
    return Field(column.id, "figure", column.unit, column, column.places, label)


@dataclass(frozen=True)
class Table:
    name: str
    fields: tuple[Field, ...]
    rows: Sequence[Mapping[str, Any]]


MEGA = rules.MEGA
MONTHLY_COLUMNS = (
    Column("metered_mwh", "metered_wh", "MWh", MEGA, 3),
    Column("benchmark_mwh", "benchmark_wh", "MWh", MEGA, 3),
    Column("energy_savings_mwh", "energy_savings_wh", "MWh", MEGA, 3),
    Column("generation_mwh", "generation_wh", "MWh", MEGA, 3),
    Column("co2_avoided_t", "co2_avoided_g", "t-CO2", MEGA, 3),
    Column("attributed_co2_avoided_t", "attributed_co2_avoided_g", "t-CO2", MEGA, 3),
    Column("cumulative_co2_avoided_t", "cumulative_co2_avoided_g", "t-CO2", MEGA, 3),
)
MONTHLY_LABELS = {
    "metered_mwh": "monthly_metered_mwh",
    "benchmark_mwh": "monthly_benchmark_mwh",
    "energy_savings_mwh": "monthly_energy_savings_mwh",
    "generation_mwh": "monthly_generation_mwh",
    "co2_avoided_t": "monthly_co2_avoided_t",
    "attributed_co2_avoided_t": "monthly_attributed_co2_avoided_t",
}

ALLOCATION_FIELDS = (
    Field("asset_id", "key"),
    Field("asset_code"),
    Field("project_name"),
    Field("eligible_category", "code"),
    *(figure(c) for c in rules.ALLOCATION_COLUMNS),
    Field("financing_type", "code"),
    Field("lookback_years", "int", "years"),
    Field("allocated_on"),
    Field("progress", "code"),
    Field("commissioning_date"),
    Field("location"),
    Field("description"),
    Field("allocation_id", "int"),
)
IMPACT_FIELDS = (
    Field("asset_id", "key"),
    Field("asset_code"),
    Field("project_name"),
    Field("eligible_category", "code"),
    *(figure(c) for c in rules.IMPACT_COLUMNS),
    Field("provisional_days", "int", "days"),
    Field("flags", "flags"),
    Field("methods", "list"),
    Field("emission_factor_ids", "list"),
)
MONTHLY_FIELDS = (
    Field("month", "key"),
    *(figure(c, MONTHLY_LABELS.get(c.id)) for c in MONTHLY_COLUMNS),
)
FACTOR_FIELDS = (
    Field("id", "key"),
    Field("region"),
    Field("kind"),
    Field("kg_co2_per_kwh", "decimal", "kg-CO2/kWh", places=6),
    Field("valid_from"),
    Field("valid_to"),
    Field("publisher"),
    Field("document"),
    Field("published_on"),
    Field("source_url"),
)
# The allocation totals (a key / value table): amounts in the bond's currency, shares as ratios.
AMOUNT = rules.ALLOCATION_COLUMNS[0]
TOTAL_FIELDS = (
    Field("proceeds", "decimal", "currency", places=AMOUNT.places),
    Field("allocated", "decimal", "currency", places=AMOUNT.places),
    Field("unallocated", "decimal", "currency", places=AMOUNT.places),
    Field("allocated_share", "decimal", "ratio", places=4),
    Field("refinancing_share", "decimal", "ratio", places=4),
    Field("unallocated_held_as"),
)


def portfolio_row(impact: Mapping[str, Any]) -> dict[str, Any]:
    """The impact table's last row: the content's portfolio figures under the portfolio key,
    with the projects' provisional days and flag days added up."""
    flags: dict[str, int] = {}
    for project in impact["projects"]:
        for flag, days in project["flags"].items():
            flags[flag] = flags.get(flag, 0) + days
    return {
        **impact["portfolio"],
        "asset_id": rules.PORTFOLIO_KEY,
        "provisional_days": sum(p["provisional_days"] for p in impact["projects"]),
        "flags": dict(sorted(flags.items())),
    }


def figure_tables(content: Mapping[str, Any]) -> dict[str, Table]:
    """The tables with a key column, by name, in the order the CSV prints them."""
    impact = content["impact"]
    return {
        "allocation": Table("allocation", ALLOCATION_FIELDS, content["allocation"]["projects"]),
        "impact": Table("impact", IMPACT_FIELDS, [*impact["projects"], portfolio_row(impact)]),
        "monthly": Table("monthly", MONTHLY_FIELDS, impact["monthly"]),
        "emission_factors": Table("emission_factors", FACTOR_FIELDS, impact["emission_factors"]),
    }


def identification(content: Mapping[str, Any], content_sha256: str) -> dict[str, str | int]:
    """The fields every format carries to name the report leaf it belongs to."""
    return {
        "content_sha256": content_sha256,
        "bond_id": content["bond"]["id"],
        "period_start": content["period"]["start"],
        "period_end": content["period"]["end"],
        "checkpoint_number": content["checkpoint"]["number"],
        "checkpoint_tree_size": content["checkpoint"]["tree_size"],
    }


CHECKPOINT_KEYS = (
    "root_hex",
    "chain_id",
    "contract_address",
    "tx_hash",
    "block_number",
    "closes_at",
    "methodology_hash_hex",
)


def evidence_items(content: Mapping[str, Any], content_sha256: str) -> list[tuple[str, Any]]:
    """Key / value pairs of the evidence: identification, the checkpoint as anchored, and the
    links to each project's proofs (content.evidence)."""
    cp = content["checkpoint"]
    return [
        *identification(content, content_sha256).items(),
        ("format", content["format"]),
        ("status", content["status"]),
        ("bond_code", content["bond"]["code"]),
        ("period_kind", content["period"]["kind"]),
        ("period_label", content["period"]["label"]),
        ("counted_from", content["period"]["counted_from"]),
        *((key, cp[key]) for key in CHECKPOINT_KEYS),
        *((k, v) for k, v in content["evidence"].items() if k != "checkpoint_number"),
    ]


def plain(value: Decimal) -> str:
    """A decimal as plain text: no exponent, no thousands separator, every digit kept."""
    return format(value, "f")


def machine_text(field: Field, row: Mapping[str, Any]) -> str:
    """The CSV's cell: exact values, codes as codes (the same in every language)."""
    value = field.value(row)
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return plain(value)
    if field.kind == "flags":
        return ";".join(f"{flag}={days}" for flag, days in value.items())
    if field.kind == "list":
        return ";".join(str(item) for item in value)
    return str(value)


def shown(field: Field, row: Mapping[str, Any], labels: Labels) -> str:
    """The PDF's text: figures as ``Column.shown``, codes by their localized name."""
    if field.column is not None:
        return field.column.shown(row.get(field.source))
    value = field.value(row)
    if value is None:
        return "-"
    if isinstance(value, Decimal):
        return f"{value:,.{field.places}f}"
    return localized(field, value, labels)


def localized(field: Field, value: Any, labels: Labels) -> str:
    if field.kind == "code":
        return labels.code(field.id, value)
    if field.kind == "flags":
        return ", ".join(f"{labels.code('flag', flag)} {days}" for flag, days in value.items())
    if field.kind == "list":
        return ", ".join(str(item) for item in value)
    return str(value)


def typed(field: Field, row: Mapping[str, Any], labels: Labels) -> Cell:
    """The XLSX's cell: numbers as numbers (exact Decimal), codes by their localized name."""
    value = field.value(row)
    if value is None or isinstance(value, int | Decimal):
        return value
    return localized(field, value, labels) or None


def report_title(content: Mapping[str, Any], labels: Labels) -> str:
    bond = content["bond"]
    return f"{labels('title')} — {bond['name']} ({bond['code']}) {content['period']['label']}"
