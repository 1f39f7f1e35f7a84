"""Consultations: kinds, lifecycle (draft → open → closed → published), configuration checks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from fractions import Fraction

from survey.domain.questions import QuestionKind, Questionnaire
from survey.domain.rules import DecisionRule, RuleKind


class ConsultationKind(StrEnum):
    WILLINGNESS = "willingness"
    MENU = "menu"
    SCHEME_VOTE = "scheme_vote"
    DEMAND = "demand"
    SATISFACTION = "satisfaction"


class State(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"
    PUBLISHED = "published"


class Channel(StrEnum):
    APP = "app"
    DOOR_TO_DOOR = "door_to_door"
    PAPER = "paper"
    MEETING = "meeting"


TRANSITIONS: dict[State, frozenset[State]] = {
    State.DRAFT: frozenset({State.OPEN}),
    State.OPEN: frozenset({State.CLOSED}),
    State.CLOSED: frozenset({State.PUBLISHED}),
    State.PUBLISHED: frozenset(),
}


class ConsultationError(ValueError):
    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


def transition(current: State, target: State) -> State:
    if target not in TRANSITIONS[current]:
        raise ConsultationError(f"cannot go from {current.value} to {target.value}", code="invalid_transition")
    return target


@dataclass(frozen=True)
class Window:
    opens_at: datetime | None
    closes_at: datetime | None

    def __post_init__(self) -> None:
        if self.opens_at and self.closes_at and self.closes_at <= self.opens_at:
            raise ConsultationError("closes_at must be after opens_at", code="invalid_window")

    def accepts(self, now: datetime) -> bool:
        if self.opens_at is not None and now < self.opens_at:
            return False
        return self.closes_at is None or now < self.closes_at


def ensure_accepts_answers(state: State, window: Window, now: datetime) -> None:
    """Answers count only while open and inside the window: the last answer before closing counts."""
    if state is not State.OPEN:
        raise ConsultationError(f"consultation is {state.value}, not open", code="consultation_not_open")
    if not window.accepts(now):
        raise ConsultationError("outside the consultation's answer window", code="outside_answer_window")


@dataclass(frozen=True)
class Setup:
    """What a consultation decides and how (checked when it is created)."""

    kind: ConsultationKind
    questionnaire: Questionnaire
    rule: DecisionRule
    decision_question_id: str | None = None
    approve_options: tuple[str, ...] = ()
    menu_question_id: str | None = None
    menu_threshold: Fraction = Fraction(1, 2)

    @property
    def per_resident(self) -> bool:
        return self.kind is ConsultationKind.DEMAND

    def approves(self, answers: dict[str, object]) -> bool:
        if self.decision_question_id is None:
            return False
        value = answers.get(self.decision_question_id)
        return isinstance(value, str) and value in self.approve_options


def check_setup(setup: Setup, catalog: dict[str, str]) -> None:
    qn = setup.questionnaire
    if setup.rule.kind is not RuleKind.NONE:
        if setup.per_resident:
            raise ConsultationError(
                "a per-resident demand survey cannot carry a household vote rule", code="invalid_rule"
            )
        q = qn.get(setup.decision_question_id or "")
        if q is None or q.kind is not QuestionKind.SINGLE_CHOICE:
            raise ConsultationError(
                "a decision rule needs decision_question_id naming a single-choice question", code="invalid_rule"
            )
        if not setup.approve_options or any(o not in q.options for o in setup.approve_options):
            raise ConsultationError("approve_options must be options of the decision question", code="invalid_rule")
        if not q.required or q.show_if is not None:
            raise ConsultationError("the decision question must be required and always shown", code="invalid_rule")
    if setup.kind is ConsultationKind.WILLINGNESS and setup.rule.kind is RuleKind.NONE:
        raise ConsultationError("a willingness consultation needs a decision rule", code="invalid_rule")
    if setup.kind is ConsultationKind.MENU:
        q = qn.get(setup.menu_question_id or "")
        if q is None or q.kind is not QuestionKind.MULTIPLE_CHOICE:
            raise ConsultationError(
                "a menu needs menu_question_id naming a multiple-choice question", code="invalid_menu"
            )
        unknown = [o for o in q.options if o not in catalog]
        if unknown:
            raise ConsultationError(f"not in the menu catalog: {', '.join(unknown[:5])}", code="unknown_menu_item")
        if not (0 < setup.menu_threshold <= 1):
            raise ConsultationError("menu_threshold must be in (0, 1]", code="invalid_menu")
    elif setup.menu_question_id is not None:
        raise ConsultationError("only menu consultations have a menu question", code="invalid_menu")
