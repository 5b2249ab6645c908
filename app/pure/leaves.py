"""What each kind of leaf holds: a typed, frozen record per kind, built from plain values,
with its builder (``encode``: the record to canonical bytes) and its parser (``parse``: a
decoded leaf to the record), shared by the service that writes the log and the verifier that
reads it. Pure: no I/O, no app imports but pure ones.

``Kind.parse(decode_leaf(record.encode())) == record``. A parser checks each field's JSON type
and raises ValueError naming the field (bytes can be canonical JSON and still not a well-formed
leaf of their kind). The canonical form and units: app/pure/encoding.py and docs/anchoring.md.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from app.pure.bond_terms import BondTerms
from app.pure.calc.factors import EmissionFactor
from app.pure.calc.results import FIGURES, OPTIONAL_FIGURES, PeriodResult
from app.pure.credit_leaves import CreditApprovalLeaf, CreditIssuanceLeaf, MonitoringReportLeaf
from app.pure.encoding import leaf
from app.pure.leaf_fields import LeafFields
from app.pure.signing import ValueKind

# A reading's value is under the key of its kind (the signed batch's value kinds).
VALUE_FIELDS = {
    "energy_wh": ValueKind.ENERGY_WH,
    "temperature_centi_c": ValueKind.TEMPERATURE_CENTI_C,
}


# --- reading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadingLeaf:
    """``start``/``end``: Unix seconds (UTC); ``value_field``: energy_wh or temperature_centi_c;
    ``batch_sha256_hex``: SHA-256 of the signed batch's canonical bytes (docs/ingest-signing.md),
    which ties the reading to the meter's signature. An imported reading (issuer-attested, not
    device-signed: docs/ingest-signing.md, "Historical imports") names its ``import_id``, has
    ``batch_sequence`` 0 and the imported file's SHA-256 as ``batch_sha256_hex``."""

    reading_id: int
    meter_id: int
    start: int
    end: int
    value_field: str
    value: int
    revision: int
    supersedes_reading_id: int | None
    batch_sequence: int
    batch_sha256_hex: str
    import_id: int | None = None

    @property
    def value_kind(self) -> ValueKind:
        return VALUE_FIELDS[self.value_field]

    def encode(self) -> bytes:
        if self.value_field not in VALUE_FIELDS:
            raise ValueError(f"unknown value field {self.value_field!r}")
        # import_id only on imported readings: device-signed leaves keep their bytes.
        imported = {} if self.import_id is None else {"import_id": self.import_id}
        return leaf(
            "reading",
            reading_id=self.reading_id,
            meter_id=self.meter_id,
            start=self.start,
            end=self.end,
            **{self.value_field: self.value},
            revision=self.revision,
            supersedes_reading_id=self.supersedes_reading_id,
            batch_sequence=self.batch_sequence,
            batch_sha256=self.batch_sha256_hex,
            **imported,
        )

    @classmethod
    def parse(cls, value: Mapping[str, Any]) -> "ReadingLeaf":
        f = LeafFields(value, "reading")
        present = [k for k in VALUE_FIELDS if k in value]
        if len(present) != 1:
            raise ValueError(f"reading leaf: needs exactly one of {', '.join(VALUE_FIELDS)}")
        return cls(
            reading_id=f.integer("reading_id"),
            meter_id=f.integer("meter_id"),
            start=f.integer("start"),
            end=f.integer("end"),
            value_field=present[0],
            value=f.integer(present[0]),
            revision=f.integer("revision"),
            supersedes_reading_id=f.optional_integer("supersedes_reading_id"),
            batch_sequence=f.integer("batch_sequence"),
            batch_sha256_hex=f.text("batch_sha256"),
            import_id=f.integer("import_id") if "import_id" in value else None,
        )


# --- meter_key and meter_revoked ----------------------------------------------------------------


