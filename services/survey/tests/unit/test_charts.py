"""The demand-by-age-group chart as SVG: Chinese labels, integer ticks, a legend per age group, wrapped titles."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from renovation_common.svg import FONT_STACK, text_width
from survey.domain.charts import demand_chart_svg
from survey.domain.questions import Question, QuestionKind, Questionnaire, QuestionnaireError

NS = "{http://www.w3.org/2000/svg}"


def menu_question(**kw) -> Question:
    return Question(
        "want",
        QuestionKind.MULTIPLE_CHOICE,
        "您需要哪些设施?",
        options=("canteen", "gym", "community_canteen"),
        option_labels=(("canteen", "早餐店与食堂"), ("gym", "健身房")),
        **kw,
    )


def texts(root: ET.Element, cls: str | None = None) -> list[str]:
    return [e.text or "" for e in root.iter(f"{NS}text") if cls is None or e.get("class") == cls]


def test_small_counts_get_distinct_integer_ticks_and_chinese_labels():
    series = {"youth": {"gym": 1}, "elderly": {"canteen": 2, "community_canteen": 1}, "middle_aged": {}}
    svg = demand_chart_svg("需求调查 <第一轮>: 您需要哪些设施?", menu_question(), series)
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    assert texts(root, "tick") == ["0", "1", "2"]  # never 0, 0, 1, 1, 2
    # the questionnaire's labels, else the menu item's Chinese name
    assert texts(root, "option") == ["早餐店与食堂", "健身房", "社区食堂"]
    assert texts(root, "legend") == ["青年", "老年"]  # the age groups drawn, in age order; an empty group is not
    assert root.get("font-family") == FONT_STACK and "&lt;第一轮&gt;" in svg
    tips = [t.text for t in root.iter(f"{NS}title")]
    assert "老年 / 早餐店与食堂: 2" in tips and "青年 / 健身房: 1" in tips


@pytest.mark.parametrize(
    ("peak", "expected"),
    [(0, [0, 1]), (3, [0, 1, 2, 3]), (7, [0, 2, 4, 6, 8]), (12, [0, 5, 10, 15]),
     (2380, [0, 500, 1000, 1500, 2000, 2500])],
)  # fmt: skip
def test_ticks_step_at_nice_integers(peak, expected):
    q = Question("q", QuestionKind.SINGLE_CHOICE, "q", options=("a",))
    root = ET.fromstring(demand_chart_svg("t", q, {"elderly": {"a": peak}}))  # noqa: S314
    assert [int(t) for t in texts(root, "tick")] == expected


def test_a_long_title_wraps_within_the_width():
    title = "劲松北社区第二轮菜单式改造意愿与需求调查（按年龄段统计，含青年、中年、老年与未知年龄的居民）: 您需要?"
    q = Question("q", QuestionKind.SINGLE_CHOICE, "q", options=("a", "b"))
    root = ET.fromstring(demand_chart_svg(title, q, {"youth": {"a": 1}}))  # noqa: S314
    width = float(root.get("width") or 0)
    lines = [e for e in root.iter(f"{NS}text") if e.get("font-weight") == "bold"]
    assert len(lines) >= 2
    assert "".join(e.text or "" for e in lines).replace(" ", "") == title.replace(" ", "")  # nothing lost
    assert all(10 + text_width(e.text or "", 15) <= width for e in lines)


def test_option_labels_must_name_options_once():
    with pytest.raises(QuestionnaireError):
        Questionnaire((Question("q", QuestionKind.SINGLE_CHOICE, "q", options=("a",), option_labels=(("b", "乙"),)),))
    with pytest.raises(QuestionnaireError):
        Questionnaire((Question("q", QuestionKind.SINGLE_CHOICE, "q", options=("a",), option_labels=(("a", " "),)),))
