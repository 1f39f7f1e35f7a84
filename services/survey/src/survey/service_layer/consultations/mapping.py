"""Rows <-> domain: a consultation's definition checked and turned into its draft row, and a stored row read
back as the domain's :class:`~survey.domain.consultation.Setup` (questions, rule, menu)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from renovation_common.contracts.survey import MENU_CATALOG
from renovation_common.errors import DomainError
from survey.adapters.orm import CommunityRow, ConsultationRow
from survey.domain.consultation import ConsultationError, ConsultationKind, Setup, State, Window, check_setup
from survey.domain.questions import Question, QuestionKind, Questionnaire, QuestionnaireError, ShowIf
from survey.domain.results import AgeGroups
from survey.domain.rules import DecisionRule, RuleError, RuleKind, fraction_str, parse_fraction
from survey.service_layer.consultations.access import domain_error


@dataclass(frozen=True)
class NewConsultation:
    community_id: uuid.UUID
    kind: str
    title: str
    batch: str | None
    questions: list[dict[str, Any]]
    rule: str
    threshold: str | None
    decision_question_id: str | None
    approve_options: list[str]
    menu_question_id: str | None
    menu_threshold: str
    age_middle_from: int
    age_elderly_from: int
    opens_at: datetime | None
    closes_at: datetime | None


def checked_definition(cmd: NewConsultation) -> tuple[str | None, str]:
    """Validate a consultation's definition; its stored threshold and menu threshold (exact fractions)."""
    try:
        threshold = parse_fraction(cmd.threshold) if cmd.threshold else None
        if threshold is not None and cmd.rule != RuleKind.HOUSEHOLD_SHARE:
            raise RuleError(f"{cmd.rule} has fixed legal thresholds; a custom threshold is not allowed")
        menu_threshold = parse_fraction(cmd.menu_threshold)
        setup = Setup(
            kind=ConsultationKind(cmd.kind),
            questionnaire=Questionnaire(tuple(question_from_dict(q) for q in cmd.questions)),
            rule=DecisionRule.preset(cmd.rule, threshold),
            decision_question_id=cmd.decision_question_id,
            approve_options=tuple(cmd.approve_options),
            menu_question_id=cmd.menu_question_id,
            menu_threshold=menu_threshold,
        )
        check_setup(setup, MENU_CATALOG)
        Window(cmd.opens_at, cmd.closes_at)
        AgeGroups(cmd.age_middle_from, cmd.age_elderly_from)
    except (ConsultationError, QuestionnaireError, RuleError) as exc:
        raise domain_error(exc) from None
    except ValueError as exc:
        raise DomainError(str(exc), code="invalid_consultation") from None
    return (fraction_str(threshold) if threshold is not None else None), fraction_str(menu_threshold)


def draft_row(
    c: CommunityRow, cmd: NewConsultation, *, consultation_id: uuid.UUID, created_by: str, now: datetime
) -> ConsultationRow:
    row_threshold, menu_threshold = checked_definition(cmd)
    return ConsultationRow(
        id=consultation_id,
        community_id=c.id,
        district_id=c.district_id,
        street_id=c.street_id,
        kind=cmd.kind,
        title=cmd.title,
        batch=cmd.batch,
        state=State.DRAFT.value,
        questions=cmd.questions,
        rule=cmd.rule,
        threshold=row_threshold,
        decision_question_id=cmd.decision_question_id,
        approve_options=cmd.approve_options,
        menu_question_id=cmd.menu_question_id,
        menu_threshold=menu_threshold,
        age_middle_from=cmd.age_middle_from,
        age_elderly_from=cmd.age_elderly_from,
        opens_at=cmd.opens_at,
        closes_at=cmd.closes_at,
        created_by=created_by,
        created_at=now,
    )


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