@dataclass(frozen=True)
class MeterKeyLeaf:
    """A meter's registration: its asset, what it measures, its interval and its Ed25519 public
    key; ``registered_at`` and ``installed_at`` in Unix seconds."""

    meter_id: int
    asset_id: int
    device_id: str
    quantity: str
    interval_s: int
    public_key_hex: str
    registered_at: int
    installed_at: int | None

    def encode(self) -> bytes:
        # installed_at only when the meter has one: leaves of meters registered without it (all
        # of them before the field existed) keep the bytes they were logged with.
        installed = {} if self.installed_at is None else {"installed_at": self.installed_at}
        return leaf(
            "meter_key",
            meter_id=self.meter_id,
            asset_id=self.asset_id,
            device_id=self.device_id,
            quantity=self.quantity,
            interval_s=self.interval_s,
            public_key_hex=self.public_key_hex,
            registered_at=self.registered_at,
            **installed,
        )

    @classmethod
    def parse(cls, value: Mapping[str, Any]) -> "MeterKeyLeaf":
        f = LeafFields(value, "meter_key")
        return cls(
            meter_id=f.integer("meter_id"),
            asset_id=f.integer("asset_id"),
            device_id=f.text("device_id"),
            quantity=f.text("quantity"),
            interval_s=f.integer("interval_s"),
            public_key_hex=f.text("public_key_hex"),
            registered_at=f.integer("registered_at"),
            installed_at=f.integer("installed_at") if "installed_at" in value else None,
        )


@dataclass(frozen=True)
class MeterRevokedLeaf:
    """``revoked_at``: Unix seconds."""

    meter_id: int
    revoked_at: int

    def encode(self) -> bytes:
        return leaf("meter_revoked", meter_id=self.meter_id, revoked_at=self.revoked_at)

    @classmethod
    def parse(cls, value: Mapping[str, Any]) -> "MeterRevokedLeaf":
        f = LeafFields(value, "meter_revoked")
        return cls(meter_id=f.integer("meter_id"), revoked_at=f.integer("revoked_at"))


# --- emission_factor ----------------------------------------------------------------------------


@dataclass(frozen=True)
class EmissionFactorLeaf:
    """A version of a grid emission factor (what the calculation uses) and its source."""

    factor: EmissionFactor
    publisher: str
    document: str
    needs_verification: bool

    def encode(self) -> bytes:
        return leaf(
            "emission_factor",
            factor_id=self.factor.id,
            region=self.factor.region,
            kind=self.factor.kind,
            valid_from=self.factor.valid_from.isoformat(),
            valid_to=self.factor.valid_to.isoformat(),
            kg_co2_per_kwh=str(self.factor.kg_co2_per_kwh),
            publisher=self.publisher,
            document=self.document,
            published_on=self.factor.published_on.isoformat(),
            needs_verification=self.needs_verification,
        )

    @classmethod
    def parse(cls, value: Mapping[str, Any]) -> "EmissionFactorLeaf":
        f = LeafFields(value, "emission_factor")
        factor = EmissionFactor(
            id=f.integer("factor_id"),
            region=f.text("region"),
            kind=f.text("kind"),
            valid_from=f.day("valid_from"),
            valid_to=f.day("valid_to"),
            kg_co2_per_kwh=f.decimal("kg_co2_per_kwh"),
            published_on=f.day("published_on"),
        )
        return cls(
            factor=factor,
            publisher=f.text("publisher"),
            document=f.text("document"),
            needs_verification=f.boolean("needs_verification"),
        )


# --- allocation ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AllocationLeaf:
    """Proceeds of a bond allocated to an asset; ``financing_share`` drives attribution."""

    allocation_id: int
    bond_id: int
    bond_code: str
    bond_issue_date: date
    asset_id: int
    currency: str
    amount_allocated: Decimal
    financing_share: Decimal

    def encode(self) -> bytes:
        return leaf(
            "allocation",
            allocation_id=self.allocation_id,
            bond_id=self.bond_id,
            bond_code=self.bond_code,
            bond_issue_date=self.bond_issue_date.isoformat(),
            asset_id=self.asset_id,
            currency=self.currency,
            amount_allocated=str(self.amount_allocated),
            financing_share=str(self.financing_share),
        )

    @classmethod
    def parse(cls, value: Mapping[str, Any]) -> "AllocationLeaf":
        f = LeafFields(value, "allocation")
        return cls(
            allocation_id=f.integer("allocation_id"),
            bond_id=f.integer("bond_id"),
            bond_code=f.text("bond_code"),
            bond_issue_date=f.day("bond_issue_date"),
            asset_id=f.integer("asset_id"),
            currency=f.text("currency"),
            amount_allocated=f.decimal("amount_allocated"),
            financing_share=f.decimal("financing_share"),
        )


