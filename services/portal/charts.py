"""Charts drawn as inline SVG on the server (no CDN, no script): bars, stacked columns, columns.

Colours come from CSS classes (`.s0`…`.s5` in portal.css) so the policy needs no inline style.
Every chart carries a <title> and each mark its own <title> (a tooltip and for screen readers).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[float | None]


def _num(value: float | None) -> float:
    return float(value) if value is not None else 0.0


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    text = f"{value:,.1f}".rstrip("0").rstrip(".") if value % 1 else f"{int(value):,}"
    return text.replace(",", ".") + unit


def nice_top(value: float, *, integer: bool) -> float:
    """A round upper bound for an axis with four steps (counts get whole-number steps)."""
    step = max(value, 1e-9) / 4
    magnitude = 10 ** math.floor(math.log10(step))
    for factor in (1, 2, 2.5, 5, 10):
        if factor * magnitude >= step:
            step = factor * magnitude
            break
    if integer:
        step = max(1.0, math.ceil(step))
    return step * 4


def _svg(width: int, height: int, title: str, body: list[str], css: str = "chart") -> Markup:
    t = escape(title)
    return Markup(
        f'<svg class="{css}" viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{t}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{t}</title>{"".join(body)}</svg>'
    )


def bars(
    items: Sequence[tuple[str, float | None]],
    *,
    title: str,
    unit: str = "",
    max_value: float | None = None,
    width: int = 520,
    empty: str = "",
) -> Markup:
    """Horizontal bars, one per (label, value)."""
    if not items:
        return Markup(f'<p class="muted chart-empty">{escape(empty)}</p>')
    row, label_w, pad = 26, min(230, width // 2), 8
    top = max([_num(v) for _, v in items] + [max_value or 0.0, 1e-9])
    plot_w = width - label_w - 70
    body: list[str] = []
    for i, (label, value) in enumerate(items):
        y = i * row + pad
        w = max(0.0, _num(value) / top * plot_w)
        shown = escape(label if len(label) <= 32 else label[:30] + "…")
        body.append(
            f'<text class="lbl" x="{label_w - 6}" y="{y + 16}" text-anchor="end">{shown}</text>'
            f'<rect class="s{i % 6 if len(items) <= 6 else 0}" x="{label_w}" y="{y + 3}" width="{w:.1f}" '
            f'height="{row - 8}" rx="3"><title>{escape(label)}: {escape(_fmt(value, unit))}</title></rect>'
            f'<text class="val" x="{label_w + w + 6:.1f}" y="{y + 16}">{escape(_fmt(value, unit))}</text>'
        )
    return _svg(width, len(items) * row + 2 * pad, title, body)


def stacked_columns(
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    unit: str = "",
    width: int = 520,
    height: int = 240,
    empty: str = "",
    integer: bool = True,
) -> Markup:
    """One column per category, the series stacked (e.g. early / on time / late per month)."""
    if not categories:
        return Markup(f'<p class="muted chart-empty">{escape(empty)}</p>')
    left, bottom, top_pad, legend_h = 44, 28, 10, 22
    plot_h = height - bottom - top_pad - legend_h
    totals = [sum(_num(s.values[i]) for s in series) for i in range(len(categories))]
    top = nice_top(max([*totals, 1e-9]), integer=integer)
    slot = (width - left - 10) / len(categories)
    col_w = min(48.0, slot * 0.6)
    body: list[str] = []
    for k in range(5):
        y = top_pad + legend_h + plot_h - plot_h * k / 4
        body.append(
            f'<line class="grid" x1="{left}" x2="{width - 6}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="axis" x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{escape(_fmt(top * k / 4))}</text>'
        )
    for i, cat in enumerate(categories):
        x = left + slot * i + (slot - col_w) / 2
        base = float(top_pad + legend_h + plot_h)
        for j, s in enumerate(series):
            v = _num(s.values[i])
            h = v / top * plot_h
            if h > 0:
                base -= h
                body.append(
                    f'<rect class="s{j % 6}" x="{x:.1f}" y="{base:.1f}" width="{col_w:.1f}" height="{h:.1f}">'
                    f"<title>{escape(cat)} — {escape(s.label)}: {escape(_fmt(v, unit))}</title></rect>"
                )
        body.append(
            f'<text class="axis" x="{x + col_w / 2:.1f}" y="{height - 8}" text-anchor="middle">{escape(cat)}</text>'
        )
    x = left
    for j, s in enumerate(series):
        body.append(
            f'<rect class="s{j % 6}" x="{x}" y="4" width="12" height="12" rx="2"/>'
            f'<text class="lbl" x="{x + 16}" y="14">{escape(s.label)}</text>'
        )
        x += 24 + 8 * len(s.label)
    return _svg(width, height, title, body)


def columns(
    items: Sequence[tuple[str, float | None]],
    *,
    title: str,
    unit: str = "",
    width: int = 520,
    height: int = 200,
    empty: str = "",
    integer: bool = False,
) -> Markup:
    """Vertical columns (e.g. the average wait per hour of the day)."""
    if not items:
        return Markup(f'<p class="muted chart-empty">{escape(empty)}</p>')
    return stacked_columns(
        [label for label, _ in items],
        [Series(title, [v for _, v in items])],
        title=title,
        unit=unit,
        width=width,
        height=height,
        empty=empty,
        integer=integer,
    )
