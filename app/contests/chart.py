"""The rank trend chart: a small server-rendered SVG (no JavaScript, styled by app.css classes)."""
from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _
from markupsafe import Markup, escape

from app.contests.rollup import local_tz, to_utc

WIDTH, HEIGHT = 340, 170
LEFT, RIGHT, TOP, BOTTOM = 34, 10, 12, 24


def _label(value: datetime) -> str:
    return to_utc(value).astimezone(local_tz()).strftime("%m-%d")


def _y(rank: int, worst: int) -> float:
    plot = HEIGHT - TOP - BOTTOM
    if worst <= 1:
        return TOP + plot / 2
    return TOP + (rank - 1) * plot / (worst - 1)


def _x(i: int, n: int) -> float:
    plot = WIDTH - LEFT - RIGHT
    return LEFT + (plot / 2 if n <= 1 else i * plot / (n - 1))


def trend_svg(trend, mine_id: int | None = None, mine_suffix: str = "") -> Markup:
    """Rank lines (1 at the top) of the trend's participants, and their key below as a list;
    ``mine_id``'s line stands out."""
    if trend is None or not trend.times:
        return Markup("")
    n = len(trend.times)
    seen = [r for _pid, _name, ranks in trend.series for r in ranks if r is not None]
    worst = max([trend.size or 1, *seen]) if seen else max(trend.size, 1)
    parts = [
        f'<svg class="trend" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="trend-title" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="trend-title">{escape(_("名次走势"))}</title>',
    ]
    # axes: rank 1 at the top, the last place at the bottom; first and last dates below
    base = HEIGHT - BOTTOM
    parts.append(f'<line class="trend-axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{base}"/>')
    parts.append(f'<line class="trend-axis" x1="{LEFT}" y1="{base}" x2="{WIDTH - RIGHT}" y2="{base}"/>')
    for rank in sorted({1, worst}):
        y = _y(rank, worst)
        parts.append(f'<text class="trend-tick" x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{rank}</text>')
    parts.append(f'<text class="trend-tick" x="{LEFT}" y="{base + 14}" text-anchor="start">'
                 f'{escape(_label(trend.times[0]))}</text>')
    if n > 1:
        parts.append(f'<text class="trend-tick" x="{WIDTH - RIGHT}" y="{base + 14}" text-anchor="end">'
                     f'{escape(_label(trend.times[-1]))}</text>')
    legend: list[str] = []
    for k, (pid, name, ranks) in enumerate(trend.series):
        cls = "me" if pid == mine_id else f"s{k % 4}"
        segment: list[str] = []
        segments: list[list[str]] = []
        for i, rank in enumerate(ranks):
            if rank is None:
                if segment:
                    segments.append(segment)
                segment = []
                continue
            segment.append(f"{_x(i, n):.1f},{_y(rank, worst):.1f}")
        if segment:
            segments.append(segment)
        for seg in segments:
            if len(seg) > 1:
                parts.append(f'<polyline class="trend-line {cls}" points="{" ".join(seg)}"/>')
        last = next(((i, r) for i, r in reversed(list(enumerate(ranks))) if r is not None), None)
        if last is not None:
            parts.append(f'<circle class="trend-dot {cls}" cx="{_x(last[0], n):.1f}" cy="{_y(last[1], worst):.1f}" r="3.5"/>')
        label = f"{name}{mine_suffix}" if pid == mine_id else name
        legend.append(f'<li><span class="key {cls}"></span>{escape(label)}</li>')
    parts.append("</svg>")
    parts.append(f'<ul class="trend-key">{"".join(legend)}</ul>')
    return Markup("".join(parts))
