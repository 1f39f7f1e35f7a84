"""Export rows with a stable column order (the demand-by-age-group chart is in ``survey.domain.charts``).

An answers export has two faces of the same rows (the platform's export convention, as projects' progress
workbook): for people, Chinese headers, codes named in Chinese and times as wall times in the service's zone; for
programs, the machine header row (:data:`FIXED_COLUMNS`, ``q:<id>``, ``suggestion``), codes and ISO 8601 times
with their offset. Ids and names stand side by side in both (community, building)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from renovation_common.contracts.survey import MENU_ITEM_NAMES_ZH
from survey.domain.questions import CHOICE_KINDS, Question, QuestionKind

FIXED_COLUMNS = (  # the machine header row: snake_case keys, stable (new columns are only ever added)
    "response_id",
    "household_id",
    "community_id",
    "community_name",
    "building_id",
    "building",
    "building_name",
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
FIXED_HEADERS_ZH = {  # the header row people read
    "response_id": "答卷编号",
    "household_id": "住户编号",
    "community_id": "社区编号",
    "community_name": "社区",
    "building_id": "楼栋编号",
    "building": "楼栋代码",
    "building_name": "楼栋",
    "unit": "单元",
    "room": "房号",
    "floor_area_m2": "专有面积(m²)",
    "resident_id": "居民编号",
    "age_group": "年龄段",
    "channel": "征询方式",
    "interviewed": "访员代录",
    "answered_at": "答复时间",
    "version": "版本",
}
SUGGESTION_ZH = "意见建议"
CHANNEL_NAMES_ZH = {"app": "APP", "door_to_door": "入户走访", "paper": "纸质问卷", "meeting": "居民会议"}
AGE_GROUP_NAMES_ZH = {"youth": "青年", "middle_aged": "中年", "elderly": "老年", "unknown": "未知"}
YES_NO_ZH = {"yes": "是", "no": "否"}


def export_columns(questions: Sequence[Question]) -> list[str]:
    """Fixed columns, one per question in questionnaire order, then the suggestion: the same for every row,
    whatever skip path a household took (a hidden question is an empty cell)."""
    return [*FIXED_COLUMNS, *(f"q:{q.id}" for q in questions), "suggestion"]


def export_headers_zh(questions: Sequence[Question], zone: str) -> list[str]:
    """:func:`export_columns` for people, column for column: Chinese names, each question by its text (and id),
    the answer time with its zone (``答复时间（北京时间）``)."""
    fixed = [FIXED_HEADERS_ZH[c] + (f"（{zone}）" if c == "answered_at" and zone else "") for c in FIXED_COLUMNS]
    return [*fixed, *(f"{q.text}（{q.id}）" for q in questions), SUGGESTION_ZH]


def machine_row(
    questions: Sequence[Question], fixed: Mapping[str, Any], answers: Mapping[str, Any], suggestion: str | None
) -> list[Any]:
    """A row under :func:`export_columns`: codes as stored, the answer time (``fixed["answered_at"]``, an aware
    datetime in the service's zone) in ISO 8601 with its offset (``2026-12-03T21:05:00.120000+08:00``)."""
    return export_row(questions, {**fixed, "answered_at": fixed["answered_at"].isoformat()}, answers, suggestion)


def people_row(
    questions: Sequence[Question], fixed: Mapping[str, Any], answers: Mapping[str, Any], suggestion: str | None
) -> list[Any]:
    """The same row for people: channel, age group and yes/no named in Chinese, the options picked as they read
    (the question's label, else a menu item's Chinese name, else the option), the answer time as its wall time in
    the service's zone (to the second; the header names the zone)."""
    values = {
        **fixed,
        "channel": CHANNEL_NAMES_ZH.get(fixed["channel"], fixed["channel"]),
        "age_group": AGE_GROUP_NAMES_ZH.get(fixed["age_group"], fixed["age_group"]),
        "interviewed": YES_NO_ZH.get(fixed["interviewed"], fixed["interviewed"]),
        "answered_at": fixed["answered_at"].replace(tzinfo=None, microsecond=0),
    }
    return export_row(questions, values, {q.id: _as_read(q, answers.get(q.id)) for q in questions}, suggestion)


def _as_read(question: Question, value: Any) -> Any:
    if value is None or question.kind not in CHOICE_KINDS:
        return value
    if isinstance(value, list):
        return [question.label(str(v), MENU_ITEM_NAMES_ZH) for v in value]
    return question.label(str(value), MENU_ITEM_NAMES_ZH)


def wall_times_as_text(row: Sequence[Any]) -> list[Any]:
    """A people row for CSV: wall times as ``2026-12-03 21:05:00`` (what a spreadsheet reads as a date)."""
    return [f"{v:%Y-%m-%d %H:%M:%S}" if isinstance(v, datetime) else v for v in row]


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
