"""Savings uncertainty, ASHRAE Guideline 14-2014 Annex B (fractional savings uncertainty). Pure.

For a baseline fitted on n points (days, or bills) with p parameters and CV(RMSE) CV, the
uncertainty of savings over m reporting points with savings fraction F is

    dE_save / E_save = t * 1.26 * CV * sqrt((n / n') * (1 + 2 / n') * (1 / m)) / F

where n' = n (1 - rho) / (1 + rho) is the number of independent baseline points given the lag-1
autocorrelation rho of the residuals (applied to daily fits; a negative rho is taken as 0, never
as more than n points), and t is Student's t quantile at the two-sided confidence level with
n' - p degrees of freedom. Since F = E_save / E_baseline, the absolute uncertainty is
t * 1.26 * CV * sqrt(...) * E_baseline: the counterfactual of the reporting points, not the
savings, sets its size, and it grows like sqrt(m), not like m.

Anything that is summed or disclosed is an integer (Wh, rounded up: an uncertainty is never
understated) or a Decimal; the formula itself is evaluated in Decimal (28 digits) from the fit's
stored floats and t rounded up to 6 decimals, so that every platform rounds the same way.
Docs: docs/methodology.md, "Savings uncertainty (ASHRAE Guideline 14)".
"""

import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_CEILING, Context, Decimal

from app.pure.calc.baseline import BaselineFit
from app.pure.calc.billing import BillingFit

ASHRAE_FACTOR = Decimal("1.26")  # Guideline 14's empirical correction to the formula
CONFIDENCE_68 = Decimal("0.68")
CONFIDENCE_90 = Decimal("0.90")
T_PLACES = Decimal("0.000001")
FRACTION_PLACES = Decimal("0.000001")
_DECIMAL = Context(prec=28)
_PARAMETERS = {"intercept_only": 1, "hdd_only": 2, "cdd_only": 2, "hdd_cdd": 3}


# --- Student's t, without scipy --------------------------------------------------------------


def regularized_incomplete_beta(x: float, a: float, b: float) -> float:
    """I_x(a, b) for a, b > 0 and 0 <= x <= 1."""
    if not 0.0 <= x <= 1.0 or a <= 0 or b <= 0:
        raise ValueError("I_x(a, b) needs 0 <= x <= 1 and a, b > 0")
    return _incomplete_beta(x, 1.0 - x, a, b)


def _incomplete_beta(x: float, y: float, a: float, b: float) -> float:
    """I_x(a, b) given y = 1 - x computed without cancellation, by the continued fraction
    (modified Lentz) where it converges fast (x below the mean a / (a + b)), else by symmetry."""
    if x == 0.0 or y == 0.0:
        return 0.0 if x == 0.0 else 1.0
    if x > (a + 1.0) / (a + b + 2.0):
        return 1.0 - _incomplete_beta(y, x, b, a)
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x)
    log_front += b * math.log(y)
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    fraction = d
    for m in range(1, 1000):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            fraction *= c * d
        if abs(c * d - 1.0) < 1e-15:
            break
    return math.exp(log_front) * fraction / a


def student_t_cdf(t: float, dof: float) -> float:
    """P(T <= t) for Student's t with ``dof`` (> 0, not necessarily whole) degrees of freedom."""
    if dof <= 0:
        raise ValueError("Student's t needs positive degrees of freedom")
    scale = dof + t * t
    tail = 0.5 * _incomplete_beta(dof / scale, t * t / scale, dof / 2.0, 0.5)
    return 1.0 - tail if t > 0 else tail


def student_t_quantile(probability: float, dof: float) -> float:
    """The t with P(T <= t) = probability, by bisection on the distribution function (monotone,
    so bisection cannot fail). Relative error about 1e-12 up to 10^4 degrees of freedom (a
    year of days has a few hundred), 1e-10 at 10^5, where lgamma's cancellation takes over."""
    if not 0.0 < probability < 1.0:
        raise ValueError("a quantile needs 0 < probability < 1")
    if probability < 0.5:
        return -student_t_quantile(1.0 - probability, dof)
    low, high = 0.0, 1.0
    while student_t_cdf(high, dof) < probability:
        low, high = high, 2.0 * high
    for _ in range(200):
        middle = (low + high) / 2.0
        if student_t_cdf(middle, dof) < probability:
            low = middle
        else:
            high = middle
        if high - low <= 1e-12 * high:
            break
    return (low + high) / 2.0


def t_statistic(confidence: Decimal, dof: float) -> Decimal:
    """Two-sided: the (1 + confidence) / 2 quantile, rounded up to 6 decimals."""
    if not 0 < confidence < 1:
        raise ValueError("a confidence level lies between 0 and 1")
    t = student_t_quantile(float((1 + confidence) / 2), dof)
    return Decimal(repr(t)).quantize(T_PLACES, ROUND_CEILING)


# --- what the formula needs from a fit -------------------------------------------------------


