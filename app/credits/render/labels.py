"""The monitoring report's words in English and Japanese. Japanese follows the J-Credit scheme's
monitoring report (モニタリング報告書): ベースライン排出量, プロジェクト排出量, 排出削減量,
排出係数, モニタリングパラメータ, モニタリング期間, 方法論. The names of data quality flags,
benchmark methods, units and the checkpoint's fields are the green bond report's
(app/reports/render/labels.py), so both documents word them alike.

Emissions are t-CO2 (CO2 only: the grid factors are kg-CO2/kWh), as in the bond report."""

# Japanese typography uses full-width brackets and colons: they are meant here, not look-alikes.
# ruff: noqa: RUF001

from collections.abc import Mapping

from app.reports.render.labels import EN as BOND_EN
from app.reports.render.labels import JA as BOND_JA
from app.reports.render.labels import Labels, Lang
from app.reports.render.labels import labels as bond_labels

# Words shared with the green bond report, by key prefix or key.
SHARED_PREFIXES = ("flag.", "method.", "unit.")
SHARED_KEYS = (
    "col.region",
    "col.kind",
    "col.kg_co2_per_kwh",
    "col.valid_from",
    "col.valid_to",
    "col.publisher",
    "col.document",
    "col.published_on",
    "col.source_url",
    "col.key",
    "col.value",
    "col.month",
    "f.checkpoint_number",
    "f.tree_size",
    "f.root",
    "f.chain_id",
    "f.contract",
    "f.tx_hash",
    "f.block_number",
    "f.closes_at",
    "f.methodology_hash",
    "f.content_sha256",
    "page",
)


def _shared(texts: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in texts.items() if k.startswith(SHARED_PREFIXES) or k in SHARED_KEYS}


