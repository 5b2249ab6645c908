"""ASHRAE Guideline 14 savings uncertainty: Student's t without scipy, the autocorrelation
correction, aggregation over reporting days, bond shares, coverage on simulated data, and the
worked examples of docs/methodology.md (computed with the code; the test fails if the document
and the code disagree)."""

import math
import re
import statistics
from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from app.pure.calc.baseline import (
    BaselineFit,
    degree_days,
    fit_daily_baseline,
    lag1_autocorrelation,
    predict_daily_wh,
)
from app.pure.calc.billing import BillingFit, BillingPeriod, billing_baseline_observations
from app.pure.calc.results import attribute
from app.pure.calc.uncertainty import (
    CONFIDENCE_68,
    CONFIDENCE_90,
    UncertaintyBasis,
    attributed_uncertainty_wh,
    basis_of_billing_fit,
    basis_of_daily_fit,
    combined_uncertainty_wh,
    fractional_savings_uncertainty,
    regularized_incomplete_beta,
    relative_uncertainty,
    savings_uncertainty_wh,
    student_t_cdf,
    student_t_quantile,
    t_statistic,
)

METHODOLOGY = Path(__file__).resolve().parent.parent / "docs" / "methodology.md"
LEVELS = (CONFIDENCE_68, CONFIDENCE_90)
DAILY = UncertaintyBasis(365, 3, 0.10, 0.50, Decimal(1))


# --- Student's t -------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [0.55, 0.84, 0.9, 0.95, 0.975, 0.995])
def test_t_quantile_equals_the_closed_forms_for_1_2_and_4_degrees_of_freedom(p: float) -> None:
    """Closed forms (Student's t quantile function): tan(pi (p - 1/2)) for 1 degree of freedom,
    (2p - 1) / sqrt(2p(1 - p)) for 2, 2 sqrt(q - 1) with q = cos(arccos(sqrt(a)) / 3) / sqrt(a),
    a = 4p(1 - p), for 4."""
    assert student_t_quantile(p, 1) == pytest.approx(math.tan(math.pi * (p - 0.5)), rel=1e-10)
    assert student_t_quantile(p, 2) == pytest.approx(
        (2 * p - 1) / math.sqrt(2 * p * (1 - p)), rel=1e-10
    )
    alpha = 4 * p * (1 - p)
    q = math.cos(math.acos(math.sqrt(alpha)) / 3) / math.sqrt(alpha)
    assert student_t_quantile(p, 4) == pytest.approx(2 * math.sqrt(q - 1), rel=1e-10)
    assert student_t_quantile(1 - p, 4) == pytest.approx(-student_t_quantile(p, 4), rel=1e-12)


@pytest.mark.parametrize(
    ("dof", "table"),
    [(1, 6.314), (2, 2.920), (5, 2.015), (10, 1.812), (20, 1.725), (30, 1.697), (120, 1.658)],
)
def test_t_at_90_percent_matches_the_printed_table(dof: int, table: float) -> None:
    """Two-sided 90 % (one-sided 0.95), the values of every t table, to their 3 decimals."""
    assert round(float(t_statistic(CONFIDENCE_90, dof)), 3) == table


@pytest.mark.parametrize("confidence", LEVELS)
def test_t_tends_to_the_normal_quantile(confidence: Decimal) -> None:
    """With many degrees of freedom t approaches the normal quantile (0.994458 at 68 %, 1.644854
    at 90 %, from the standard library); with few it is larger."""
    z = statistics.NormalDist().inv_cdf(float((1 + confidence) / 2))
    assert float(t_statistic(confidence, 1e5)) == pytest.approx(z, abs=2e-5)
    assert t_statistic(confidence, 10) > t_statistic(confidence, 100) > Decimal(repr(z))


def test_t_at_90_percent_exceeds_t_at_68_percent() -> None:
    for dof in (1.5, 3, 12, 118.7, 400):
        assert t_statistic(CONFIDENCE_90, dof) > t_statistic(CONFIDENCE_68, dof) > 0


def test_distribution_function_inverts_the_quantile() -> None:
    for dof in (0.7, 3.3, 47.0, 361.2):
        for p in (0.6, 0.84, 0.95, 0.999):
            assert student_t_cdf(student_t_quantile(p, dof), dof) == pytest.approx(p, abs=1e-13)


