"""Export rows with a stable column order (the demand-by-age-group chart is in ``survey.domain.charts``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
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
