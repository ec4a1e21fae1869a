"""Small SVG line charts for BENCHMARKS.md, written by hand (no plotting dependency)."""

from __future__ import annotations

import math
from html import escape

COLOURS = ["#1f6feb", "#d1242f", "#2da44e", "#8250df"]
FONT = 'font-family="sans-serif" font-size="12"'


def _nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.floor(low / step) * step
    ticks, value = [], start
    while value <= high + step / 2:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _label(value: float) -> str:
    if value >= 1000:
        return f"{value:,.0f}"
    if value == int(value):
        return f"{value:.0f}"
    return f"{value:g}"


def chart(
    title: str,
    x_label: str,
    y_label: str,
    series: dict[str, list[tuple[float, float]]],
    *,
    log_x: bool = False,
    width: int = 440,
    height: int = 300,
    x: int = 0,
) -> str:
    """One chart as an SVG group at horizontal offset `x`: a line with dots per series,
    y from 0, x linear or logarithmic (base 10 ticks, or the points' own x when few)."""
    left, right, top, bottom = 64, 28, 34, 64
    plot_w, plot_h = width - left - right, height - top - bottom
    xs = [px for points in series.values() for px, _ in points]
    ys = [py for points in series.values() for _, py in points]
    if not xs:
        return ""
    y_ticks = _nice_ticks(0, max(ys) * 1.05 or 1)
    y_max = y_ticks[-1]

    def fx(value: float) -> float:
        if log_x:
            low, high = math.log10(min(xs)), math.log10(max(xs))
            span = (high - low) or 1
            return left + (math.log10(value) - low) / span * plot_w
        low, high = min(xs), max(xs)
        return left + (value - low) / ((high - low) or 1) * plot_w

    def fy(value: float) -> float:
        return top + plot_h - value / y_max * plot_h

    parts = [f'<g transform="translate({x},0)" {FONT}>']
    parts.append(
        f'<text x="{left + plot_w / 2}" y="18" text-anchor="middle" font-size="14"'
        f' font-weight="bold">{escape(title)}</text>'
    )
    for tick in y_ticks:
        ty = fy(tick)
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{ty:.1f}" y2="{ty:.1f}" stroke="#ddd"/>'
        )
        parts.append(
            f'<text x="{left - 6}" y="{ty + 4:.1f}" text-anchor="end">{_label(tick)}</text>'
        )
    x_ticks = sorted(set(xs))
    if log_x and len(x_ticks) > 8:
        x_ticks = [
            10**e
            for e in range(math.floor(math.log10(min(xs))), math.ceil(math.log10(max(xs))) + 1)
            if min(xs) <= 10**e <= max(xs)
        ]
    for tick in x_ticks:
        tx = fx(tick)
        parts.append(
            f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{top}" y2="{top + plot_h}" stroke="#eee"/>'
        )
        parts.append(
            f'<text x="{tx:.1f}" y="{top + plot_h + 16}" text-anchor="middle">{_label(tick)}</text>'
        )
    parts.append(
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#888"/>'
    )
    parts.append(
        f'<text x="{left + plot_w / 2}" y="{top + plot_h + 36}" text-anchor="middle">'
        f"{escape(x_label)}</text>"
    )
    parts.append(
        f'<text transform="translate(16,{top + plot_h / 2}) rotate(-90)"'
        f' text-anchor="middle">{escape(y_label)}</text>'
    )
    for number, (name, points) in enumerate(series.items()):
        colour = COLOURS[number % len(COLOURS)]
        path = " ".join(f"{fx(px):.1f},{fy(py):.1f}" for px, py in sorted(points))
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for px, py in points:
            parts.append(f'<circle cx="{fx(px):.1f}" cy="{fy(py):.1f}" r="3" fill="{colour}"/>')
        ly = top + plot_h + 52
        lx = left + number * 130
        parts.append(
            f'<rect x="{lx}" y="{ly - 9}" width="12" height="4" fill="{colour}"/>'
            f'<text x="{lx + 16}" y="{ly - 4}">{escape(name)}</text>'
        )
    parts.append("</g>")
    return "\n".join(parts)


def svg(*charts: str, width: int, height: int = 300) -> str:
    body = "\n".join(charts)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"'
        f' viewBox="0 0 {width} {height}">\n<rect width="100%" height="100%" fill="white"/>\n'
        f"{body}\n</svg>\n"
    )
