"""Stacked bar charts as plain geometry for the SVG in the templates (no JavaScript, no CDN).

The template draws the rectangles; only numbers and times computed here reach the markup, and Jinja's
autoescape covers the labels anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class Bar:
    x: float
    width: float
    segments: list[tuple[str, float, float, int]]  # (series, y, height, value)
    title: str


@dataclass
class Chart:
    width: int
    height: int
    bars: list[Bar] = field(default_factory=list)
    y_max: int = 0
    ticks: list[tuple[float, str]] = field(default_factory=list)  # (x, label)
    series: list[str] = field(default_factory=list)


def stacked_bars(
    starts: Sequence[datetime],
    series: dict[str, Sequence[int]],
    *,
    label_format: str,
    tick_every: int,
    width: int = 720,
    height: int = 160,
) -> Chart:
    """One bar per bucket (`starts`), each stacking the `series` values of that bucket bottom-up."""
    n = len(starts)
    totals = [sum(values[i] for values in series.values()) for i in range(n)]
    y_max = max(totals, default=0) or 1
    plot_h = height - 20  # room for the time labels below
    slot = width / max(n, 1)
    chart = Chart(width=width, height=height, y_max=max(totals, default=0), series=list(series))
    for i, start in enumerate(starts):
        y = float(plot_h)
        segments = []
        for name, values in series.items():
            value = values[i]
            h = plot_h * value / y_max
            if value:
                y -= h
                segments.append((name, round(y, 2), round(h, 2), value))
        parts = ", ".join(f"{name} {values[i]}" for name, values in series.items())
        chart.bars.append(
            Bar(
                round(i * slot + 1, 2),
                round(max(slot - 2, 1), 2),
                segments,
                f"{start.strftime(label_format)} UTC: {parts}",
            )
        )
        if i % tick_every == 0:
            chart.ticks.append((round(i * slot, 2), start.strftime(label_format)))
    return chart
