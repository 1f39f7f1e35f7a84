"""The demand-by-age-group chart (需求调查按年龄段统计): a grouped bar chart written by hand as SVG."""

from __future__ import annotations

import math
from collections.abc import Mapping
from html import escape

from renovation_common.contracts.survey import MENU_ITEM_NAMES_ZH
from renovation_common.svg import FONT_STACK, fit, integer_ticks, text_width, wrap
from survey.domain.questions import Question
from survey.domain.results import AgeGroups

AGE_GROUP_NAMES_ZH = {"youth": "青年", "middle_aged": "中年", "elderly": "老年", "unknown": "未知"}
COLOURS = {"youth": "#4e79a7", "middle_aged": "#f28e2b", "elderly": "#e15759", "unknown": "#bab0ac"}

TITLE_SIZE, LABEL_SIZE = 15, 11
BAR_W, GAP, PLOT_H = 14, 18, 240
LABEL_ANGLE = 40  # option labels slant down to the left from under their group
LABEL_MAX_W = 150.0  # a longer option label is cut (its full text stays in the bar's tooltip)
MIN_WIDTH = 480


def group_name(group: str) -> str:
    return AGE_GROUP_NAMES_ZH.get(group, group)


def demand_chart_svg(title: str, question: Question, series: Mapping[str, Mapping[str, int]]) -> str:
    """One group of bars per option of ``question`` (its label: the questionnaire's, else the menu item's Chinese
    name, else the option), one bar per age group (青年/中年/老年/未知; ``series[group][option]`` = count).

    A count axis of distinct integers at a nice step, the title wrapped to the width, a legend entry for every age
    group drawn, a CJK font stack; every label is placed inside the picture."""
    order = {g: i for i, g in enumerate(AgeGroups.NAMES)}
    drawn = sorted(series, key=lambda g: (order.get(g, len(order)), g))
    groups = [g for g in drawn if any(series[g].get(o, 0) for o in question.options)] or drawn
    ticks = integer_ticks(max([series[g].get(o, 0) for g in groups for o in question.options] + [0]))
    scale = ticks[-1]

    full = [question.label(o, MENU_ITEM_NAMES_ZH) for o in question.options]
    labels = [fit(text, LABEL_SIZE, LABEL_MAX_W) for text in full]
    label_w = max(text_width(t, LABEL_SIZE) for t in labels)
    cos, sin = math.cos(math.radians(LABEL_ANGLE)), math.sin(math.radians(LABEL_ANGLE))
    group_w = max(1, len(groups)) * BAR_W + GAP
    half_group = GAP / 2 + max(1, len(groups)) * BAR_W / 2
    tick_w = text_width(str(ticks[-1]), LABEL_SIZE)
    # room on the left for the tick labels and for the first option label slanting to the left
    left = math.ceil(max(50.0, tick_w + 16, label_w * cos + LABEL_SIZE * sin - half_group + 12))
    plot_w = len(question.options) * group_w
    legend = [(group_name(g), COLOURS.get(g, "#888")) for g in groups]
    cell = max(80.0, max([text_width(t, LABEL_SIZE) + 26 for t, _ in legend] + [0.0]))
    width = math.ceil(max(left + plot_w + 30, MIN_WIDTH, 20 + cell * min(len(legend), 4)))
    title_lines = wrap(title, TITLE_SIZE, width - 20)
    top = 24 + 20 * (len(title_lines) - 1) + 34  # the title, then the axis caption above the plot
    axis_y = top + PLOT_H
    label_h = label_w * sin + LABEL_SIZE * cos + 18
    per_row = max(1, int((width - 20) // cell))
    legend_top = math.ceil(axis_y + label_h + 16)
    height = legend_top + 18 * -(-len(legend) // per_row) + 6

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'font-family="{escape(FONT_STACK)}" font-size="{LABEL_SIZE}">',
        f"<title>{escape(title)}</title>",
    ]
    for i, line in enumerate(title_lines):
        parts.append(
            f'<text class="title" x="10" y="{24 + 20 * i}" font-size="{TITLE_SIZE}" font-weight="bold">'
            f"{escape(line)}</text>"
        )
    parts.append(f'<text x="{left - 6}" y="{top - 12}" text-anchor="end" fill="#555">人数</text>')
    for value in ticks:
        y = axis_y - PLOT_H * value / scale
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#e5e5e5"/>')
        parts.append(f'<text class="tick" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{value}</text>')
    parts.append(f'<line x1="{left}" y1="{axis_y}" x2="{left + plot_w}" y2="{axis_y}" stroke="#333"/>')
    parts.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{axis_y}" stroke="#333"/>')
    for i, option in enumerate(question.options):
        x0 = left + GAP / 2 + i * group_w
        for j, g in enumerate(groups):
            count = series[g].get(option, 0)
            h = PLOT_H * count / scale
            parts.append(
                f'<rect x="{x0 + j * BAR_W:.1f}" y="{axis_y - h:.1f}" width="{BAR_W - 2}" height="{h:.1f}" '
                f'fill="{COLOURS.get(g, "#888")}"><title>{escape(group_name(g))} / {escape(full[i])}: {count}'
                "</title></rect>"
            )
        label_x = x0 + max(1, len(groups)) * BAR_W / 2
        label_y = axis_y + 14
        parts.append(
            f'<text class="option" x="{label_x:.1f}" y="{label_y}" text-anchor="end" '
            f'transform="rotate(-{LABEL_ANGLE} {label_x:.1f} {label_y})">{escape(labels[i])}</text>'
        )
    for k, (text, fill) in enumerate(legend):
        x = 10 + (k % per_row) * cell
        y = legend_top + 12 + (k // per_row) * 18
        parts.append(f'<rect x="{x:.1f}" y="{y - 10}" width="12" height="10" fill="{fill}"/>')
        parts.append(f'<text class="legend" x="{x + 18:.1f}" y="{y}">{escape(text)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)