# --- benchmark_config ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchmarkConfigLeaf:
    """An asset's benchmark from ``effective_from`` on, with the asset facts its calculation
    needs (kind, floor area, time zone, grid region); ``params`` as the admin API stored them."""

    config_id: int
    asset_id: int
    asset_kind: str
    floor_area_m2: Decimal | None
    timezone: str
    grid_region: str
    effective_from: date
    method: str
    params: dict[str, Any]

    def encode(self) -> bytes:
        return leaf(
            "benchmark_config",
            config_id=self.config_id,
            asset_id=self.asset_id,
            asset_kind=self.asset_kind,
            floor_area_m2=None if self.floor_area_m2 is None else str(self.floor_area_m2),
            timezone=self.timezone,
            grid_region=self.grid_region,
            effective_from=self.effective_from.isoformat(),
            method=self.method,
            params=self.params,
        )

    @classmethod
    def parse(cls, value: Mapping[str, Any]) -> "BenchmarkConfigLeaf":
        f = LeafFields(value, "benchmark_config")
        return cls(
            config_id=f.integer("config_id"),
            asset_id=f.integer("asset_id"),
            asset_kind=f.text("asset_kind"),
            floor_area_m2=f.optional_decimal("floor_area_m2"),
            timezone=f.text("timezone"),
            grid_region=f.text("grid_region"),
            effective_from=f.day("effective_from"),
            method=f.text("method"),
            params=f.mapping("params"),
        )


# --- result -------------------------------------------------------------------------------------


def result_figures(result: PeriodResult) -> dict[str, Any]:
    """The result's figures (``FIGURES``) as a result leaf writes them: an ``OPTIONAL_FIGURES``
    one only when it is not null (docs/anchoring.md)."""
    figures = {
        name: getattr(result, name)
        for name in FIGURES
        if name not in OPTIONAL_FIGURES or getattr(result, name) is not None
    }
    return {**figures, "flags": list(result.flags), "factor_ids": list(result.factor_ids)}


@dataclass(frozen=True)
class ResultLeaf:
    """A final day or month result of an asset (only final results enter the log), the revision
    it is and supersedes, and the benchmark configuration, baseline fit and factors behind it."""

    result_id: int
    asset_id: int
    revision: int
    supersedes_result_id: int | None
    config_id: int
    baseline_fit_id: int | None
    result: PeriodResult

    def encode(self) -> bytes:
        return leaf(
            "result",
            result_id=self.result_id,
            asset_id=self.asset_id,
            period=self.result.period,
            period_start=self.result.period_start.isoformat(),
            revision=self.revision,
            supersedes_result_id=self.supersedes_result_id,
            **result_figures(self.result),
            config_id=self.config_id,
            baseline_fit_id=self.baseline_fit_id,
        )

    @classmethod
    def parse(cls, value: Mapping[str, Any]) -> "ResultLeaf":
        f = LeafFields(value, "result")
        result = PeriodResult(
            period=f.text("period"),
            period_start=f.day("period_start"),
            metered_wh=f.integer("metered_wh"),
            benchmark_wh=f.optional_integer("benchmark_wh"),
            reduction_wh=f.optional_integer("reduction_wh"),
            co2_avoided_g=f.optional_integer("co2_avoided_g"),
            intervals_present=f.integer("intervals_present"),
            intervals_expected=f.integer("intervals_expected"),
            flags=f.texts("flags"),
            method=f.text("method"),
            method_version=f.text("method_version"),
            factor_ids=f.integers("factor_ids"),
            final=True,
            **{name: f.integer(name) for name in OPTIONAL_FIGURES if name in value},
        )
        return cls(
            result_id=f.integer("result_id"),
            asset_id=f.integer("asset_id"),
            revision=f.integer("revision"),
            supersedes_result_id=f.optional_integer("supersedes_result_id"),
            config_id=f.integer("config_id"),
            baseline_fit_id=f.optional_integer("baseline_fit_id"),
            result=result,
        )