def test_incomplete_beta_identities() -> None:
    """I_x(a, 1) = x^a, I_x(1, b) = 1 - (1 - x)^b, I_x(1/2, 1/2) = 2 arcsin(sqrt x) / pi and
    I_x(a, b) = 1 - I_(1-x)(b, a)."""
    for x in (0.01, 0.2, 0.5, 0.77, 0.999):
        assert regularized_incomplete_beta(x, 3.5, 1) == pytest.approx(x**3.5, rel=1e-12)
        assert regularized_incomplete_beta(x, 1, 2.5) == pytest.approx(
            1 - (1 - x) ** 2.5, rel=1e-12
        )
        arcsine = 2 * math.asin(math.sqrt(x)) / math.pi
        assert regularized_incomplete_beta(x, 0.5, 0.5) == pytest.approx(arcsine, rel=1e-12)
        assert regularized_incomplete_beta(x, 7, 3) == pytest.approx(
            1 - regularized_incomplete_beta(1 - x, 3, 7), abs=1e-14
        )


# --- the autocorrelation correction ------------------------------------------------------------


def test_lag1_autocorrelation_matches_nist_and_a_simulated_ar1() -> None:
    """NIST StRD NumAcc1 (10000001, 10000003, 10000002): certified lag-1 autocorrelation -0.5.
    An AR(1) series with coefficient 0.6: about 0.6."""
    assert lag1_autocorrelation(np.asarray([10000001.0, 10000003.0, 10000002.0])) == -0.5
    rng = np.random.default_rng(0)
    series = np.zeros(20_000)
    for i in range(1, len(series)):
        series[i] = 0.6 * series[i - 1] + rng.normal()
    assert lag1_autocorrelation(series) == pytest.approx(0.6, abs=0.02)


def test_rho_zero_gives_n_prime_equal_to_n_and_positive_rho_fewer_points() -> None:
    for rho, expected in ((0.0, Decimal(365)), (-0.3, Decimal(365)), (0.5, Decimal(365) / 3)):
        basis = UncertaintyBasis(365, 3, 0.1, rho, Decimal(1))
        assert basis.effective_points == pytest.approx(expected, rel=Decimal("1e-25"))
    independent = UncertaintyBasis(365, 3, 0.1, 0.0, Decimal(1))
    for level in LEVELS:
        assert relative_uncertainty(DAILY, level, 30) > relative_uncertainty(independent, level, 30)


def test_a_daily_fit_records_its_residuals_autocorrelation() -> None:
    """The fit's rho is the lag-1 autocorrelation of its own residuals, in day order, and the
    basis takes n, p and CV(RMSE) from the fit."""
    rng = np.random.default_rng(4)
    temps = 16 - 10 * np.cos(2 * np.pi * (np.arange(365) - 20) / 365) + rng.normal(0, 2.5, 365)
    noise = np.convolve(rng.normal(0, 0.03, 370), np.ones(6) / 6, mode="valid")  # correlated
    energy = (400_000 + 30_000 * np.maximum(15.0 - temps, 0)) * (1 + noise)
    fit = fit_daily_baseline(temps.tolist(), energy.tolist())
    residuals = energy - np.asarray(predict_daily_wh(fit, temps.tolist()))
    centred = residuals - residuals.mean()
    rho = float(centred[1:] @ centred[:-1] / (centred @ centred))
    assert fit.residual_autocorrelation == pytest.approx(rho, rel=1e-9)
    assert rho > 0.5
    basis = basis_of_daily_fit(fit)
    assert (basis.points, basis.cvrmse, basis.autocorrelation) == (365, fit.cvrmse, rho)
    assert basis.parameters == {"hdd_only": 2, "hdd_cdd": 3}[fit.model_type]


def test_a_fit_stored_without_autocorrelation_must_be_refitted() -> None:
    old = BaselineFit("hdd_only", 4e5, 15.0, 3e4, None, None, 365, 0.9, 0.9, 0.1, 0.0)
    with pytest.raises(ValueError, match="refit"):
        basis_of_daily_fit(old)


def test_too_few_effective_points_is_refused() -> None:
    with pytest.raises(ValueError, match="degrees of freedom"):
        relative_uncertainty(UncertaintyBasis(20, 3, 0.1, 0.9, Decimal(1)), CONFIDENCE_90, 30)
    with pytest.raises(ValueError, match="at least one"):
        relative_uncertainty(DAILY, CONFIDENCE_90, 0)
    with pytest.raises(ValueError, match="undefined"):
        fractional_savings_uncertainty(DAILY, CONFIDENCE_90, 30, Decimal(0))


