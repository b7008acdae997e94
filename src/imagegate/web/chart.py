"""Server-drawn SVG charts (no plotting library, no script): one provider's daily p50/p95 and success rate.

Every text in the SVG goes through ``markupsafe.escape``; the result is trusted markup for the HTML template.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from markupsafe import Markup, escape

from imagegate.web.perf import DayPoint

W, H = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 52, 44, 14, 30


def _nice_ceiling(value: float) -> float:
    if value <= 0:
        return 1.0
    step = 10 ** len(str(int(value))) / 10
    for mult in (1, 2, 2.5, 5, 10):
        if value <= step * mult:
            return step * mult
    return value


def _seconds(ms: float) -> str:
    s = ms / 1000
    return f"{s:.0f} s" if s >= 10 else f"{s:.1f} s" if s >= 1 else f"{ms:.0f} ms"


def daily_chart(points: Sequence[DayPoint], start: date, end: date, label: str) -> Markup:
    """Bars: success rate per day (right axis); lines: p50 and p95 generation time (left axis)."""
    days = (end - start).days + 1
    by_day = {p.day: p for p in points}
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    top_ms = _nice_ceiling(max((p.p95_ms or p.p50_ms or 0 for p in points), default=0) * 1.05)
    slot = plot_w / days

    def x(i: int) -> float:
        return LEFT + slot * (i + 0.5)

    def y_ms(ms: float) -> float:
        return TOP + plot_h * (1 - ms / top_ms)

    parts = [
        f'<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-label="{escape(label)}" '
        'xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(label)}</title>",
    ]
    for frac in (0, 0.25, 0.5, 0.75, 1):
        yy = TOP + plot_h * (1 - frac)
        parts.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{yy:.1f}" y2="{yy:.1f}" class="grid"/>')
        parts.append(
            f'<text x="{LEFT - 6}" y="{yy + 4:.1f}" class="axis" text-anchor="end">'
            f"{escape(_seconds(top_ms * frac))}</text>"
        )
        parts.append(f'<text x="{W - RIGHT + 6}" y="{yy + 4:.1f}" class="axis">{frac * 100:.0f}%</text>')
    p50: list[str] = []
    p95: list[str] = []
    for i in range(days):
        day = start + timedelta(days=i)
        p = by_day.get(day)
        if p is None:
            p50.append("")
            p95.append("")
            continue
        if p.success_rate is not None:
            bh = plot_h * p.success_rate
            parts.append(
                f'<rect class="ok" x="{x(i) - slot * 0.35:.1f}" y="{TOP + plot_h - bh:.1f}" width="{slot * 0.7:.1f}" '
                f'height="{bh:.1f}"><title>{escape(day.isoformat())}: {p.success_rate * 100:.1f}% of '
                f"{p.requests} succeeded</title></rect>"
            )
        p50.append(f"{x(i):.1f},{y_ms(p.p50_ms):.1f}" if p.p50_ms is not None else "")
        p95.append(f"{x(i):.1f},{y_ms(p.p95_ms):.1f}" if p.p95_ms is not None else "")
    for cls, pts in (("p95", p95), ("p50", p50)):
        for run in " ".join(pt or "|" for pt in pts).split("|"):
            run = run.strip()
            if not run:
                continue
            if " " in run:
                parts.append(f'<polyline class="{cls}" points="{run}"/>')
            else:
                cx, cy = run.split(",")
                parts.append(f'<circle class="{cls}" cx="{cx}" cy="{cy}" r="2.5"/>')
    for i in (0, days // 2, days - 1):
        day = start + timedelta(days=i)
        parts.append(
            f'<text x="{x(i):.1f}" y="{H - 10}" class="axis" text-anchor="middle">'
            f"{escape(day.strftime('%b %d'))}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
