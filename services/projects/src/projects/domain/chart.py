"""The work-face handover sequence chart (交叉施工作业面移交时序图) as data and as hand-written SVG."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from html import escape

from projects.domain.progress import PlannedHandover, PlannedPackage

PALETTE = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
    "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac", "#1f77b4", "#8c564b",
)  # fmt: skip


@dataclass(frozen=True)
class TradeBar:
    trade: str
    start: int
    end: int
    start_date: date
    finish_date: date
    packages: tuple[str, ...]


@dataclass(frozen=True)
class FaceRow:
    face_id: str
    face_name: str
    bars: tuple[TradeBar, ...]
    handovers: tuple[PlannedHandover, ...]


def build_chart(packages: Sequence[PlannedPackage], handovers: Sequence[PlannedHandover]) -> list[FaceRow]:
    by_face: dict[str, list[PlannedPackage]] = defaultdict(list)
    for p in packages:
        by_face[p.face_id].append(p)
    hand_by_face: dict[str, list[PlannedHandover]] = defaultdict(list)
    for h in handovers:
        hand_by_face[h.face_id].append(h)
    rows = []
    for face_id, items in sorted(by_face.items(), key=lambda kv: (kv[1][0].face_name, kv[0])):
        trades: dict[str, list[PlannedPackage]] = defaultdict(list)
        for p in items:
            trades[p.trade].append(p)
        bars = []
        for trade, ps in trades.items():
            first = min(ps, key=lambda p: p.start)
            last = max(ps, key=lambda p: p.end)
            bars.append(
                TradeBar(trade, first.start, last.end, first.start_date, last.finish_date, tuple(p.code for p in ps))
            )
        bars.sort(key=lambda b: (b.start, b.trade))
        rows.append(FaceRow(face_id, items[0].face_name, tuple(bars), tuple(hand_by_face[face_id])))
    return rows


def render_svg(
    title: str,
    rows: Sequence[FaceRow],
    dates: Sequence[date],
    recorded: Mapping[tuple[str, str, str], datetime] | None = None,
) -> str:
    """A row per face, a bar per trade, handovers as diamonds (filled when recorded)."""
    recorded = recorded or {}
    horizon = max([b.end for r in rows for b in r.bars] + [1])
    day_w = max(2.0, min(16.0, 1000.0 / horizon))
    left, top, row_h = 170, 50, 34
    width = int(left + horizon * day_w + 30)
    height = top + row_h * max(1, len(rows)) + 60
    trades = sorted({b.trade for r in rows for b in r.bars})
    colour = {t: PALETTE[i % len(PALETTE)] for i, t in enumerate(trades)}
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f"<title>{escape(title)}</title>",
        f'<text x="10" y="20" font-size="14" font-weight="bold">{escape(title)}</text>',
    ]
    step = max(1, round(60 / day_w))
    for k in range(0, horizon + 1, step):
        x = left + k * day_w
        out.append(f'<line x1="{x:.1f}" y1="{top - 8}" x2="{x:.1f}" y2="{top + row_h * len(rows)}" stroke="#ddd"/>')
        if k < len(dates):
            out.append(f'<text x="{x:.1f}" y="{top - 12}" font-size="9">{dates[k].isoformat()}</text>')
    for i, row in enumerate(rows):
        y = top + i * row_h
        out.append(f'<text x="8" y="{y + row_h / 2 + 4:.1f}">{escape(row.face_name[:24])}</text>')
        for bar in row.bars:
            x = left + bar.start * day_w
            w = max(1.0, (bar.end - bar.start) * day_w)
            out.append(
                f'<rect x="{x:.1f}" y="{y + 6}" width="{w:.1f}" height="{row_h - 14}" fill="{colour[bar.trade]}" '
                f'rx="2"><title>{escape(bar.trade)}: {bar.start_date} – {bar.finish_date} '
                f"({escape(', '.join(bar.packages))})</title></rect>"
            )
            if w > 40:
                out.append(f'<text x="{x + 3:.1f}" y="{y + row_h / 2 + 3:.1f}" fill="#fff">{escape(bar.trade)}</text>')
        for h in row.handovers:
            x = left + h.index * day_w
            cy = y + row_h - 6
            done = (h.face_id, h.from_trade, h.to_trade) in recorded
            fill = "#222" if done else "#fff"
            out.append(
                f'<path d="M{x:.1f},{cy - 5} L{x + 5:.1f},{cy} L{x:.1f},{cy + 5} L{x - 5:.1f},{cy} Z" '
                f'fill="{fill}" stroke="#222"><title>{escape(h.from_trade)} → {escape(h.to_trade)} '
                f"{h.planned_on}{' (recorded)' if done else ''}</title></path>"
            )
    ly = top + row_h * len(rows) + 25
    for i, t in enumerate(trades):
        x = 10 + (i % 8) * 120
        yy = ly + (i // 8) * 16
        out.append(f'<rect x="{x}" y="{yy - 9}" width="10" height="10" fill="{colour[t]}"/>')
        out.append(f'<text x="{x + 14}" y="{yy}">{escape(t)}</text>')
    out.append("</svg>")
    return "\n".join(out)
