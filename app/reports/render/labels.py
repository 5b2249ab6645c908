"""The report's words in English and Japanese: column labels, units, headings, the names of coded
values. English follows the ICMA Harmonised Framework for Impact Reporting; Japanese follows the
layout of the Ministry of the Environment's green bond guidelines (事業区分, 具体的事業, 事業概要,
進捗状況, 充当額, 環境改善効果). docs/reporting.md gives each column's definition.

The emission figures stay in t-CO2 in both languages: the grid factors the report applies are
CO2-only (kg-CO2/kWh), so a t-CO2e unit would claim gases that were not counted."""

# Japanese typography uses full-width brackets and colons: they are meant here, not look-alikes.
# ruff: noqa: RUF001

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

Lang = Literal["en", "ja"]
LANGS: tuple[Lang, ...] = get_args(Lang)

EN: dict[str, str] = {
    # --- columns (col.<id>) ---
    "col.asset_id": "Asset ID",
    "col.asset_code": "Project code",
    "col.project_name": "Project",
    "col.eligible_category": "Eligible category",
    "col.amount_allocated": "Amount allocated",
    "col.financing_share": "Share of financing",
    "col.project_cost": "Total project cost",
    "col.financing_type": "Financing/Refinancing",
    "col.lookback_years": "Look-back period",
    "col.allocated_on": "Allocation date",
    "col.progress": "Project status",
    "col.commissioning_date": "Commissioning date",
    "col.location": "Location",
    "col.description": "Description",
    "col.allocation_id": "Allocation ID",
    "col.metered_mwh": "Metered energy",
    "col.benchmark_mwh": "Benchmark energy use",
    "col.energy_savings_mwh": "Metered annual energy savings",
    "col.generation_mwh": "Metered annual renewable generation",
    "col.co2_avoided_t": "Metered annual GHG emissions reduced/avoided",
    "col.attributed_energy_savings_mwh": "Annual energy savings attributed to the bond",
    "col.attributed_generation_mwh": "Annual renewable generation attributed to the bond",
    "col.attributed_co2_avoided_t": "Annual GHG emissions reduced/avoided attributed to the bond",
    "col.credited_co2_avoided_t": "Of which issued as carbon credits",
    "col.claimable_co2_avoided_t": "GHG emissions reduced/avoided still claimable by the bond",
    "col.savings_uncertainty_68_mwh": "Savings uncertainty 68%",
    "col.savings_uncertainty_90_mwh": "Savings uncertainty 90%",
    "col.attributed_savings_uncertainty_68_mwh": "Savings uncertainty attributed to the bond 68%",
    "col.attributed_savings_uncertainty_90_mwh": "Savings uncertainty attributed to the bond 90%",
    "col.days_reported": "Days reported",
    "col.days_expected": "Days expected",
    "col.data_coverage": "Data coverage",
    "col.capacity_mw": "Renewable capacity",
    "col.expected_energy_savings_mwh": "Expected (ex ante) annual energy savings",
    "col.expected_co2_avoided_t": "Expected (ex ante) annual GHG emissions reduced/avoided",
    "col.expected_generation_mwh": "Expected (ex ante) annual renewable generation",
    "col.provisional_days": "Provisional days",
    "col.flags": "Data quality flags (days)",
    "col.methods": "Methods",
    "col.emission_factor_ids": "Emission factor IDs",
    "col.month": "Month",
    "col.monthly_metered_mwh": "Buildings' metered energy use",
    "col.monthly_benchmark_mwh": "Buildings' benchmark energy use",
    "col.monthly_energy_savings_mwh": "Energy savings",
    "col.monthly_generation_mwh": "Renewable generation",
    "col.monthly_co2_avoided_t": "GHG emissions reduced/avoided",
    "col.monthly_attributed_co2_avoided_t": "GHG emissions reduced/avoided attributed to the bond",
    "col.cumulative_co2_avoided_t": "Cumulative GHG emissions reduced/avoided",
    "col.id": "Factor ID",
    "col.region": "Region",
    "col.kind": "Factor kind",
    "col.kg_co2_per_kwh": "Emission factor",
    "col.valid_from": "Valid from",
    "col.valid_to": "Valid until (exclusive)",
    "col.publisher": "Publisher",
    "col.document": "Document",
    "col.published_on": "Published on",
    "col.source_url": "Source",
    "col.key": "Item",
    "col.value": "Value",
    "col.fit_id": "Baseline fit ID",
    "col.model_type": "Model",
    "col.n_days": "Days fitted",
    "col.r_squared": "R²",
    "col.adj_r_squared": "Adjusted R²",
    "col.cvrmse": "CV(RMSE)",
    "col.nmbe": "NMBE",
    "col.summary": "Summary",
    # --- units (unit.<unit>; the currency is the bond's own code) ---
    "unit.ratio": "ratio",
    "unit.days": "days",
    "unit.years": "years",
    "unit.MWh": "MWh",
    "unit.MW": "MW",
    "unit.t-CO2": "t-CO2",
    "unit.MWh/year": "MWh/year",
    "unit.t-CO2/year": "t-CO2/year",
    "unit.kg-CO2/kWh": "kg-CO2/kWh",
    # --- coded values ---
    "eligible_category.energy_efficiency": "Energy efficiency",
    "eligible_category.renewable_energy": "Renewable energy",
    "eligible_category.green_buildings": "Green buildings",
    "progress.operating": "Operating",
    "progress.under_construction": "Under construction",
    "financing_type.financing": "Financing",
    "financing_type.refinancing": "Refinancing",
    "status.final": "Final",
    "status.provisional": "Provisional",
    "flag.corrected_data": "corrected data",
    "flag.incomplete": "incomplete day",
    "flag.gaps": "gaps",
    "flag.fit_outside_limits": "baseline fit outside limits",
    "flag.baseline_insufficient": "baseline insufficient",
    "flag.no_temperature": "no temperature",
    "flag.no_benchmark": "no benchmark",
    "flag.insufficient_coverage": "insufficient coverage",
    "flag.no_emission_factor": "no emission factor",
    "flag.partial_claims": "partial claims",
    "flag.issuer_attested": "issuer-attested data (imported)",
    "flag.baseline_issuer_attested": "baseline from issuer-attested bills",
    "flag.uncertainty_unavailable": "uncertainty unavailable",
    "method.intensity": "Benchmark intensity (reference kWh/m² x floor area)",
    "method.baseline": "Metered baseline (CalTRACK daily model of the pre-retrofit year)",
    "method.series": "Issuer-supplied benchmark series",
    "method.generation": "Metered renewable generation (grid electricity displaced)",
    "total.proceeds": "Net proceeds (amount issued)",
    "total.allocated": "Amount allocated",
    "total.unallocated": "Unallocated proceeds",
    "total.allocated_share": "Share allocated",
    "total.refinancing_share": "Share of refinancing",
    "total.unallocated_held_as": "Unallocated proceeds held as",
    # --- document text ---
    "title": "Green Bond Report",
    "portfolio": "Portfolio total",
    "h.summary": "Bond and reporting period",
    "h.allocation": "Allocation of proceeds",
    "h.allocation_totals": "Allocation totals",
    "h.impact": "Impact (ICMA Harmonised Framework core indicators)",
    "h.impact_metered": "Metered impact over the period: asset total and attributed to the bond",
    "h.impact_expected": "Expected (ex ante) against metered, and data coverage",
    "h.impact_uncertainty": "Savings uncertainty (ASHRAE Guideline 14)",
    "h.impact_credits": "Carbon credits issued from the attributed reductions",
    "h.monthly": "Portfolio by month",
    "h.charts": "Charts",
    "h.methodology": "Methodology",
    "h.methods": "Methods used",
    "h.fits": "Baseline fit metrics",
    "h.factors": "Emission factors",
    "h.evidence": "Evidence",
    "h.proofs": "Proofs of each project",
    "f.bond": "Bond",
    "f.bond_code": "Bond code",
    "f.issuer": "Issuer",
    "f.amount_issued": "Amount issued",
    "f.issue_date": "Issue date",
    "f.maturity_date": "Maturity date",
    "f.period": "Reporting period",
    "f.counted_from": "Figures counted from",
    "f.status": "Status",
    "f.checkpoint": "Checkpoint",
    "f.checkpoint_number": "Checkpoint number",
    "f.tree_size": "Log tree size",
    "f.root": "Merkle root",
    "f.chain_id": "Chain ID",
    "f.contract": "Contract",
    "f.tx_hash": "Transaction",
    "f.block_number": "Block",
    "f.closes_at": "Checkpoint closes at",
    "f.methodology_hash": "Methodology hash",
    "f.content_sha256": "Content SHA-256",
    "f.projects": "projects",
    "f.lookback": " ({years}-year look-back)",
    "note.final": "Final: every reporting project's last day of the period is final at the "
    "cited checkpoint. The content hash below is published as a report leaf of the log.",
    "note.provisional": "Provisional: the period is not closed at the cited checkpoint; "
    "figures may still change and this report is not logged.",
    "note.figures": "Metered figures sum the final day results logged up to the checkpoint, "
    "from the later of the period start and the issue date. Attributed to the bond: each "
    "day's figure times the share of financing, rounded toward zero, then summed. Expected "
    "figures are the issuer's ex ante annual estimates. MWh and t-CO2 are shown to three "
    "decimals; the CSV, XLSX and report.json carry the exact values (Wh and g).",
    "note.coverage": "Data coverage: meter intervals received / intervals expected over the "
    "days reported. Flags count the days that carry each flag.",
    "note.uncertainty": "Savings uncertainty (+-) at 68% and 90% confidence, ASHRAE Guideline "
    "14: the project's days that state one (baseline method) evaluated together with its "
    "baseline fit, so it grows like the square root of the days, not like their sum. Attributed "
    "to the bond: times the share of financing, rounded up. Portfolio: the projects' combined "
    "in quadrature (independent baselines). '-': the project states none.",
    "note.credits": "A tonne issued as a carbon credit (J-Credit style, logged against its "
    "asset-days) is sold and no longer claimed by the bond. Of which issued as carbon credits: "
    "for each issuance, the bond's attributed reduction over the credited days of the period "
    "times the credited tonnes over the credited period's reductions, rounded up to the gram "
    "and at most what was attributed. Claimable: attributed minus credited. The checkpoint "
    "totals on chain stay the attributed (gross) figures.",
    "note.unallocated_held_as": "not declared",
    "note.factors": "Each day's CO2 uses the emission factor valid on that day.",
    "note.evidence": "Every figure of this report is recomputable from the log up to the "
    "checkpoint below, anchored on chain. The PDF embeds report.json: the content whose "
    "canonical JSON hashes to the content SHA-256 in every page's footer.",
    "note.proofs": "Replace {allocation_id} with the project's allocation ID (allocation table), "
    "{asset_id} with its asset ID and {result_id} with the ID of a day result listed by the "
    "results link.",
    "ev.allocation_proof": "Allocation proof",
    "ev.result_proof": "Result proof",
    "ev.results": "Day results of a project",
    "ev.export": "Audit export",
    "ev.verify": "Verify this file",
    "chart.energy": "Buildings: metered against benchmark energy use",
    "chart.co2": "Cumulative GHG emissions reduced/avoided",
    "chart.energy_axis": "Energy (MWh)",
    "chart.co2_axis": "Cumulative (t-CO2)",
    "chart.month_axis": "Month",
    "chart.metered": "Metered",
    "chart.benchmark": "Benchmark",
    "chart.co2_total": "Asset total",
    "chart.co2_attributed": "Attributed to the bond",
    "page": "Page",
}