# --- aggregation -------------------------------------------------------------------------------


def test_more_reporting_days_give_a_smaller_fractional_uncertainty() -> None:
    """Same savings fraction: the fractional uncertainty falls as the period grows (like
    1/sqrt(m)); the absolute uncertainty of a longer period with the same daily counterfactual
    grows like sqrt(m), not in proportion to it."""
    fraction = Decimal("0.15")
    for level in LEVELS:
        fsu = [fractional_savings_uncertainty(DAILY, level, d, fraction) for d in (1, 7, 30, 365)]
        assert fsu == sorted(fsu, reverse=True) and len(set(fsu)) == 4
        wh = [savings_uncertainty_wh(DAILY, level, d, 500_000 * d) for d in (1, 7, 30, 365)]
        assert wh == sorted(wh)
        for earlier, later, ratio in zip(wh[:-1], wh[1:], (7, 30 / 7, 365 / 30), strict=True):
            assert later / earlier == pytest.approx(math.sqrt(ratio), rel=1e-4)  # not ratio


def test_uncertainty_at_90_percent_exceeds_68_percent() -> None:
    for days in (1, 30, 365):
        u68 = savings_uncertainty_wh(DAILY, CONFIDENCE_68, days, 500_000 * days)
        u90 = savings_uncertainty_wh(DAILY, CONFIDENCE_90, days, 500_000 * days)
        assert u90 > u68 > 0


def test_absolute_and_fractional_uncertainty_agree() -> None:
    """dE_save = FSU x E_save, up to the rounding of each (FSU to 6 places, Wh up)."""
    for days, savings in ((1, 60_000), (30, 2_000_000), (365, 30_000_000)):
        counterfactual = 500_000 * days
        fraction = Decimal(savings) / Decimal(counterfactual)
        for level in LEVELS:
            fsu = fractional_savings_uncertainty(DAILY, level, days, fraction)
            wh = savings_uncertainty_wh(DAILY, level, days, counterfactual)
            assert abs(fsu * savings - wh) <= Decimal("1e-6") * savings + 1


def test_bond_share_scales_linearly_and_rounds_up() -> None:
    for uncertainty in (0, 1, 998_927, 3_484_331):
        for share in (Decimal(0), Decimal("0.25"), Decimal("0.333333"), Decimal("0.7"), Decimal(1)):
            expected = math.ceil(Fraction(uncertainty) * Fraction(share))
            assert attributed_uncertainty_wh(uncertainty, share) == expected
        assert attributed_uncertainty_wh(uncertainty, Decimal(1)) == uncertainty
    with pytest.raises(ValueError):
        attributed_uncertainty_wh(10, Decimal("1.1"))


def test_independent_uncertainties_combine_as_root_sum_of_squares() -> None:
    assert combined_uncertainty_wh([3, 4]) == 5
    assert combined_uncertainty_wh([1, 1]) == 2  # sqrt(2), rounded up
    assert combined_uncertainty_wh([]) == 0
    values = [998_927, 2_098_933, 17]
    assert combined_uncertainty_wh(values) == math.ceil(math.sqrt(sum(v * v for v in values)))
    assert combined_uncertainty_wh(values) < sum(values)