# --- bond_token ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BondTokenLeaf:
    """A bond's GreenBondToken deployment: where it is (chain, contract, the deploying
    transaction and its block), what it links to (the PersonalInfo register, the ImpactRegistry
    and the bond's id there), its issuer, its initial supply and its terms (dates as ISO
    strings). Not part of any figure: it puts the token in the evidence chain."""

    token_id: int
    bond_id: int
    bond_code: str
    chain_id: int
    contract_address: str
    personal_info_address: str
    impact_registry_address: str
    issuer_address: str
    deploy_tx_hash: str
    deployed_block: int
    initial_supply: int
    terms: BondTerms

    def encode(self) -> bytes:
        t = self.terms
        return leaf(
            "bond_token",
            token_id=self.token_id,
            bond_id=self.bond_id,
            bond_code=self.bond_code,
            chain_id=self.chain_id,
            contract_address=self.contract_address,
            personal_info_address=self.personal_info_address,
            impact_registry_address=self.impact_registry_address,
            issuer_address=self.issuer_address,
            deploy_tx_hash=self.deploy_tx_hash,
            deployed_block=self.deployed_block,
            initial_supply=self.initial_supply,
            name=t.name,
            symbol=t.symbol,
            face_value=t.face_value,
            currency=t.currency,
            interest_rate=t.interest_rate,
            interest_payment_dates=[d.isoformat() for d in t.interest_payment_dates],
            redemption_date=t.redemption_date.isoformat(),
            redemption_value=t.redemption_value,
            purpose=t.purpose,
        )

    @classmethod
    def parse(cls, value: Mapping[str, Any]) -> "BondTokenLeaf":
        f = LeafFields(value, "bond_token")
        try:
            dates = tuple(date.fromisoformat(d) for d in f.texts("interest_payment_dates"))
        except ValueError as e:
            raise ValueError(f"bond_token leaf: 'interest_payment_dates': {e}") from e
        terms = BondTerms(
            name=f.text("name"),
            symbol=f.text("symbol"),
            face_value=f.integer("face_value"),
            currency=f.text("currency"),
            interest_rate=f.integer("interest_rate"),
            interest_payment_dates=dates,
            redemption_date=f.day("redemption_date"),
            redemption_value=f.integer("redemption_value"),
            purpose=f.text("purpose"),
        )
        return cls(
            token_id=f.integer("token_id"),
            bond_id=f.integer("bond_id"),
            bond_code=f.text("bond_code"),
            chain_id=f.integer("chain_id"),
            contract_address=f.text("contract_address"),
            personal_info_address=f.text("personal_info_address"),
            impact_registry_address=f.text("impact_registry_address"),
            issuer_address=f.text("issuer_address"),
            deploy_tx_hash=f.text("deploy_tx_hash"),
            deployed_block=f.integer("deployed_block"),
            initial_supply=f.integer("initial_supply"),
            terms=terms,
        )


# --- report -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportLeaf:
    """A bond's green bond report for a closed period, as published: the SHA-256 of its canonical
    JSON content (app/pure/report.py) and what it rests on (the checkpoint it cites). Every
    format of the report embeds that hash, so a downloaded file can be traced to this leaf."""

    report_id: int
    bond_id: int
    period_kind: str
    period_start: date
    period_end: date
    checkpoint_number: int
    checkpoint_tree_size: int
    content_sha256_hex: str

    def encode(self) -> bytes:
        return leaf(
            "report",
            report_id=self.report_id,
            bond_id=self.bond_id,
            period_kind=self.period_kind,
            period_start=self.period_start.isoformat(),
            period_end=self.period_end.isoformat(),
            checkpoint_number=self.checkpoint_number,
            checkpoint_tree_size=self.checkpoint_tree_size,
            content_sha256=self.content_sha256_hex,
        )

    @classmethod
    def parse(cls, value: Mapping[str, Any]) -> "ReportLeaf":
        f = LeafFields(value, "report")
        return cls(
            report_id=f.integer("report_id"),
            bond_id=f.integer("bond_id"),
            period_kind=f.text("period_kind"),
            period_start=f.day("period_start"),
            period_end=f.day("period_end"),
            checkpoint_number=f.integer("checkpoint_number"),
            checkpoint_tree_size=f.integer("checkpoint_tree_size"),
            content_sha256_hex=f.text("content_sha256"),
        )