JA: dict[str, str] = {
    "col.asset_id": "資産ID",
    "col.asset_code": "事業コード",
    "col.project_name": "具体的事業",
    "col.eligible_category": "事業区分",
    "col.amount_allocated": "充当額",
    "col.financing_share": "充当割合",
    "col.project_cost": "総事業費",
    "col.financing_type": "新規/リファイナンス",
    "col.lookback_years": "ルックバック期間",
    "col.allocated_on": "充当日",
    "col.progress": "進捗状況",
    "col.commissioning_date": "運転開始日",
    "col.location": "所在地",
    "col.description": "事業概要",
    "col.allocation_id": "充当ID",
    "col.metered_mwh": "計測エネルギー量",
    "col.benchmark_mwh": "ベンチマークエネルギー使用量",
    "col.energy_savings_mwh": "省エネルギー量（計測値）",
    "col.generation_mwh": "再生可能エネルギー発電量（計測値）",
    "col.co2_avoided_t": "CO2削減量（計測値）",
    "col.attributed_energy_savings_mwh": "省エネルギー量（本債券充当分）",
    "col.attributed_generation_mwh": "再生可能エネルギー発電量（本債券充当分）",
    "col.attributed_co2_avoided_t": "CO2削減量（本債券充当分）",
    "col.credited_co2_avoided_t": "うちカーボン・クレジットとして発行",
    "col.claimable_co2_avoided_t": "本債券が主張可能なCO2削減量",
    "col.savings_uncertainty_68_mwh": "削減量の不確かさ 68%",
    "col.savings_uncertainty_90_mwh": "削減量の不確かさ 90%",
    "col.attributed_savings_uncertainty_68_mwh": "削減量の不確かさ（本債券充当分）68%",
    "col.attributed_savings_uncertainty_90_mwh": "削減量の不確かさ（本債券充当分）90%",
    "col.days_reported": "報告日数",
    "col.days_expected": "対象日数",
    "col.data_coverage": "データ取得率",
    "col.capacity_mw": "発電設備容量",
    "col.expected_energy_savings_mwh": "想定省エネルギー量（事前）",
    "col.expected_co2_avoided_t": "想定CO2削減量（事前）",
    "col.expected_generation_mwh": "想定再生可能エネルギー発電量（事前）",
    "col.provisional_days": "暫定値の日数",
    "col.flags": "データ品質フラグ（日数）",
    "col.methods": "算定方法",
    "col.emission_factor_ids": "排出係数ID",
    "col.month": "月",
    "col.monthly_metered_mwh": "建物のエネルギー使用量（計測値）",
    "col.monthly_benchmark_mwh": "建物のベンチマークエネルギー使用量",
    "col.monthly_energy_savings_mwh": "省エネルギー量",
    "col.monthly_generation_mwh": "再生可能エネルギー発電量",
    "col.monthly_co2_avoided_t": "CO2削減量",
    "col.monthly_attributed_co2_avoided_t": "CO2削減量（本債券充当分）",
    "col.cumulative_co2_avoided_t": "CO2削減量（累計）",
    "col.id": "排出係数ID",
    "col.region": "地域",
    "col.kind": "係数の種類",
    "col.kg_co2_per_kwh": "排出係数",
    "col.valid_from": "適用開始日",
    "col.valid_to": "適用終了日（当日を含まない）",
    "col.publisher": "公表主体",
    "col.document": "出典",
    "col.published_on": "公表日",
    "col.source_url": "出典URL",
    "col.key": "項目",
    "col.value": "値",
    "col.fit_id": "ベースラインモデルID",
    "col.model_type": "モデル",
    "col.n_days": "推計日数",
    "col.r_squared": "決定係数 R²",
    "col.adj_r_squared": "自由度調整済み R²",
    "col.cvrmse": "CV(RMSE)",
    "col.nmbe": "NMBE",
    "col.summary": "概要",
    "unit.ratio": "比率",
    "unit.days": "日",
    "unit.years": "年",
    "unit.MWh": "MWh",
    "unit.MW": "MW",
    "unit.t-CO2": "t-CO2",
    "unit.MWh/year": "MWh/年",
    "unit.t-CO2/year": "t-CO2/年",
    "unit.kg-CO2/kWh": "kg-CO2/kWh",
    "eligible_category.energy_efficiency": "省エネルギー",
    "eligible_category.renewable_energy": "再生可能エネルギー",
    "eligible_category.green_buildings": "グリーンビルディング",
    "progress.operating": "稼働中",
    "progress.under_construction": "建設中",
    "financing_type.financing": "新規ファイナンス",
    "financing_type.refinancing": "リファイナンス",
    "status.final": "確定",
    "status.provisional": "暫定",
    "flag.corrected_data": "補正データ",
    "flag.incomplete": "集計途中",
    "flag.gaps": "欠測あり",
    "flag.fit_outside_limits": "ベースライン適合度が基準外",
    "flag.baseline_insufficient": "ベースラインデータ不足",
    "flag.no_temperature": "気温データなし",
    "flag.no_benchmark": "ベンチマークなし",
    "flag.insufficient_coverage": "データ取得率不足",
    "flag.no_emission_factor": "排出係数なし",
    "flag.partial_claims": "一部の日のみ算定",
    "flag.issuer_attested": "発行体の証明データ（インポート）",
    "flag.baseline_issuer_attested": "発行体が証明した請求データによるベースライン",
    "flag.uncertainty_unavailable": "不確かさ算定不可",
    "method.intensity": "原単位ベンチマーク（基準 kWh/m² × 延床面積）",
    "method.baseline": "計測ベースライン（改修前1年間のCalTRACK日次モデル）",
    "method.series": "発行体が提供するベンチマーク系列",
    "method.generation": "再生可能エネルギー発電量の計測（系統電力の代替）",
    "total.proceeds": "調達額（発行額）",
    "total.allocated": "充当済額",
    "total.unallocated": "未充当額",
    "total.allocated_share": "充当率",
    "total.refinancing_share": "リファイナンス比率",
    "total.unallocated_held_as": "未充当資金の管理方法",
    "title": "グリーンボンド・レポーティング",
    "portfolio": "ポートフォリオ合計",
    "h.summary": "債券及び報告対象期間",
    "h.allocation": "資金充当状況",
    "h.allocation_totals": "充当状況の総括",
    "h.impact": "環境改善効果",
    "h.impact_metered": "環境改善効果（計測値）：事業全体及び本債券充当分",
    "h.impact_expected": "想定値（事前）と計測値、データ取得状況",
    "h.impact_uncertainty": "削減量の不確かさ（ASHRAE Guideline 14）",
    "h.impact_credits": "本債券充当分のうちカーボン・クレジットとして発行された削減量",
    "h.monthly": "月別推移（ポートフォリオ）",
    "h.charts": "グラフ",
    "h.methodology": "算定方法",
    "h.methods": "使用した算定方法",
    "h.fits": "ベースラインモデルの適合度",
    "h.factors": "排出係数",
    "h.evidence": "検証情報",
    "h.proofs": "各事業の証明",
    "f.bond": "債券名",
    "f.bond_code": "銘柄コード",
    "f.issuer": "発行体",
    "f.amount_issued": "発行額",
    "f.issue_date": "発行日",
    "f.maturity_date": "償還日",
    "f.period": "報告対象期間",
    "f.counted_from": "集計開始日",
    "f.status": "確定区分",
    "f.checkpoint": "チェックポイント",
    "f.checkpoint_number": "チェックポイント番号",
    "f.tree_size": "ログのツリーサイズ",
    "f.root": "マークルルート",
    "f.chain_id": "チェーンID",
    "f.contract": "コントラクト",
    "f.tx_hash": "トランザクション",
    "f.block_number": "ブロック",
    "f.closes_at": "チェックポイント締切時刻",
    "f.methodology_hash": "算定方法ハッシュ",
    "f.content_sha256": "内容のSHA-256",
    "f.projects": "事業",
    "f.lookback": "（ルックバック{years}年）",
    "note.final": "確定：報告対象の各事業の期間最終日の結果が、引用するチェックポイントで確定して"
    "います。以下の内容ハッシュはログの report リーフとして公開されます。",
    "note.provisional": "暫定：引用するチェックポイントでは期間が締まっていません。数値は変わる"
    "可能性があり、本レポートはログに記録されません。",
    "note.figures": "計測値は、期間開始日と発行日の遅い方から、チェックポイントまでにログに記録"
    "された確定日次結果の合計です。本債券充当分は、日ごとの値に充当割合を乗じて0方向に丸め、"
    "合計したものです。想定値は発行体が事前に示した年間見込みです。MWh と t-CO2 は小数点以下"
    "3桁で表示しています。CSV、XLSX 及び report.json には正確な値（Wh、g）が含まれます。",
    "note.coverage": "データ取得率：報告日における受信済み計測区間数 / 予定区間数。フラグは"
    "各フラグが付いた日数です。",
    "note.uncertainty": "削減量の不確かさ（±、信頼水準68%及び90%、ASHRAE Guideline 14）："
    "不確かさを示す日（ベースライン法）をまとめて、その事業のベースライン回帰から算定します"
    "（日数の平方根に比例し、日ごとの値の合計ではありません）。本債券充当分は充当割合を乗じて"
    "切り上げたもの、ポートフォリオは各事業の値の二乗和平方根（ベースラインが独立のため）です。"
    "「-」は不確かさを示さない事業です。",
    "note.credits": "カーボン・クレジット（J-クレジット型、対象の日ごとにログに記録）として発行"
    "された削減量は売却済みであり、本債券の削減量としては主張しません。うちカーボン・クレジット"
    "として発行：発行ごとに、期間内のクレジット対象日における本債券充当分の削減量に、発行トン数"
    "のモニタリング期間削減量に対する割合を乗じ、グラム単位で切り上げたもの（充当分を上限とし"
    "ます）。主張可能な削減量：充当分からクレジット発行分を差し引いたもの。オンチェーンの"
    "チェックポイント合計は充当分（総量）のままです。",
    "note.unallocated_held_as": "未申告",
    "note.factors": "各日のCO2削減量には、その日に有効な排出係数を用いています。",
    "note.evidence": "本レポートの全ての数値は、以下のチェックポイント（オンチェーンに記録）"
    "までのログから再計算できます。本PDFには report.json が添付されています。その正規化JSON"
    "のハッシュは各ページ下部の SHA-256 と一致します。",
    "note.proofs": "{allocation_id} を事業の充当ID（資金充当状況の表）に、{asset_id} を資産IDに、"
    "{result_id} を日次結果一覧の結果IDに置き換えてください。",
    "ev.allocation_proof": "充当の証明",
    "ev.result_proof": "日次結果の証明",
    "ev.results": "事業の日次結果",
    "ev.export": "監査用エクスポート",
    "ev.verify": "本ファイルの検証",
    "chart.energy": "建物：エネルギー使用量の計測値とベンチマーク",
    "chart.co2": "CO2削減量の累計",
    "chart.energy_axis": "エネルギー使用量 (MWh)",
    "chart.co2_axis": "累計 (t-CO2)",
    "chart.month_axis": "月",
    "chart.metered": "計測値",
    "chart.benchmark": "ベンチマーク",
    "chart.co2_total": "事業全体",
    "chart.co2_attributed": "本債券充当分",
    "page": "ページ",
}