EN: dict[str, str] = {
    **_shared(BOND_EN),
    # --- units of the monitoring report ---
    "unit.kWh": "kWh",
    "unit.Wh": "Wh",
    "unit.g-CO2": "g-CO2",
    "unit.t-CO2/kWh": "t-CO2/kWh",
    # --- document ---
    "title": "Monitoring Report",
    "h.project": "Project and monitoring period",
    "h.reductions": "Emission reductions",
    "h.parameters": "Monitoring parameters",
    "h.monthly": "Emission reductions by month",
    "h.excluded": "Days excluded from the calculation",
    "h.attested": "Days with issuer-attested data",
    "h.factors": "Emission factors",
    "h.evidence": "Evidence",
    "h.proofs": "Where the proofs are",
    "f.project_code": "Project number",
    "f.project_name": "Project",
    "f.project_id": "Project ID",
    "f.asset": "Green asset",
    "f.asset_kind": "Asset kind",
    "f.methodology": "Methodology",
    "f.meters": "Meter IDs",
    "f.period": "Monitoring period",
    "f.calculation": "Calculation",
    "f.methods": "Benchmark methods",
    "f.baseline_emissions": "Baseline emissions (BE)",
    "f.project_emissions": "Project emissions (PE)",
    "f.reductions": "Emission reductions (ER = BE - PE)",
    "f.reductions_t": "Emission reductions in whole tonnes (rounded down)",
    "f.energy_counterfactual.energy_saving": "Baseline electricity use (EL_BL)",
    "f.energy_metered.energy_saving": "Metered electricity use (EL_PJ)",
    "f.energy_counterfactual.generation": "Grid electricity displaced",
    "f.energy_metered.generation": "Metered generation (EG_PJ)",
    "f.days_in_period": "Days in the period",
    "f.days_counted": "Days counted",
    "f.days_excluded": "Days excluded",
    "f.days_issuer_attested": "Days with issuer-attested data",
    "f.days": "{n} days",
    "calculation.energy_saving": "Energy saving: per day ER = CO2 avoided, PE = EL_PJ x CEF, "
    "BE = PE + ER",
    "calculation.generation": "Renewable generation: per day BE = ER = EG_PJ x CEF, PE = 0",
    "asset_kind.building": "Building",
    "asset_kind.renewable_facility": "Renewable energy facility",
    "flag.no_claim": "no claim",
    # --- columns ---
    "col.symbol": "Symbol",
    "col.definition": "Definition",
    "col.unit": "Unit",
    "col.formula": "Formula",
    "col.measurement": "How measured or calculated",
    "col.frequency": "Monitoring frequency",
    "col.period": "Period",
    "col.first_day": "From",
    "col.last_day": "To",
    "col.source": "Source",
    "col.total": "Period total",
    "col.day": "Day",
    "col.reasons": "Reasons",
    "col.counted": "Counted",
    "col.method": "Method",
    "col.flags": "Data quality flags",
    "col.id": "Factor ID",
    "col.factor_id": "Factor ID",
    "col.days": "Days used",
    "col.metered_wh": "Metered energy",
    "col.benchmark_wh": "Benchmark energy",
    "col.reduction_wh": "Energy reduction",
    "col.co2_avoided_g": "CO2 avoided (day result)",
    "col.baseline_emissions_g": "Baseline emissions",
    "col.project_emissions_g": "Project emissions",
    "col.reductions_g": "Emission reductions",
    "col.reductions_t": "Emission reductions (whole tonnes rounded down)",
    "col.energy_counterfactual_wh": "Baseline electricity",
    "col.energy_metered_wh": "Metered electricity",
    "col.days_in_period": "Days in the period",
    "col.days_counted": "Days counted",
    "col.days_excluded": "Days excluded",
    "col.days_issuer_attested": "Days with issuer-attested data",
    # --- parameters: definition, how measured, frequency ---
    "param.EL_BL": "Electricity the asset would have used without the project (baseline "
    "scenario: the counterfactual of its benchmark method)",
    "param.EL_PJ": "Electricity the asset used (project scenario, metered)",
    "param.EG_PJ": "Electricity the project generated, displacing grid electricity (metered)",
    "param.CEF": "CO2 emission factor of grid electricity",
    "param.BE": "Baseline emissions",
    "param.PE": "Project emissions",
    "param.ER": "Emission reductions",
    "how.counterfactual": "Calculated for each day by the asset's benchmark method (listed "
    "under Source), pro-rated to the meter intervals received",
    "how.metered_consumption": "Metered by the asset's electricity meters (device-signed "
    "readings; issuer-attested imports where flagged)",
    "how.metered_generation": "Metered by the plant's generation meters (device-signed "
    "readings; issuer-attested imports where flagged)",
    "how.grid_factor": "Published grid emission factor (document and publisher under Source); "
    "each day uses the version valid on that day",
    "how.calculated": "Calculated from the parameters above (Formula)",
    "how.no_project_emissions": "None counted for generation (PE = 0)",
    "freq.interval_daily": "Continuous (meter intervals), totalled per UTC day",
    "freq.daily": "Per UTC day",
    "freq.per_version": "Each published version, on the days it is valid",
    "freq.daily_sum": "Per UTC day, summed over the period",
    # --- notes ---
    "note.formula": "ER = BE - PE, in whole grams per day, summed over the counted days. "
    "Energy saving: ER is each day's CO2 avoided as anchored, PE = EL_PJ x CEF and BE = PE + ER "
    "(within 1 g a day of EL_BL x CEF: rounding). Generation: BE = ER = EG_PJ x CEF, PE = 0. "
    "Credits are the period's ER rounded down to whole t-CO2 (none when it is negative).",
    "note.units": "kWh are shown with 3 decimals and t-CO2 with 6: the exact values (the CSV "
    "and the attached JSON carry Wh and g).",
    "note.excluded": "A day whose result claims no reduction (too little data, no benchmark or "
    "temperature, no emission factor) counts nothing: no estimate stands in for it.",
    "note.attested": "Issuer-attested data was imported by the issuer (meter exports, bills), "
    "not signed by the meter. These days count.",
    "note.evidence": "Every day's figures are its day result logged up to the checkpoint below, "
    "anchored on chain. This PDF embeds monitoring-report.json: the content whose canonical "
    "JSON hashes to the SHA-256 in every page's footer.",
    "note.proofs": "Replace {result_id} with the ID of a day result listed by the day results "
    "link.",
    "ev.day_results": "Day results of the asset",
    "ev.result_proof": "Inclusion proof of a day result",
    "ev.emission_factor_proof": "Inclusion proof of emission factor {factor_id}",
    "ev.export": "Audit export up to the checkpoint",
    "none": "None",
}