# --- import -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportedBill:
    """One billing period of an imported bill file: ``start`` included, ``end`` excluded."""

    start: date
    end: date
    energy_wh: int


@dataclass(frozen=True)
class ImportLeaf:
    """A historical import, attested by the issuer (not signed by a device): the file's SHA-256,
    its format, who imported it (the admin credential, and the person the ``X-Imported-By``
    header named, or null) and when (Unix seconds), the meter, how many rows it stored
    (readings naming it, or billing periods), the span of the file (``first_start`` included,
    ``last_end`` excluded, Unix seconds) and, for a bill file, its billing periods (a year is
    12 of them: carried here rather than as leaves of their own)."""

    import_id: int
    meter_id: int
    sha256_hex: str
    format: str
    imported_by: str
    imported_by_person: str | None
    imported_at: int
    row_count: int
    first_start: int
    last_end: int
    bills: tuple[ImportedBill, ...]

    def encode(self) -> bytes:
        return leaf(
            "import",
            import_id=self.import_id,
            meter_id=self.meter_id,
            sha256=self.sha256_hex,
            format=self.format,
            imported_by=self.imported_by,
            imported_by_person=self.imported_by_person,
            imported_at=self.imported_at,
            row_count=self.row_count,
            first_start=self.first_start,
            last_end=self.last_end,
            billing_periods=[
                {"start": b.start.isoformat(), "end": b.end.isoformat(), "energy_wh": b.energy_wh}
                for b in self.bills
            ],
        )

    @classmethod
    def parse(cls, value: Mapping[str, Any]) -> "ImportLeaf":
        f = LeafFields(value, "import")
        periods = value.get("billing_periods")
        if not isinstance(periods, list):
            raise ValueError("import leaf: 'billing_periods' must be a list")
        bills = []
        for i, period in enumerate(periods):
            # A period is an object without a "type": read through LeafFields as one.
            if not isinstance(period, dict):
                raise ValueError(f"import leaf: billing_periods[{i}] must be an object")
            p = LeafFields({**period, "type": "import"}, "import")
            bills.append(ImportedBill(p.day("start"), p.day("end"), p.integer("energy_wh")))
        return cls(
            import_id=f.integer("import_id"),
            meter_id=f.integer("meter_id"),
            sha256_hex=f.text("sha256"),
            format=f.text("format"),
            imported_by=f.text("imported_by"),
            imported_by_person=None
            if value.get("imported_by_person", "") is None
            else f.text("imported_by_person"),
            imported_at=f.integer("imported_at"),
            row_count=f.integer("row_count"),
            first_start=f.integer("first_start"),
            last_end=f.integer("last_end"),
            bills=tuple(bills),
        )


# --- any kind -----------------------------------------------------------------------------------

Leaf = (
    ReadingLeaf
    | MeterKeyLeaf
    | MeterRevokedLeaf
    | EmissionFactorLeaf
    | AllocationLeaf
    | BenchmarkConfigLeaf
    | ResultLeaf
    | BondTokenLeaf
    | ReportLeaf
    | ImportLeaf
    | MonitoringReportLeaf
    | CreditApprovalLeaf
    | CreditIssuanceLeaf
)
PARSERS: dict[str, Callable[[Mapping[str, Any]], Leaf]] = {
    "reading": ReadingLeaf.parse,
    "result": ResultLeaf.parse,
    "meter_key": MeterKeyLeaf.parse,
    "meter_revoked": MeterRevokedLeaf.parse,
    "allocation": AllocationLeaf.parse,
    "emission_factor": EmissionFactorLeaf.parse,
    "benchmark_config": BenchmarkConfigLeaf.parse,
    "bond_token": BondTokenLeaf.parse,
    "report": ReportLeaf.parse,
    "import": ImportLeaf.parse,
    "monitoring_report": MonitoringReportLeaf.parse,
    "credit_approval": CreditApprovalLeaf.parse,
    "credit_issuance": CreditIssuanceLeaf.parse,
}


def parse_leaf(value: Mapping[str, Any]) -> Leaf:
    """The record of a decoded leaf of any kind."""
    kind = value.get("type")
    if kind not in PARSERS:
        raise ValueError(f"unknown leaf type {kind!r}")
    return PARSERS[kind](value)
