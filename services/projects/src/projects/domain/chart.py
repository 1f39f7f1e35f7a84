"""The work-face handover sequence chart (交叉施工作业面移交时序图) as data and as hand-written SVG."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from html import escape

from projects.domain.progress import PlannedHandover, PlannedPackage
from renovation_common.svg import FONT_STACK, fit, text_width, wrap

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
    trade_names: Mapping[str, str] | None = None,
) -> str:
    """A row per face, a bar per trade (its Chinese name), handovers as diamonds (filled when recorded), a date axis
    with a tick every few working days, and a legend for every mark. Every label is placed inside the picture:
    titles wrap, face names and bar labels are cut to the room they have."""
    recorded = recorded or {}
    names = trade_names or {}

    def label(trade: str) -> str:
        return names.get(trade, trade)

    horizon = max([b.end for r in rows for b in r.bars] + [1])
    day_w = max(2.0, min(16.0, 1000.0 / horizon))
    left = int(min(260.0, max(80.0, max([text_width(r.face_name, 11) for r in rows] + [0.0]) + 16)))
    chart_w = horizon * day_w
    trades = sorted({b.trade for r in rows for b in r.bars})
    colour = {t: PALETTE[i % len(PALETTE)] for i, t in enumerate(trades)}
    legend = [(label(t), "bar", colour[t]) for t in trades] + [
        ("计划移交", "diamond", "#fff"),
        ("已移交", "diamond", "#222"),
    ]
    cell = max(110.0, max(text_width(text, 11) for text, _, _ in legend) + 26)
    width = int(max(left + chart_w + 40, 640))
    per_row = max(1, int((width - 20) // cell))
    title_lines = wrap(title, 14, width - 20)
    top = 30 + 18 * len(title_lines) + 20  # title, then the date labels above the grid
    # trades that work a face at the same time get a lane each inside its row, so no bar hides another
    lanes = [_lanes(r.bars) for r in rows]
    lane_h = 22
    heights = [max(34, 14 + lane_h * (max(ls.values(), default=0) + 1)) for ls in lanes]
    tops = [top + sum(heights[:i]) for i in range(len(rows))]
    grid_bottom = top + (sum(heights) if rows else 34)
    legend_rows = -(-len(legend) // per_row)
    height = int(grid_bottom + 24 + 18 * legend_rows + 10)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="{escape(FONT_STACK)}" font-size="11">',
        f"<title>{escape(title)}</title>",
    ]
    for i, line in enumerate(title_lines):
        out.append(
            f'<text class="title" x="10" y="{24 + 18 * i}" font-size="14" font-weight="bold">{escape(line)}</text>'
        )
    # a date every ``step`` working days (whole days: the axis counts working days, never fractions of one); the
    # step leaves room for a date label (10 characters at 9 px) between two ticks
    step = max(1, -(-int(text_width("2025-01-01", 9) + 8) // max(1, int(day_w))))
    for k in range(0, horizon + 1, step):
        x = left + k * day_w
        out.append(f'<line x1="{x:.1f}" y1="{top - 8}" x2="{x:.1f}" y2="{grid_bottom}" stroke="#ddd"/>')
        if k < len(dates) and x + text_width("2025-01-01", 9) <= width:
            out.append(f'<text class="tick" x="{x:.1f}" y="{top - 12}" font-size="9">{dates[k].isoformat()}</text>')
    for i, row in enumerate(rows):
        y, row_h = tops[i], heights[i]
        if i:
            out.append(f'<line x1="8" y1="{y}" x2="{width - 10}" y2="{y}" stroke="#eee"/>')
        face = escape(fit(row.face_name, 11, left - 14))
        out.append(f'<text class="face" x="8" y="{y + row_h / 2 + 4:.1f}">{face}</text>')
        for bar in row.bars:
            x = left + bar.start * day_w
            w = max(1.0, (bar.end - bar.start) * day_w)
            by = y + 4 + lanes[i][bar] * lane_h
            name = label(bar.trade)
            out.append(
                f'<rect class="bar" x="{x:.1f}" y="{by}" width="{w:.1f}" height="{lane_h - 4}" '
                f'fill="{colour[bar.trade]}" rx="2"><title>{escape(name)}: {bar.start_date} – {bar.finish_date} '
                f"({escape(', '.join(bar.packages))})</title></rect>"
            )
            if w - 6 >= text_width(name, 10):
                ty = by + (lane_h - 4) / 2 + 4
                out.append(f'<text x="{x + 3:.1f}" y="{ty:.1f}" font-size="10" fill="#fff">{escape(name)}</text>')
        for h in row.handovers:
            x = left + h.index * day_w
            cy = y + row_h - 6
            done = (h.face_id, h.from_trade, h.to_trade) in recorded
            fill = "#222" if done else "#fff"
            out.append(
                f'<path d="{_diamond(x, cy)}" fill="{fill}" stroke="#222"><title>{escape(label(h.from_trade))} → '
                f"{escape(label(h.to_trade))} {h.planned_on}{'（已移交）' if done else ''}</title></path>"
            )
    ly = grid_bottom + 24
    for i, (text, mark, fill) in enumerate(legend):
        x = 10 + (i % per_row) * cell
        yy = ly + (i // per_row) * 18
        if mark == "bar":
            out.append(f'<rect x="{x:.1f}" y="{yy - 9}" width="12" height="10" fill="{fill}"/>')
        else:
            out.append(f'<path d="{_diamond(x + 6, yy - 4)}" fill="{fill}" stroke="#222"/>')
        out.append(f'<text class="legend" x="{x + 18:.1f}" y="{yy}">{escape(text)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def _lanes(bars: Sequence[TradeBar]) -> dict[TradeBar, int]:
    """Each bar's lane in its row: the first lane free from its start (bars come sorted by start)."""
    ends: list[int] = []
    out: dict[TradeBar, int] = {}
    for bar in bars:
        lane = next((k for k, end in enumerate(ends) if end <= bar.start), len(ends))
        if lane == len(ends):
            ends.append(bar.end)
        else:
            ends[lane] = bar.end
        out[bar] = lane
    return out


def _diamond(x: float, cy: float) -> str:
    return f"M{x:.1f},{cy - 5} L{x + 5:.1f},{cy} L{x:.1f},{cy + 5} L{x - 5:.1f},{cy} Z"