TEXTS: Mapping[Lang, Mapping[str, str]] = {"en": EN, "ja": JA}


@dataclass(frozen=True)
class Labels:
    """A document's words in ``lang``: ``texts`` is the vocabulary of the kind of document
    (the green bond report's by default; app/credits/render has the monitoring report's)."""

    lang: Lang
    texts: Mapping[Lang, Mapping[str, str]] = field(
        default_factory=lambda: TEXTS, compare=False, repr=False
    )

    def __call__(self, key: str) -> str:
        return self.texts[self.lang][key]

    def unit(self, unit: str, currency: str) -> str:
        return currency if unit == "currency" else self(f"unit.{unit}")

    def header(self, column_id: str, unit: str | None, currency: str) -> str:
        """A column's label with its unit, e.g. ``Amount allocated (JPY)``."""
        label = self(f"col.{column_id}")
        return f"{label} ({self.unit(unit, currency)})" if unit else label

    def code(self, group: str, value: str) -> str:
        """A coded value's name (an unknown code shows as itself)."""
        return self.texts[self.lang].get(f"{group}.{value}", value)


def labels(lang: str, texts: Mapping[Lang, Mapping[str, str]] = TEXTS) -> Labels:
    for known in LANGS:
        if lang == known:
            return Labels(known, texts)
    raise ValueError(f"lang: one of {', '.join(LANGS)}")
