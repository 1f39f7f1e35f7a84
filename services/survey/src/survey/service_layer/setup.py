"""A consultation's set-up (questionnaire, rule, menu) from its stored row."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from survey.adapters.orm import ConsultationRow
from survey.domain.consultation import ConsultationKind, Setup
from survey.domain.questions import Question, QuestionKind, Questionnaire, ShowIf
from survey.domain.rules import DecisionRule, parse_fraction


# -- (de)serialising the questionnaire ---------------------------------------------------------------------------
def question_from_dict(d: dict[str, Any]) -> Question:
    show = d.get("show_if")
    return Question(
        id=d["id"],
        kind=QuestionKind(d["kind"]),
        text=d["text"],
        options=tuple(d.get("options") or ()),
        option_labels=tuple((d.get("option_labels") or {}).items()),
        required=bool(d.get("required", True)),
        min_picks=d.get("min_picks"),
        max_picks=d.get("max_picks"),
        min_value=Decimal(str(d["min_value"])) if d.get("min_value") is not None else None,
        max_value=Decimal(str(d["max_value"])) if d.get("max_value") is not None else None,
        max_length=int(d.get("max_length") or 500),
        show_if=ShowIf(show["question_id"], tuple(show["any_of"])) if show else None,
    )


def setup_of(row: ConsultationRow) -> Setup:
    threshold = parse_fraction(row.threshold) if row.threshold else None
    return Setup(
        kind=ConsultationKind(row.kind),
        questionnaire=Questionnaire(tuple(question_from_dict(q) for q in row.questions)),
        rule=DecisionRule.preset(row.rule, threshold),
        decision_question_id=row.decision_question_id,
        approve_options=tuple(row.approve_options or ()),
        menu_question_id=row.menu_question_id,
        menu_threshold=parse_fraction(row.menu_threshold),
    )
