"""The PDF's long tables as a text grid: each row one block of preformatted text in IPAGothic,
whose glyphs are all half or full width (a fixed pitch), columns padded with spaces.

Why: WeasyPrint lays out every table cell as boxes of its own, about half a millisecond each; a
report of 1,000 projects has tens of thousands of cells (over 20 s). A row of preformatted text
is one box, so the same report renders in a few seconds. Widths are counted in half-width units
from the font's own advance widths; text wraps inside its column, figures never wrap."""

# The line-break rules name full-width brackets and punctuation: they are meant, not look-alikes.
# ruff: noqa: RUF001

import functools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Literal

from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

FONT_PATH = Path("/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf")
GAP = 2
FONT_PT = 7.0  # the grid's font size (half-width units are FONT_PT / 2 wide)
MIN_WRAP = 8
GROUP_LINES = 5
# A run of spaces; one character of a CJK script (text that breaks between any two characters)
# with the brackets and punctuation that must stay with it; or a word of narrow characters, which
# may break after a slash.
TOKENS = re.compile(
    r"\s+"
    r"|[(\[（「『【〔]*[^\x00-\x7f\u00a0-\u02ff\s][）」』】〕、。，．：・ー)\]]*"
    r"|[\x21-\x2e\x30-\x7e\u00a0-\u02ff]+/?|/"
)


CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def clean(text: str) -> str:
    """One line of text: whitespace runs as one space, control characters (no glyph, no width)
    dropped."""
    return CONTROL.sub("", " ".join(text.split()))


@functools.cache
def _advances() -> dict[int, int]:
    """Half-width units of each character IPAGothic has (empty when the font is missing: the
    Unicode East Asian width stands in)."""
    try:
        font = TTFont(FONT_PATH, lazy=True)
    except OSError:
        return {}
    half = font["head"].unitsPerEm // 2
    metrics = font["hmtx"].metrics
    return {cp: -(-metrics[glyph][0] // half) for cp, glyph in font.getBestCmap().items()}


def char_width(ch: str) -> int:
    width = _advances().get(ord(ch))
    if width is not None:
        return width
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def text_width(text: str) -> int:
    if text.isascii():  # IPAGothic's ASCII is all half width (tests/test_report_formats.py)
        return len(text)
    return sum(char_width(ch) for ch in text)


def wrap(text: str, width: int) -> list[str]:
    """Lines of at most ``width`` half-width units, broken at spaces, between CJK characters, or
    inside a word longer than a line."""
    lines: list[str] = []
    line, used = "", 0
    for token in TOKENS.findall(clean(text)):
        if token == " ":
            if used:
                line, used = line + " ", used + 1
            continue
        size = text_width(token)
        if used and used + size > width:
            lines.append(line.rstrip())
            line, used = "", 0
        if size <= width:
            line, used = line + token, used + size
            continue
        for ch in token:
            w = char_width(ch)
            if used and used + w > width:
                lines.append(line)
                line, used = "", 0
            line, used = line + ch, used + w
    if line.strip() or not lines:
        lines.append(line.rstrip())
    return lines


def pad(text: str, width: int, align: str) -> str:
    fill = " " * (width - text_width(text))
    return fill + text if align == "right" else text + fill


@dataclass(frozen=True)
class Column:
    header: str
    align: Literal["left", "right"] = "left"
    wrap: int | None = None  # text wider than this wraps (None: the column fits its widest cell)


@dataclass(frozen=True)
class Row:
    cells: Sequence[str]
    total: bool = False  # a totals row (shaded)


def _longest_token(text: str) -> int:
    return max((text_width(t) for t in TOKENS.findall(text) if not t.isspace()), default=1)


def widths(columns: Sequence[Column], rows: Sequence[Row], available: int) -> list[int]:
    """Each column's width: its widest cell (capped at ``wrap``) and at least its header's
    longest word. Spare room goes to the columns whose header takes the most lines; a grid too
    wide narrows its wrapping columns instead."""
    out = []
    for i, col in enumerate(columns):
        widest = max((text_width(clean(r.cells[i])) for r in rows), default=0)
        if col.wrap is not None:
            widest = min(widest, col.wrap)
        out.append(max(widest, _longest_token(col.header), 1))
    spare = available - (sum(out) + GAP * (len(out) - 1))
    while spare > 0:
        heights = [len(wrap(col.header, w)) for col, w in zip(columns, out, strict=True)]
        tallest = max(heights)
        if tallest == 1:
            break
        out[heights.index(tallest)] += 1
        spare -= 1
    wrapping = [i for i, col in enumerate(columns) if col.wrap is not None]
    while spare < 0 and wrapping:
        i = max(wrapping, key=lambda j: out[j])
        if out[i] <= MIN_WRAP:
            break
        out[i] -= 1
        spare += 1
    return out


def _lines(
    cells: Sequence[list[str]], columns: Sequence[Column], sizes: Sequence[int]
) -> list[str]:
    height = max(len(c) for c in cells)
    lines = []
    for n in range(height):
        parts = [
            pad(c[n] if n < len(c) else "", size, col.align)
            for c, col, size in zip(cells, columns, sizes, strict=True)
        ]
        lines.append((" " * GAP).join(parts).rstrip())
    return lines


def _cell(lines: Sequence[str], total: bool = False) -> str:
    return f"<tr{' class=total' if total else ''}><td>{escape(chr(10).join(lines))}</td></tr>"


def grid_html(columns: Sequence[Column], rows: Sequence[Row], available: int) -> str:
    """A table whose header row repeats on every page. Consecutive rows share a table row until
    it has GROUP_LINES lines (a rule every five lines or so, as on ledger paper; a row's first
    column starts it): WeasyPrint's cost is largely per box, so this halves the time of a long
    table. The totals row stands alone, shaded.
    When even the narrowest layout is wider than ``available``, the font shrinks to fit."""
    sizes = widths(columns, rows, available)
    total = sum(sizes) + GAP * (len(sizes) - 1)
    shrunk = FONT_PT * available / total
    style = f' style="font-size: {shrunk:.2f}pt"' if total > available else ""
    header_cells = [wrap(col.header, size) for col, size in zip(columns, sizes, strict=True)]
    tallest = max(len(c) for c in header_cells)
    header_cells = [[""] * (tallest - len(c)) + c for c in header_cells]  # units line up below
    body: list[str] = []
    group: list[str] = []
    for row in rows:
        lines = _lines(
            [
                wrap(cell, size) if col.wrap is not None else [clean(cell)]
                for cell, col, size in zip(row.cells, columns, sizes, strict=True)
            ],
            columns,
            sizes,
        )
        if row.total:
            if group:
                body.append(_cell(group))
                group = []
            body.append(_cell(lines, total=True))
            continue
        group.extend(lines)
        if len(group) >= GROUP_LINES:
            body.append(_cell(group))
            group = []
    if group:
        body.append(_cell(group))
    header = escape("\n".join(_lines(header_cells, columns, sizes)))
    return (
        f'<table class="grid"{style}><thead><tr><th>{header}</th></tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )
