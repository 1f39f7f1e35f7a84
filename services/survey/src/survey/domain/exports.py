"""Export rows with a stable column order, and an SVG chart of demand by age group (written by hand)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from html import escape
from typing import Any

from survey.domain.questions import Question, QuestionKind

FIXED_COLUMNS = (
    "response_id",
    "household_id",
    "building",
    "unit",
    "room",
    "floor_area_m2",
    "resident_id",
    "age_group",
    "channel",
    "interviewed",
    "answered_at",
    "version",
)


def export_columns(questions: Sequence[Question]) -> list[str]:
    """Fixed columns, one per question in questionnaire order, then the suggestion: the same for every row,
    whatever skip path a household took (a hidden question is an empty cell)."""
    return [*FIXED_COLUMNS, *(f"q:{q.id}" for q in questions), "suggestion"]


def cell(question: Question, value: Any) -> Any:
    """An answer as a cell: numbers stay numbers (a spreadsheet sums them), lists are joined.

    Cells are written as they are: formula injection is neutralised once, by the writers in
    ``renovation_common.exports`` (a text cell that a spreadsheet would evaluate is prefixed there; a negative
    number stays a number, never ``'-5``)."""
    if value is None:
        return ""
    if question.kind is QuestionKind.MULTIPLE_CHOICE:
        return "|".join(value)
    if question.kind is QuestionKind.RANKING:
        return ">".join(value)
    if question.kind is QuestionKind.RATING:
        return int(value)
    if question.kind is QuestionKind.NUMBER:
        return Decimal(str(value))
    return str(value)


def export_row(
    questions: Sequence[Question], fixed: Mapping[str, Any], answers: Mapping[str, Any], suggestion: str | None
) -> list[Any]:
    out: list[Any] = [fixed.get(c) for c in FIXED_COLUMNS]
    out.extend(cell(q, answers.get(q.id)) for q in questions)
    out.append(suggestion or "")
    return out


COLOURS = {"youth": "#4e79a7", "middle_aged": "#f28e2b", "elderly": "#e15759", "unknown": "#bab0ac"}


def demand_chart_svg(title: str, options: Sequence[str], series: Mapping[str, Mapping[str, int]]) -> str:
    """Grouped bar chart: one group per option, one bar per age group (``series[group][option]`` = count)."""
    groups = [g for g in series if any(series[g].get(o, 0) for o in options)] or list(series)
    peak = max([series[g].get(o, 0) for g in groups for o in options] + [1])
    bar_w, gap, left, top, plot_h = 14, 18, 60, 50, 240
    group_w = max(1, len(groups)) * bar_w + gap
    width = left + max(1, len(options)) * group_w + 40
    height = top + plot_h + 120
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'font-family="sans-serif" font-size="11">',
        f"<title>{escape(title)}</title>",
        f'<text x="{left}" y="24" font-size="15" font-weight="bold">{escape(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 20}" y2="{top + plot_h}" stroke="#333"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#333"/>',
    ]
    for tick in range(5):
        value = peak * tick // 4
        y = top + plot_h - plot_h * tick // 4
        parts.append(f'<text x="{left - 6}" y="{y + 4}" text-anchor="end">{value}</text>')
    for i, option in enumerate(options):
        x0 = left + gap // 2 + i * group_w
        for j, g in enumerate(groups):
            count = series[g].get(option, 0)
            h = plot_h * count // peak
            parts.append(
                f'<rect x="{x0 + j * bar_w}" y="{top + plot_h - h}" width="{bar_w - 2}" height="{h}" '
                f'fill="{COLOURS.get(g, "#888")}"><title>{escape(g)} / {escape(option)}: {count}</title></rect>'
            )
        label_x = x0 + (len(groups) * bar_w) // 2
        parts.append(
            f'<text x="{label_x}" y="{top + plot_h + 14}" text-anchor="end" '
            f'transform="rotate(-40 {label_x} {top + plot_h + 14})">{escape(option)}</text>'
        )
    for j, g in enumerate(groups):
        x = left + j * 110
        y = height - 18
        parts.append(f'<rect x="{x}" y="{y - 10}" width="10" height="10" fill="{COLOURS.get(g, "#888")}"/>')
        parts.append(f'<text x="{x + 14}" y="{y}">{escape(g)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)