JA: dict[str, str] = {
    **_shared(BOND_JA),
    "unit.kWh": "kWh",
    "unit.Wh": "Wh",
    "unit.g-CO2": "g-CO2",
    "unit.t-CO2/kWh": "t-CO2/kWh",
    "title": "モニタリング報告書",
    "h.project": "プロジェクト及びモニタリング期間",
    "h.reductions": "排出削減量",
    "h.parameters": "モニタリングパラメータ",
    "h.monthly": "月別の排出削減量",
    "h.excluded": "算定対象外の日",
    "h.attested": "発行体が証明したデータを含む日",
    "h.factors": "排出係数",
    "h.evidence": "検証情報",
    "h.proofs": "証明の取得先",
    "f.project_code": "プロジェクト登録番号",
    "f.project_name": "プロジェクト名称",
    "f.project_id": "プロジェクトID",
    "f.asset": "対象設備（グリーン資産）",
    "f.asset_kind": "設備の種類",
    "f.methodology": "方法論",
    "f.meters": "計測器（メーターID）",
    "f.period": "モニタリング期間",
    "f.calculation": "算定方法",
    "f.methods": "ベースラインの算定方法",
    "f.baseline_emissions": "ベースライン排出量（BE）",
    "f.project_emissions": "プロジェクト排出量（PE）",
    "f.reductions": "排出削減量（ER = BE − PE）",
    "f.reductions_t": "排出削減量（t-CO2、小数点以下切り捨て）",
    "f.energy_counterfactual.energy_saving": "ベースライン電力使用量（EL_BL）",
    "f.energy_metered.energy_saving": "プロジェクト実施後の電力使用量（EL_PJ）",
    "f.energy_counterfactual.generation": "代替された系統電力量",
    "f.energy_metered.generation": "発電量（EG_PJ）",
    "f.days_in_period": "期間の日数",
    "f.days_counted": "算定対象日数",
    "f.days_excluded": "算定対象外の日数",
    "f.days_issuer_attested": "発行体証明データを含む日数",
    "f.days": "{n}日",
    "calculation.energy_saving": "省エネルギー：日ごとに ER = CO2削減量、PE = EL_PJ × CEF、"
    "BE = PE + ER",
    "calculation.generation": "再生可能エネルギー発電：日ごとに BE = ER = EG_PJ × CEF、PE = 0",
    "asset_kind.building": "建物",
    "asset_kind.renewable_facility": "再生可能エネルギー発電設備",
    "flag.no_claim": "算定値なし",
    "col.symbol": "記号",
    "col.definition": "定義",
    "col.unit": "単位",
    "col.formula": "算定式",
    "col.measurement": "計測・算定方法",
    "col.frequency": "モニタリング頻度",
    "col.period": "対象期間",
    "col.first_day": "開始日",
    "col.last_day": "終了日",
    "col.source": "出典・計測器",
    "col.total": "期間合計",
    "col.day": "日付",
    "col.reasons": "理由",
    "col.counted": "算定対象",
    "col.method": "算定方法",
    "col.flags": "データ品質フラグ",
    "col.id": "排出係数ID",
    "col.factor_id": "排出係数ID",
    "col.days": "適用日数",
    "col.metered_wh": "計測電力量",
    "col.benchmark_wh": "ベンチマーク電力量",
    "col.reduction_wh": "削減電力量",
    "col.co2_avoided_g": "CO2削減量（日次結果）",
    "col.baseline_emissions_g": "ベースライン排出量",
    "col.project_emissions_g": "プロジェクト排出量",
    "col.reductions_g": "排出削減量",
    "col.reductions_t": "排出削減量（小数点以下切り捨て）",
    "col.energy_counterfactual_wh": "ベースライン電力量",
    "col.energy_metered_wh": "計測電力量",
    "col.days_in_period": "期間の日数",
    "col.days_counted": "算定対象日数",
    "col.days_excluded": "算定対象外の日数",
    "col.days_issuer_attested": "発行体証明データを含む日数",
    "param.EL_BL": "ベースライン電力使用量（プロジェクトを実施しなかった場合の電力使用量："
    "ベンチマーク法による推計値）",
    "param.EL_PJ": "プロジェクト実施後の電力使用量（計測値）",
    "param.EG_PJ": "プロジェクトによる発電量（系統電力を代替、計測値）",
    "param.CEF": "系統電力のCO2排出係数",
    "param.BE": "ベースライン排出量",
    "param.PE": "プロジェクト排出量",
    "param.ER": "排出削減量",
    "how.counterfactual": "資産のベンチマーク法（出典欄の算定方法）により日ごとに算定し、"
    "受信した計測区間の割合で按分",
    "how.metered_consumption": "資産の電力量計による計測（機器署名付きの計測値。発行体が"
    "インポートした証明データはフラグで表示）",
    "how.metered_generation": "発電設備の発電量計による計測（機器署名付きの計測値。発行体が"
    "インポートした証明データはフラグで表示）",
    "how.grid_factor": "公表された系統電力の排出係数（出典欄の文書及び公表主体）。各日に"
    "その日に有効な版を適用",
    "how.calculated": "上記のパラメータから算定（算定式欄）",
    "how.no_project_emissions": "発電のため計上しない（PE = 0）",
    "freq.interval_daily": "連続計測（計測区間ごと）、UTC日ごとに集計",
    "freq.daily": "UTC日ごと",
    "freq.per_version": "公表された版ごと（有効な日に適用）",
    "freq.daily_sum": "UTC日ごとに算定し、期間で合計",
    "note.formula": "ER = BE − PE。各項は日ごとのグラム単位の整数で、算定対象日について合計し"
    "ます。省エネルギー：ER はオンチェーンに記録された各日のCO2削減量、PE = EL_PJ × CEF、"
    "BE = PE + ER（丸めにより EL_BL × CEF との差は1日1g以内）。再生可能エネルギー発電："
    "BE = ER = EG_PJ × CEF、PE = 0。クレジットは期間の ER を t-CO2 単位で小数点以下切り捨て"
    "たものです（負の場合は0）。",
    "note.units": "kWh は小数点以下3桁、t-CO2 は6桁で表示しており、正確な値です（CSV 及び添付"
    "の JSON には Wh 及び g の値が含まれます）。",
    "note.excluded": "削減量を算定できない日（データ不足、ベンチマークや気温データなし、"
    "排出係数なし）は算定に含めません。推計値で補うことはしません。",
    "note.attested": "発行体証明データは、計測器の署名ではなく発行体がインポートしたデータ"
    "（計測データのエクスポート、請求書）です。これらの日は算定に含まれます。",
    "note.evidence": "各日の数値は、以下のチェックポイント（オンチェーンに記録）までにログに"
    "記録された日次結果です。本PDFには monitoring-report.json が添付されています。その正規化"
    "JSON のハッシュは各ページ下部の SHA-256 と一致します。",
    "note.proofs": "{result_id} を日次結果一覧の結果IDに置き換えてください。",
    "ev.day_results": "資産の日次結果",
    "ev.result_proof": "日次結果の包含証明",
    "ev.emission_factor_proof": "排出係数 {factor_id} の包含証明",
    "ev.export": "チェックポイントまでの監査用エクスポート",
    "none": "なし",
}

TEXTS: Mapping[Lang, Mapping[str, str]] = {"en": EN, "ja": JA}


def labels(lang: str) -> Labels:
    return bond_labels(lang, TEXTS)
