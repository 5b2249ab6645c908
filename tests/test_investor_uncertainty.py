"""The savings uncertainty in the investor API: per asset period (kWh), and a bond's attributed
uncertainty since issuance and per month (per asset over its days together, x share, assets in
quadrature), computed here from the stored day results and fits with the pure functions."""

import json
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient

from app.pure.calc.baseline import BaselineFit
from app.pure.calc.uncertainty import (
    CONFIDENCE_68,
    CONFIDENCE_90,
    attributed_uncertainty_wh,
    basis_of_daily_fit,
    combined_uncertainty_wh,
    savings_uncertainty_wh,
)
from tests.conftest import ADMIN, Fleet, allocate, create_bond
from tests.impact_helpers import BaselineSite, Site, real_now

SHARES = (Decimal("0.5"), Decimal("0.25"))


def _fit(client: TestClient, asset_id: int) -> BaselineFit:
    """The fit the asset's results name, as stored (admin methodology is not enough: the
    disclosure rounds; the admin results name the fit id, the database holds it)."""
    from sqlalchemy import select

    from app.impact.models import BaselineFitRecord

    app: Any = client.app
    with app.state.session_factory() as session:
        [fit_id] = {
            r["baseline_fit_id"]
            for r in client.get(f"/v1/admin/assets/{asset_id}/results", headers=ADMIN).json()
            if r["baseline_fit_id"] is not None
        }
        record = session.scalars(select(BaselineFitRecord).where(BaselineFitRecord.id == fit_id))
        return BaselineFit(**json.loads(record.one().fit_json))


def test_series_and_bond_carry_the_savings_uncertainty(client: TestClient, fleet: Fleet) -> None:
    site = Site(client, fleet)
    site.factor("TEST-unc", "0.5")
    buildings = [BaselineSite(site, "TEST-unc", skip_baseline_days=set()) for _ in SHARES]
    bond = create_bond(client, "GB-UNC", amount_issued="1000", issue_date="2020-01-01")
    for building, share in zip(buildings, SHARES, strict=True):
        allocate(client, bond, building.asset, str(share))
    site.run_job(real_now())

    per_asset: list[tuple[tuple[int, int], Decimal]] = []
    stated: list[tuple[Any, list[dict[str, Any]], Decimal]] = []
    for building, share in zip(buildings, SHARES, strict=True):
        days = client.get(
            f"/v1/admin/assets/{building.asset}/results",
            params={"period": "day"},
            headers=ADMIN,
        ).json()
        series = client.get(
            f"/v1/investor/assets/{building.asset}/series", params={"period": "day"}
        ).json()["items"]
        by_day = {d["period_start"]: d for d in days}
        stating = [d for d in days if d["savings_uncertainty_68_wh"] is not None]
        assert len(stating) == 30  # every reporting day claims a reduction
        for item in series:
            row = by_day[item["period_start"]]
            for level in ("68", "90"):
                wh = row[f"savings_uncertainty_{level}_wh"]
                expected = None if wh is None else Decimal(wh) / 1000
                found = item[f"savings_uncertainty_{level}_kwh"]
                assert (None if found is None else Decimal(found)) == expected
        basis = basis_of_daily_fit(_fit(client, building.asset))
        counterfactual = sum(d["benchmark_wh"] for d in stating)
        for d in stating:
            assert d["savings_uncertainty_90_wh"] == savings_uncertainty_wh(
                basis, CONFIDENCE_90, 1, d["benchmark_wh"]
            )
        stated.append((basis, stating, share))
        per_asset.append(
            (
                (
                    savings_uncertainty_wh(basis, CONFIDENCE_68, len(stating), counterfactual),
                    savings_uncertainty_wh(basis, CONFIDENCE_90, len(stating), counterfactual),
                ),
                share,
            )
        )

    since = client.get(f"/v1/investor/bonds/{bond}").json()["impact_since_issuance"]
    for index, level in enumerate(("68", "90")):
        expected = combined_uncertainty_wh(
            attributed_uncertainty_wh(u[index], share) for u, share in per_asset
        )
        assert Decimal(since[f"attributed_savings_uncertainty_{level}_kwh"]) == (
            Decimal(expected) / 1000
        )
    # Each month: per asset its days of the month together, x share, assets in quadrature.
    months = client.get(f"/v1/investor/bonds/{bond}/impact", params={"period": "month"}).json()[
        "items"
    ]
    assert len(months) >= 2
    for month in months:
        parts = []
        for basis, stating, share in stated:
            of_month = [d for d in stating if d["period_start"][:7] == month["period_start"][:7]]
            total = sum(d["benchmark_wh"] for d in of_month)
            wh = savings_uncertainty_wh(basis, CONFIDENCE_90, len(of_month), total)
            parts.append(attributed_uncertainty_wh(wh, share))
        expected_kwh = Decimal(combined_uncertainty_wh(parts)) / 1000
        assert Decimal(month["attributed_savings_uncertainty_90_kwh"]) == expected_kwh