@pytest.mark.parametrize("phi", [0.0, 0.6])
def test_intervals_cover_the_error_of_a_month_on_simulated_sites(phi: float) -> None:
    """200 simulated sites: a daily fit on a baseline year with 8 % noise (independent, or AR(1)
    with coefficient 0.6), then a 30-day reporting month. The error of the month's counterfactual
    (predicted - actual consumption) lies within the 68 % and 90 % uncertainties at least about
    as often as stated. Without the autocorrelation correction, correlated noise would be covered
    far less often than stated."""
    covered = {level: 0 for level in LEVELS}
    uncorrected_90 = 0
    sites = 200
    for seed in range(sites):
        rng = np.random.default_rng(seed)

        def noise(n: int, rng: np.random.Generator = rng) -> np.ndarray:
            e = np.empty(n)
            e[0] = rng.normal()
            for i in range(1, n):
                e[i] = phi * e[i - 1] + math.sqrt(1 - phi**2) * rng.normal()
            return 0.08 * e

        def temps(rng: np.random.Generator = rng) -> np.ndarray:
            d = np.arange(365)
            return 16 - 10 * np.cos(2 * np.pi * (d - 20) / 365) + rng.normal(0, 2.5, 365)

        def model(t: np.ndarray) -> np.ndarray:
            return 500_000 + 40_000 * np.maximum(15.5 - t, 0) + 60_000 * np.maximum(t - 22.2, 0)

        baseline_t = temps()
        fit = fit_daily_baseline(
            baseline_t.tolist(), (model(baseline_t) * (1 + noise(365))).tolist()
        )
        first = int(rng.integers(0, 335))
        month_t = temps()[first : first + 30]
        actual = float((model(month_t) * (1 + noise(30))).sum())
        predicted = sum(predict_daily_wh(fit, month_t.tolist()))
        error = abs(predicted - actual)
        basis = basis_of_daily_fit(fit)
        for level in LEVELS:
            covered[level] += error <= savings_uncertainty_wh(basis, level, 30, round(predicted))
        independent = UncertaintyBasis(
            basis.points, basis.parameters, basis.cvrmse, 0.0, Decimal(1)
        )
        uncorrected_90 += error <= savings_uncertainty_wh(
            independent, CONFIDENCE_90, 30, round(predicted)
        )
    assert covered[CONFIDENCE_68] / sites >= 0.64
    assert covered[CONFIDENCE_90] / sites >= 0.87
    if phi:
        assert uncorrected_90 / sites < 0.8


# --- the documented worked examples ------------------------------------------------------------


def section(title: str) -> str:
    text = METHODOLOGY.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def tables(text: str) -> list[list[list[str]]]:
    """Every markdown table of the text: rows of cells, header first, separator dropped."""
    found: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not all(set(c) <= {"-", " "} for c in cells):
                current.append(cells)
        elif current:
            found.append(current)
            current = []
    return found


def number(cell: str) -> Decimal:
    return Decimal(cell.replace(",", "").replace("Wh", "").strip())


def grouped(value: int) -> str:
    return f"{value:,}"


