"""The report's two charts as inline SVG, from the content's monthly portfolio rows (pure):

- the buildings' metered energy use against their benchmark, month by month (MWh): what the
  energy savings are the difference of (renewable plants are not in it: their months count
  generation, app/pure/report.py);
- the cumulative GHG emissions reduced/avoided (t-CO2), the asset total and the part attributed
  to the bond.

Every plotted point is a ``circle`` carrying its month and exact value (``data-month``,
``data-value``), so a test can read the chart back."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from html import escape
from typing import Any

from app.pure.report import MEGA
from app.reports.render.labels import Labels

WIDTH, HEIGHT = 480, 270
LEFT, RIGHT, TOP, BOTTOM = 62, 14, 44, 42
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
TICKS = 4
MAX_MONTH_LABELS = 12
FONT = "IPAGothic, sans-serif"


@dataclass(frozen=True)
class Series:
    name: str
    label: str
    values: Sequence[Decimal]
    color: str
    dash: str = ""


def _scaled(rows: Sequence[Mapping[str, Any]], key: str) -> list[Decimal]:
    return [Decimal(row[key]) / MEGA for row in rows]


def _cumulative(values: Sequence[Decimal]) -> list[Decimal]:
    out, total = [], Decimal(0)
    for v in values:
        total += v
        out.append(total)
    return out


def energy_chart(monthly: Sequence[Mapping[str, Any]], labels: Labels) -> str:
    return _line_chart(
        labels("chart.energy"),
        labels("chart.energy_axis"),
        [row["month"] for row in monthly],
        [
            Series(
                "benchmark",
                labels("chart.benchmark"),
                _scaled(monthly, "benchmark_wh"),
                "#888",
                "4 3",
            ),
            Series("metered", labels("chart.metered"), _scaled(monthly, "metered_wh"), "#1f6fb2"),
        ],
        labels,
    )


def co2_chart(monthly: Sequence[Mapping[str, Any]], labels: Labels) -> str:
    return _line_chart(
        labels("chart.co2"),
        labels("chart.co2_axis"),
        [row["month"] for row in monthly],
        [
            Series(
                "cumulative",
                labels("chart.co2_total"),
                _scaled(monthly, "cumulative_co2_avoided_g"),
                "#2e8b57",
            ),
            Series(
                "cumulative-attributed",
                labels("chart.co2_attributed"),
                _cumulative(_scaled(monthly, "attributed_co2_avoided_g")),
                "#b5651d",
                "4 3",
            ),
        ],
        labels,
    )


def nice_step(span: Decimal) -> Decimal:
    """A tick step of 1, 2, 2.5 or 5 x 10^n giving about TICKS intervals over ``span``."""
    raw = span / TICKS
    magnitude = Decimal(10) ** raw.log10().to_integral_value(ROUND_FLOOR)
    for m in ("1", "2", "2.5", "5"):
        if raw <= Decimal(m) * magnitude:
            return Decimal(m) * magnitude
    return 10 * magnitude


def axis(values: Sequence[Decimal]) -> tuple[Decimal, Decimal, Decimal]:
    """Bottom, top and step of a value axis that includes zero and every value."""
    lo, hi = min([Decimal(0), *values]), max([Decimal(0), *values])
    if lo == hi:
        hi = lo + 1
    step = nice_step(hi - lo)
    bottom = (lo / step).to_integral_value(ROUND_FLOOR) * step
    top = (hi / step).to_integral_value(ROUND_CEILING) * step
    return bottom, top, step


def _num(x: float) -> str:
    return f"{x:.2f}"


def _line_chart(
    title: str, y_label: str, months: Sequence[str], series: Sequence[Series], labels: Labels
) -> str:
    bottom, top, step = axis([v for s in series for v in s.values])
    exponent = step.normalize().as_tuple().exponent
    places = max(0, -exponent) if isinstance(exponent, int) else 0
    n = max(len(months), 1)

    def x(i: int) -> float:
        return LEFT + (i + 0.5) * PLOT_W / n

    def y(v: Decimal) -> float:
        return TOP + PLOT_H * float((top - v) / (top - bottom))

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{WIDTH}" '
        f'height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="{FONT}" font-size="9">',
        f'<text x="{LEFT}" y="14" font-size="11">{escape(title)}</text>',
    ]
    tick = bottom
    while tick <= top:
        ty = _num(y(tick))
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{ty}" y2="{ty}" '
            f'stroke="{"#444" if tick == 0 else "#ddd"}" stroke-width="0.6"/>'
            f'<text x="{LEFT - 4}" y="{ty}" dy="3" text-anchor="end">{tick:,.{places}f}</text>'
        )
        tick += step
    every = -(-len(months) // MAX_MONTH_LABELS)
    for i, month in enumerate(months):
        if i % every == 0:
            parts.append(
                f'<text x="{_num(x(i))}" y="{TOP + PLOT_H + 13}" text-anchor="middle">'
                f"{escape(month)}</text>"
            )
    mid_y = TOP + PLOT_H / 2
    parts.append(
        f'<text x="{WIDTH / 2 + LEFT / 2}" y="{HEIGHT - 6}" text-anchor="middle">'
        f"{escape(labels('chart.month_axis'))}</text>"
        f'<text x="12" y="{mid_y}" text-anchor="middle" '
        f'transform="rotate(-90 12 {mid_y})">{escape(y_label)}</text>'
    )
    for k, s in enumerate(series):
        dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
        points = " ".join(f"{_num(x(i))},{_num(y(v))}" for i, v in enumerate(s.values))
        legend_x = LEFT + k * PLOT_W / 2
        parts.append(
            f'<polyline class="series {s.name}" fill="none" stroke="{s.color}" '
            f'stroke-width="1.4"{dash} points="{points}"/>'
            f'<line x1="{_num(legend_x)}" x2="{_num(legend_x + 18)}" y1="28" y2="28" '
            f'stroke="{s.color}" stroke-width="1.4"{dash}/>'
            f'<text x="{_num(legend_x + 22)}" y="31">{escape(s.label)}</text>'
        )
        parts.extend(
            f'<circle class="point {s.name}" data-month="{escape(month)}" '
            f'data-value="{format(v, "f")}" cx="{_num(x(i))}" cy="{_num(y(v))}" r="1.8" '
            f'fill="{s.color}"/>'
            for i, (month, v) in enumerate(zip(months, s.values, strict=True))
        )
    parts.append("</svg>")
    return "".join(parts)
