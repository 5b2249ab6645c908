"""Checks 3, 4 and 5 on the export's issuance leaves: ``amount_within_reductions`` (whole tonnes
of the period's reductions), ``asset_days_once`` (no asset-day credited twice) and ``serials``
(contiguous from 1 per token id)."""

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from app.audit.verify.credits.log import Log
from app.audit.verify.credits.reductions import Recomputed
from app.audit.verify.credits.results import Check, issuance_name, listing, period_text
from app.audit.verify.credits.sources import Sources
from app.pure.credit_leaves import CreditIssuanceLeaf, token_id_of

Issued = list[tuple[int, CreditIssuanceLeaf]]  # (leaf index, leaf)


def _grouped(
    issuances: Iterable[tuple[int, CreditIssuanceLeaf]],
    key: Callable[[CreditIssuanceLeaf], int],
    order: Callable[[CreditIssuanceLeaf], Any],
) -> dict[int, Issued]:
    """The issuances by ``key`` (in its order), each group in ``order``, then in log order."""
    groups: dict[int, Issued] = defaultdict(list)
    for k, iss in issuances:
        groups[key(iss)].append((k, iss))
    return {
        group: sorted(issued, key=lambda x: (order(x[1]), x[0]))
        for group, issued in sorted(groups.items())
    }


def check_amounts(
    log: Log, sources: dict[int, Sources], recomputed: dict[int, Recomputed]
) -> Check:
    check = Check("amount_within_reductions")
    for k, iss in log.issuances:
        name = issuance_name(k, iss)
        report_source = sources[k].report
        figures: dict[str, Any] = {
            "chain_issuance_id": iss.chain_issuance_id,
            "amount_t": iss.amount_t,
        }
        check.figures.append(figures)
        if iss.amount_t < 1:
            check.problems.append(f"{name}: amount_t {iss.amount_t}: at least one tonne")
        if report_source is None:
            check.problems.append(f"{name}: no report to compare its amount with")
            continue
        j, report = report_source
        mine = recomputed.get(j)
        figures.update(
            report_reductions_t=report.reductions_t,
            recomputed_reductions_t=None if mine is None else mine.reductions_t,
        )
        if iss.amount_t > report.reductions_t:
            check.problems.append(
                f"{name}: {iss.amount_t} t exceeds the {report.reductions_t} t of its report "
                f"(leaf {j})"
            )
        if mine is not None and iss.amount_t > mine.reductions_t:
            check.problems.append(
                f"{name}: {iss.amount_t} t exceeds the {mine.reductions_t} t recomputed for its "
                f"period ({mine.reductions_g} g)"
            )
    check.summary = listing(
        f"{len(log.issuances)} issuances, each within its period's whole tonnes",
        (
            f"issuance {f['chain_issuance_id']}: {f['amount_t']} t <= "
            f"{f.get('recomputed_reductions_t')} t"
            for f in check.figures
        ),
    )
    return check


def check_asset_days(log: Log) -> Check:
    check = Check("asset_days_once")
    assets_of_project: dict[int, set[int]] = defaultdict(set)
    for _, iss in log.issuances:
        assets_of_project[iss.project_id].add(iss.asset_id)
    for _, report in log.reports:
        assets_of_project[report.project_id].add(report.asset_id)
    for project_id, assets in sorted(assets_of_project.items()):
        if len(assets) > 1:
            check.problems.append(
                f"project {project_id} names assets {sorted(assets)}: a project is one asset"
            )
    by_asset = _grouped(log.issuances, lambda iss: iss.asset_id, lambda iss: iss.first_day)
    for asset_id, issued in by_asset.items():
        reaching: tuple[int, CreditIssuanceLeaf] | None = None  # the one credited furthest
        days = 0
        for k, iss in issued:
            name = issuance_name(k, iss)
            if iss.first_day > iss.last_day:
                check.problems.append(
                    f"{name}: its period {period_text(iss.first_day, iss.last_day)} is empty"
                )
                continue
            days += (iss.last_day - iss.first_day).days + 1
            if reaching is not None and iss.first_day <= reaching[1].last_day:
                other = reaching[1]
                overlap = period_text(iss.first_day, min(iss.last_day, other.last_day))
                check.problems.append(
                    f"asset {asset_id}: {name} credits {overlap}, already credited by "
                    f"{issuance_name(*reaching)} ({period_text(other.first_day, other.last_day)})"
                )
            if reaching is None or iss.last_day > reaching[1].last_day:
                reaching = (k, iss)
        check.figures.append(
            {
                "asset_id": asset_id,
                "issuances": len(issued),
                "days_credited": days,
                "periods": [period_text(i.first_day, i.last_day) for _, i in issued],
            }
        )
    check.summary = listing(
        f"{len(by_asset)} credited assets, no asset-day credited twice",
        (
            f"asset {f['asset_id']}: {f['days_credited']} days in {f['issuances']} issuances "
            f"({', '.join(f['periods'])})"
            for f in check.figures
        ),
    )
    return check


def _contract_token_id(project_id: int, vintage: int) -> int | None:
    """The contract's ``tokenIdOf``; None where it has none (outside uint64 and uint16)."""
    try:
        return token_id_of(project_id, vintage)
    except ValueError:
        return None


def check_serials(log: Log) -> Check:
    check = Check("serials")
    for k, iss in log.issuances:
        name = issuance_name(k, iss)
        expected = _contract_token_id(iss.project_id, iss.vintage)
        if expected != iss.token_id:
            check.problems.append(
                f"{name}: token_id {iss.token_id}, tokenIdOf({iss.project_id}, {iss.vintage}) "
                f"is {expected}"
            )
        if not iss.first_day.year == iss.last_day.year == iss.vintage:
            check.problems.append(
                f"{name}: vintage {iss.vintage}, its period is "
                f"{period_text(iss.first_day, iss.last_day)}"
            )
        if iss.serial_last - iss.serial_first + 1 != iss.amount_t:
            check.problems.append(
                f"{name}: serials {iss.serial_first}-{iss.serial_last} are "
                f"{iss.serial_last - iss.serial_first + 1} units, its amount is {iss.amount_t}"
            )
    by_token = _grouped(log.issuances, lambda iss: iss.token_id, lambda iss: iss.serial_first)
    for token_id, issued in by_token.items():
        following = 1  # the serial the next block must start at
        previous: tuple[int, CreditIssuanceLeaf] | None = None
        for k, iss in issued:
            name = issuance_name(k, iss)
            block = f"{iss.serial_first}-{iss.serial_last}"
            if iss.serial_first < following:
                check.problems.append(
                    f"token {token_id}: serials {block} of {name} start below 1"
                    if previous is None
                    else f"token {token_id}: serials {block} of {name} overlap "
                    f"{previous[1].serial_first}-{previous[1].serial_last} of "
                    f"{issuance_name(*previous)}"
                )
            elif iss.serial_first > following:
                check.problems.append(
                    f"token {token_id}: serials {following}-{iss.serial_first - 1} are missing "
                    f"before {block} of {name}"
                )
            if iss.serial_last + 1 > following:
                following = iss.serial_last + 1
                previous = (k, iss)
        check.figures.append(
            {
                "token_id": token_id,
                "issuances": len(issued),
                "serial_last": following - 1,
                "blocks": [f"{i.serial_first}-{i.serial_last}" for _, i in issued],
            }
        )
    check.summary = listing(
        f"{len(by_token)} token ids, serials contiguous from 1",
        (
            f"token {f['token_id']}: {', '.join(f['blocks'])} in {f['issuances']} issuances"
            for f in check.figures
        ),
    )
    return check
