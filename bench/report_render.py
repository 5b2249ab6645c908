#!/usr/bin/env python3
"""Report rendering benchmark: the time to render a report of many projects as CSV, XLSX and PDF,
in English and Japanese.

    .venv/bin/python bench/report_render.py                        # 1,000 projects
    .venv/bin/python bench/report_render.py --describe             # each with a description
    .venv/bin/python bench/report_render.py --projects 200 --report path/to/report.json

The content is a real report's (``--report``: a JSON API body or {"content": ...}; by default the
one tests/test_reports.py keeps in test-artifacts/reports/report.json) with its projects
replicated under new asset and allocation ids up to ``--projects`` (with ``--describe``, each
with a 140-character description and a location: text that wraps in the PDF), the portfolio and
allocation totals summed again, and twelve monthly rows (a fiscal year). The files land in
``--out`` (default test-artifacts/reports/bench/).
"""

import argparse
import copy
import json
import time
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from app.pure import report as rules
from app.reports.render import render

DESCRIPTION = (
    "ZEB-ready research building: exterior insulation, LED lighting with daylight control, "
    "air-source heat pumps and a rooftop photovoltaic array"
)
SUMMED = (
    "metered_wh",
    "benchmark_wh",
    "energy_savings_wh",
    "generation_wh",
    "co2_avoided_g",
    "attributed_energy_savings_wh",
    "attributed_generation_wh",
    "attributed_co2_avoided_g",
    "days_reported",
    "days_expected",
)


def replicate(content: dict[str, Any], projects: int, describe: bool = False) -> dict[str, Any]:
    """The content with ``projects`` projects: the original ones repeated with new ids."""
    out = copy.deepcopy(content)
    allocations, impacts = content["allocation"]["projects"], content["impact"]["projects"]
    out["allocation"]["projects"], out["impact"]["projects"] = [], []
    for i in range(projects):
        a, p = copy.deepcopy(allocations[i % len(allocations)]), impacts[i % len(impacts)]
        asset_id = 10_000 + i
        code = f"ASSET-{asset_id}"
        a.update(
            asset_id=asset_id,
            allocation_id=20_000 + i,
            asset_code=code,
            project_name=f"{a['project_name']} #{i}",
        )
        if describe:
            a.update(description=DESCRIPTION, location="Tokyo, Japan")
        out["allocation"]["projects"].append(a)
        out["impact"]["projects"].append(
            {**p, "asset_id": asset_id, "asset_code": code, "project_name": a["project_name"]}
        )
    portfolio = out["impact"]["portfolio"]
    for key in SUMMED:
        portfolio[key] = sum(p[key] for p in out["impact"]["projects"])
    allocated = sum(Decimal(a["amount_allocated"]) for a in out["allocation"]["projects"])
    totals = out["allocation"]["totals"]
    proceeds = max(Decimal(totals["proceeds"]), allocated)
    out["bond"]["amount_issued"] = totals["proceeds"] = str(proceeds)
    totals["allocated"], totals["unallocated"] = str(allocated), str(proceeds - allocated)
    months = rules.months_of(rules.ReportPeriod.fiscal_year(2025))
    template = content["impact"]["monthly"][-1]
    cumulative = 0
    out["impact"]["monthly"] = []
    for month in months:
        cumulative += template["co2_avoided_g"]
        out["impact"]["monthly"].append(
            {**template, "month": month.isoformat()[:7], "cumulative_co2_avoided_g": cumulative}
        )
    out["period"] = {
        **rules.ReportPeriod.fiscal_year(2025).as_json(),
        "counted_from": date(2025, 4, 1).isoformat(),
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--projects", type=int, default=1000)
    parser.add_argument("--report", type=Path, default=Path("test-artifacts/reports/report.json"))
    parser.add_argument("--out", type=Path, default=Path("test-artifacts/reports/bench"))
    parser.add_argument("--describe", action="store_true")
    args = parser.parse_args()
    base = json.loads(args.report.read_text())["content"]
    content = replicate(base, args.projects, args.describe)
    digest = rules.content_sha256(content)
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"{args.projects} projects, content {len(json.dumps(content)) / 1e6:.1f} MB")
    for fmt in ("csv", "xlsx", "pdf"):
        for lang in ("en", "ja"):
            start = time.perf_counter()
            document = render(content, digest, fmt, lang)
            seconds = time.perf_counter() - start
            (args.out / document.filename).write_bytes(document.data)
            print(f"{fmt:4} {lang}  {seconds:6.2f} s  {len(document.data) / 1e6:6.2f} MB")


if __name__ == "__main__":
    main()