@dataclass(frozen=True)
class UncertaintyBasis:
    points: int  # n: baseline observations (days, or bills)
    parameters: int  # p, the intercept included
    cvrmse: float
    autocorrelation: float  # rho as applied (0 when not applied)
    days_per_point: Decimal  # 1 for a daily fit; the baseline bills' mean length for a billing fit

    @property
    def effective_points(self) -> Decimal:
        """n' = n (1 - rho) / (1 + rho), rho taken as 0 when negative."""
        rho = max(Decimal(repr(self.autocorrelation)), Decimal(0))
        return _DECIMAL.divide(_DECIMAL.multiply(self.points, 1 - rho), 1 + rho)


def basis_of_daily_fit(fit: BaselineFit) -> UncertaintyBasis:
    """A daily fit: n = its days, rho = its residuals' lag-1 autocorrelation."""
    if fit.residual_autocorrelation is None:
        raise ValueError("the fit predates residual_autocorrelation: refit it")
    return UncertaintyBasis(
        fit.n_days,
        _PARAMETERS[fit.model_type],
        fit.cvrmse,
        fit.residual_autocorrelation,
        Decimal(1),
    )


def basis_of_billing_fit(fit: BillingFit) -> UncertaintyBasis:
    """A billing fit: n = its bills, no autocorrelation correction (a dozen residuals cannot
    estimate it), a reporting point = a bill of the baseline's mean length."""
    return UncertaintyBasis(
        fit.n_periods,
        _PARAMETERS[fit.model_type],
        fit.cvrmse,
        0.0,
        _DECIMAL.divide(fit.n_days, fit.n_periods),
    )


# --- the formula -----------------------------------------------------------------------------


def relative_uncertainty(basis: UncertaintyBasis, confidence: Decimal, days: int) -> Decimal:
    """t * 1.26 * CV * sqrt((n / n') (1 + 2 / n') / m) for ``days`` reporting days (m = days /
    days per point): the uncertainty of the savings as a share of the counterfactual."""
    if days < 1:
        raise ValueError("an uncertainty needs at least one reporting day")
    n_eff = basis.effective_points
    dof = n_eff - basis.parameters
    if dof <= 0:
        raise ValueError(f"{n_eff:.2f} effective baseline points leave no degrees of freedom")
    t = t_statistic(confidence, float(dof))
    m = _DECIMAL.divide(days, basis.days_per_point)
    under_root = _DECIMAL.divide(
        _DECIMAL.multiply(_DECIMAL.divide(basis.points, n_eff), 1 + _DECIMAL.divide(2, n_eff)),
        m,
    )
    factor = _DECIMAL.multiply(_DECIMAL.multiply(t, ASHRAE_FACTOR), Decimal(repr(basis.cvrmse)))
    return _DECIMAL.multiply(factor, _DECIMAL.sqrt(under_root))


def fractional_savings_uncertainty(
    basis: UncertaintyBasis, confidence: Decimal, days: int, savings_fraction: Decimal
) -> Decimal:
    """Guideline 14's dE_save / E_save for ``days`` reporting days with savings fraction F
    (savings / counterfactual, > 0), rounded up to 6 decimals."""
    if savings_fraction <= 0:
        raise ValueError("the fractional uncertainty of no savings is undefined")
    relative = relative_uncertainty(basis, confidence, days)
    return _DECIMAL.divide(relative, savings_fraction).quantize(FRACTION_PLACES, ROUND_CEILING)


def savings_uncertainty_wh(
    basis: UncertaintyBasis, confidence: Decimal, days: int, counterfactual_wh: int
) -> int:
    """The uncertainty (+-, Wh) of the savings summed over ``days`` reporting days of one asset
    whose counterfactual sums to ``counterfactual_wh``: a day, a month or any set of days. The
    formula is evaluated once for the whole set (m = its days), so it is not the sum of the
    days' uncertainties (that would grow like m instead of sqrt(m)). Rounded up."""
    relative = relative_uncertainty(basis, confidence, days)
    value = _DECIMAL.multiply(relative, abs(counterfactual_wh))
    return int(value.to_integral_value(ROUND_CEILING))


def attributed_uncertainty_wh(uncertainty_wh: int, financing_share: Decimal) -> int:
    """A bond's share of an asset's savings uncertainty: proportional to the share (the bond's
    savings are the share times the asset's), rounded up, exactly in Decimal."""
    if not 0 <= financing_share <= 1:
        raise ValueError("a financing share lies between 0 and 1")
    value = _DECIMAL.multiply(uncertainty_wh, financing_share)
    return int(value.to_integral_value(ROUND_CEILING))


def combined_uncertainty_wh(uncertainties_wh: Iterable[int]) -> int:
    """Uncertainty of a sum of independent estimates (different assets' baselines): the root of
    the sum of squares, rounded up, in integers."""
    total = sum(u * u for u in uncertainties_wh)
    root = math.isqrt(total)
    return root if root * root == total else root + 1