def test_uncertainty_worked_example_matches_the_code() -> None:
    inputs, daily, billing = tables(section("Savings uncertainty (ASHRAE Guideline 14)"))
    values = {row[0]: row[1] for row in inputs[1:]}
    basis = UncertaintyBasis(
        int(values["baseline days n"]),
        int(values["parameters p"]),
        float(values["CV(RMSE)"]),
        float(values["residual autocorrelation rho"]),
        Decimal(1),
    )
    fit = BaselineFit("hdd_cdd", 5e5, 15.0, 4e4, 22.0, 6e4, 365, 0.9, 0.9, 0.10, 0.0, 0.50)
    assert basis_of_daily_fit(fit) == basis
    dof = basis.effective_points - basis.parameters
    assert values["n' = 365 x 0.5 / 1.5"] == f"{basis.effective_points:.6f}"
    assert values["degrees of freedom n' - p"] == f"{dof:.6f}"
    assert values["t at 68 %"] == str(t_statistic(CONFIDENCE_68, float(dof)))
    assert values["t at 90 %"] == str(t_statistic(CONFIDENCE_90, float(dof)))

    rows = {row[0]: row for row in daily[1:]}
    month = rows["a 30-day month"]
    for name in ("one day", "a 30-day month", "a year"):
        _, days, counterfactual, savings, u68, u90, f68, f90 = rows[name]
        d, cf, sv = int(days), int(number(counterfactual)), int(number(savings))
        assert savings_uncertainty_wh(basis, CONFIDENCE_68, d, cf) == number(u68), name
        assert savings_uncertainty_wh(basis, CONFIDENCE_90, d, cf) == number(u90), name
        fraction = Decimal(sv) / Decimal(cf)
        assert str(fractional_savings_uncertainty(basis, CONFIDENCE_68, d, fraction)) == f68, name
        assert str(fractional_savings_uncertainty(basis, CONFIDENCE_90, d, fraction)) == f90, name

    [bond_row] = [r for name, r in rows.items() if "bond share" in name]
    found = re.search(r"(\d+) % bond share", bond_row[0])
    assert found is not None
    share = Decimal(found.group(1)) / 100
    assert number(bond_row[3]) == attribute(int(number(month[3])), share)
    for column in (4, 5):
        assert number(bond_row[column]) == attributed_uncertainty_wh(
            int(number(month[column])), share
        )

    [added_row] = [r for name, r in rows.items() if "added up" in name]
    day = rows["one day"]
    for column, level in ((4, CONFIDENCE_68), (5, CONFIDENCE_90)):
        one_day = savings_uncertainty_wh(basis, level, 1, int(number(day[2])))
        assert number(added_row[column]) == 30 * one_day
        assert number(added_row[column]) > 5 * number(month[column])  # about sqrt(30) times

    # The billing fit of the prose: 12 bills over 365 days, HDD only, CV(RMSE) 0.05.
    text = section("Savings uncertainty (ASHRAE Guideline 14)")
    assert "12 bills over 365 days, HDD only, p = 2, CV(RMSE) 0.05" in text
    billing_fit = BillingFit("hdd_only", 4e5, 15.0, 3e4, None, None, 12, 365, 0.9, 0.9, 0.05, 0.0)
    billing_basis = basis_of_billing_fit(billing_fit)
    assert f"m = 365 / {billing_basis.days_per_point:.6f} = 12" in text
    _, days, counterfactual, savings, u68, u90, f68, f90 = billing[1]
    d, cf, sv = int(days), int(number(counterfactual)), int(number(savings))
    assert savings_uncertainty_wh(billing_basis, CONFIDENCE_68, d, cf) == number(u68)
    assert savings_uncertainty_wh(billing_basis, CONFIDENCE_90, d, cf) == number(u90)
    fraction = Decimal(sv) / Decimal(cf)
    assert str(fractional_savings_uncertainty(billing_basis, CONFIDENCE_68, d, fraction)) == f68
    assert str(fractional_savings_uncertainty(billing_basis, CONFIDENCE_90, d, fraction)) == f90

    # The prose's step-by-step month at 90 %.
    relative = relative_uncertainty(basis, CONFIDENCE_90, 30)
    assert f"= {relative:.6f}," in text
    assert f"= {grouped(int(number(month[5])))} Wh (rounded up)" in text


def test_billing_worked_example_matches_the_code() -> None:
    """The example bill of the billing section: its use per day, its weight, its averaged HDD at
    60 F computed by the code from the stated temperatures, the model's use per day for it and a
    reporting day's counterfactual."""
    [table] = tables(section("Billing-period baseline (CalTRACK billing)"))[-1:]
    values = {row[0]: row[1] for row in table[1:]}
    bill = BillingPeriod(date(2023, 2, 1), date(2023, 3, 1), 14_280_000)
    assert values["bill"].startswith(
        f"1 to 28 February 2023 (`start` {bill.start}, `end` {bill.end}), {bill.days} days, "
        f"{grouped(bill.energy_wh)} Wh"
    )
    assert values["temperatures"].startswith("18 days at 4.0 C, 8 days at 10.0 C, 2 days without")
    temps: dict[date, float | None] = {date(2023, 2, d): 4.0 for d in range(1, 19)}
    temps |= {date(2023, 2, d): 10.0 for d in range(19, 27)}
    data = billing_baseline_observations([bill], temps, date(2022, 3, 2))
    [observation] = data.observations  # 26 of 28 days with a temperature: usable
    assert number(values["use per day UPD_p"]) == Decimal(observation.energy_wh) / observation.days
    assert int(values["weight"]) == observation.days
    hdd, _ = degree_days(np.asarray(observation.temps_c), [15.5556])
    hdd_p = float(hdd.mean())
    assert values["HDD_p at 15.5556 C (60 F)"].endswith(f"= {hdd_p:.6f}")
    fit = BillingFit(
        "hdd_only", 300_000.0, 15.5556, 21_000.0, None, None, 12, 365, 0.9, 0.9, 0.1, 0.0
    )
    assert values["fitted model (example)"] == "300,000 Wh + 21,000 Wh per HDD at 15.5556 C"
    assert values["model's use per day for the bill"] == f"{300_000 + 21_000 * hdd_p:,.3f} Wh"
    [day] = predict_daily_wh(fit, [4.0])
    assert values["counterfactual of a reporting day at 4.0 C"] == f"{day:,.1f} Wh"
