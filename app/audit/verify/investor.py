"""``gbt-verify investor``: what the investor API publishes, against the auditor's own
recomputation from an export and the chain.

After the ``recompute`` checks of the export (root, every result, bond totals on chain), for each
bond the export allocates:

1. the bond summary's ``anchored_totals`` must have been read from the chain and equal the
   recomputed totals (same checkpoint as the export) or the chain's (another checkpoint);
2. each month of the bond's monthly series whose day results are all anchored in the export's
   checkpoint or an earlier one (the assets' day series say so, per day and result id) must be
   the sum of those day results, asset totals and attributed to the bond, as the recomputation
   gives them: a roll-up changed in the service's database shows here.
"""

from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import httpx

from app.audit.verify.checks import Chain, CheckFailedError, Report, UnusableInputError
from app.audit.verify.recompute import verify_recompute
from app.pure.calc.results import attribute
from app.pure.leaves import AllocationLeaf, ResultLeaf
from app.pure.totals import totals_of

Fetch = Callable[[str, dict[str, Any]], Any]
UNITS = {"energy": Decimal(1000), "co2": Decimal(1_000_000)}


def http_fetch(api: str, api_key: str | None, timeout: float) -> Fetch:
    headers = {} if api_key is None else {"Authorization": f"Bearer {api_key}"}

    def fetch(path: str, params: dict[str, Any]) -> Any:
        try:
            response = httpx.get(
                api.rstrip("/") + path, params=params, headers=headers, timeout=timeout
            )
        except httpx.HTTPError as e:
            raise UnusableInputError(f"cannot read {path} from {api}: {e}") from e
        if response.status_code != 200:
            raise UnusableInputError(f"{path}: HTTP {response.status_code} from {api}")
        return response.json()

    return fetch


def _pages(fetch: Fetch, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    cursor = None
    while True:
        page = fetch(path, params | ({} if cursor is None else {"cursor": cursor}))
        yield from page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return


def _same(published: str | None, wh_or_g: int, unit: Decimal) -> bool:
    return published is not None and Decimal(published) == Decimal(wh_or_g) / unit


def verify_investor(
    export_path: str,
    chain: Chain,
    contract: str,
    fetch: Fetch,
    report: Report,
    *,
    expect_chain_id: int | None = None,
) -> None:
    recomputer, cp = verify_recompute(
        export_path, chain, contract, report, expect_chain_id=expect_chain_id
    )
    recomputed = {
        b: (r, g) for b, r, g in totals_of(recomputer.allocations, recomputer.day_results)
    }
    allocations: dict[int, list[AllocationLeaf]] = defaultdict(list)
    for allocation in recomputer.allocations:
        allocations[allocation.bond_id].append(allocation)
    for bond_id in sorted(allocations):
        _check_anchored_totals(bond_id, fetch, chain, cp.contract, cp.number, recomputed, report)
        _check_months(bond_id, allocations[bond_id], recomputer.days, cp.number, fetch, report)


def _check_anchored_totals(
    bond_id: int,
    fetch: Fetch,
    chain: Chain,
    contract: str,
    number: int,
    recomputed: dict[int, tuple[int, int]],
    report: Report,
) -> None:
    what = f"investor API: bond {bond_id} anchored_totals"
    anchored = fetch(f"/v1/investor/bonds/{bond_id}", {})["anchored_totals"]
    if anchored is None or not anchored.get("read_from_chain"):
        raise CheckFailedError(what, f"not read from the chain: {anchored}")
    shown = anchored["checkpoint_number"]
    if shown == number:
        expected, source = recomputed[bond_id], "recomputed from the export"
    else:
        totals = {b: (r, g) for b, r, g in chain.checkpoint_record(contract, shown).totals}
        expected, source = totals.get(bond_id, (0, 0)), f"checkpoint {shown} on chain"
    if not (
        _same(anchored["energy_reduction_kwh"], expected[0], UNITS["energy"])
        and _same(anchored["co2_avoided_t"], expected[1], UNITS["co2"])
    ):
        raise CheckFailedError(
            what,
            f"{anchored['energy_reduction_kwh']} kWh, {anchored['co2_avoided_t']} t; {source}: "
            f"{expected[0]} Wh, {expected[1]} g",
        )
    report(f"investor API: bond {bond_id} anchored totals (checkpoint {shown}) match {source}")


def _check_months(
    bond_id: int,
    allocations: list[AllocationLeaf],
    days: dict[tuple[int, date], ResultLeaf],
    number: int,
    fetch: Fetch,
    report: Report,
) -> None:
    covered: dict[str, bool] = defaultdict(lambda: True)  # month -> all its days in the export
    expected: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for allocation in allocations:
        path = f"/v1/investor/assets/{allocation.asset_id}/series"
        first_day = allocation.bond_issue_date.isoformat()
        for item in _pages(fetch, path, {"period": "day", "first_day": first_day}):
            month = item["period_start"][:7]
            anchoring = item["anchoring"]
            leaf = days.get((allocation.asset_id, date.fromisoformat(item["period_start"])))
            if (
                anchoring["status"] != "anchored"
                or anchoring["checkpoint_number"] > number
                or leaf is None
                or leaf.result_id != item["result_id"]
            ):
                covered[month] = False
                continue
            acc = expected[month]
            for i, value in enumerate((leaf.result.reduction_wh, leaf.result.co2_avoided_g)):
                acc[i] += value or 0
                acc[i + 2] += attribute(value, allocation.financing_share) or 0
    checked = 0
    for item in _pages(fetch, f"/v1/investor/bonds/{bond_id}/impact", {"period": "month"}):
        month = item["period_start"][:7]
        if month not in expected or not covered[month]:
            continue
        acc = expected[month]
        for i, (key, unit) in enumerate(
            (
                ("assets_energy_reduction_kwh", UNITS["energy"]),
                ("assets_co2_avoided_t", UNITS["co2"]),
                ("attributed_energy_reduction_kwh", UNITS["energy"]),
                ("attributed_co2_avoided_t", UNITS["co2"]),
            )
        ):
            if not _same(item[key], acc[i], unit):
                raise CheckFailedError(
                    f"investor API: bond {bond_id} month {month} {key}",
                    f"published {item[key]}, the export's day results give "
                    f"{Decimal(acc[i]) / unit}",
                )
        checked += 1
    report(f"investor API: bond {bond_id}: {checked} anchored months match the day results")
