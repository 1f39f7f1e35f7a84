"""Questions, display conditions (skip logic) and answer validation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

MAX_QUESTIONS = 100
MAX_OPTIONS = 60
MAX_TEXT = 2000
MAX_NUMBER = 10**15  # number answers: |x| < MAX_NUMBER, at most MAX_DECIMALS decimal places
MAX_DECIMALS = 6


class QuestionKind(StrEnum):
    SINGLE_CHOICE = "single_choice"
    MULTIPLE_CHOICE = "multiple_choice"
    RANKING = "ranking"
    RATING = "rating"
    NUMBER = "number"
    TEXT = "text"


CHOICE_KINDS = frozenset({QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE, QuestionKind.RANKING})


class QuestionnaireError(ValueError):
    def __init__(self, message: str, *, code: str = "invalid_questionnaire") -> None:
        super().__init__(message)
        self.code = code


class AnswerError(ValueError):
    def __init__(self, message: str, *, code: str = "invalid_answer", question_id: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.question_id = question_id


@dataclass(frozen=True)
class ShowIf:
    """Show a question only when the answer to ``question_id`` (a choice question) includes one of ``any_of``."""

    question_id: str
    any_of: tuple[str, ...]


@dataclass(frozen=True)
class Question:
    id: str
    kind: QuestionKind
    text: str
    options: tuple[str, ...] = ()
    option_labels: tuple[tuple[str, str], ...] = ()  # (option, label) pairs: how an option reads in charts
    required: bool = True
    min_picks: int | None = None
    max_picks: int | None = None
    min_value: Decimal | None = None
    max_value: Decimal | None = None
    max_length: int = 500
    show_if: ShowIf | None = None

    @property
    def pick_bounds(self) -> tuple[int, int]:
        if self.kind is QuestionKind.SINGLE_CHOICE:
            return 1, 1
        low = self.min_picks if self.min_picks is not None else (len(self.options) if self.is_full_ranking else 1)
        high = self.max_picks if self.max_picks is not None else len(self.options)
        return low, high

    def label(self, option: str, fallback: Mapping[str, str] | None = None) -> str:
        """How ``option`` reads in a chart: its label, else its ``fallback`` name (a menu item's), else itself."""
        return dict(self.option_labels).get(option) or (fallback or {}).get(option) or option

    @property
    def is_full_ranking(self) -> bool:
        return self.kind is QuestionKind.RANKING and self.min_picks is None


@dataclass(frozen=True)
class Questionnaire:
    questions: tuple[Question, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        validate_questionnaire(self.questions)

    def get(self, question_id: str) -> Question | None:
        return next((q for q in self.questions if q.id == question_id), None)

    def visible(self, answers: Mapping[str, Any]) -> list[Question]:
        """Questions shown for these answers, in order (a condition on a hidden question is false)."""
        shown: dict[str, Question] = {}
        for q in self.questions:
            if q.show_if is None:
                shown[q.id] = q
                continue
            if q.show_if.question_id not in shown:
                continue
            chosen = answer_values(answers.get(q.show_if.question_id))
            if chosen & set(q.show_if.any_of):
                shown[q.id] = q
        return list(shown.values())

    def validate_answers(self, answers: Mapping[str, Any]) -> dict[str, Any]:
        """Validate and normalise ``answers`` (question id → value); raises :class:`AnswerError`.

        Answers to unknown questions and to questions hidden by the skip logic are rejected; every visible
        required question must be answered.
        """
        known = {q.id for q in self.questions}
        unknown = sorted(set(answers) - known)
        if unknown:
            raise AnswerError(f"unknown question(s): {', '.join(unknown[:5])}", code="unknown_question")
        visible = self.visible(answers)
        visible_ids = {q.id for q in visible}
        hidden = [qid for qid in answers if qid not in visible_ids and answers[qid] is not None]
        if hidden:
            raise AnswerError(
                f"question {hidden[0]} is not shown for these answers",
                code="answer_to_hidden_question",
                question_id=hidden[0],
            )
        clean: dict[str, Any] = {}
        for q in visible:
            value = answers.get(q.id)
            if value is None:
                if q.required:
                    raise AnswerError(f"question {q.id} is required", code="answer_required", question_id=q.id)
                continue
            clean[q.id] = validate_answer(q, value)
        return clean


def answer_values(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, list):
        return {v for v in value if isinstance(v, str)}
    return set()


def validate_answer(q: Question, value: Any) -> Any:
    def fail(msg: str) -> AnswerError:
        return AnswerError(f"question {q.id}: {msg}", question_id=q.id)

    if q.kind is QuestionKind.SINGLE_CHOICE:
        if not isinstance(value, str) or value not in q.options:
            raise fail("choose one of the options")
        return value
    if q.kind in (QuestionKind.MULTIPLE_CHOICE, QuestionKind.RANKING):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise fail("give a list of option values")
        if len(set(value)) != len(value):
            raise fail("an option is given twice")
        if any(v not in q.options for v in value):
            raise fail("unknown option")
        low, high = q.pick_bounds
        if not (low <= len(value) <= high):
            raise fail(f"pick between {low} and {high} options")
        if q.kind is QuestionKind.MULTIPLE_CHOICE:
            order = {o: i for i, o in enumerate(q.options)}
            return sorted(value, key=order.__getitem__)  # canonical order: the questionnaire's
        return list(value)  # ranking: the order is the answer
    if q.kind is QuestionKind.RATING:
        if isinstance(value, bool) or not isinstance(value, int) or not (1 <= value <= 5):
            raise fail("a rating is an integer from 1 to 5")
        return value
    if q.kind is QuestionKind.NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | str | float):
            raise fail("a number is expected")
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise fail("a number is expected") from None
        if not number.is_finite():
            raise fail("a finite number is expected")
        # bounded, so that sums stay exact in the tallies (28 significant digits for a million answers)
        if abs(number) >= MAX_NUMBER or number.as_tuple().exponent < -MAX_DECIMALS:  # type: ignore[operator]
            raise fail(f"a number below {MAX_NUMBER:,} with at most {MAX_DECIMALS} decimals is expected")
        if q.min_value is not None and number < q.min_value:
            raise fail(f"at least {q.min_value}")
        if q.max_value is not None and number > q.max_value:
            raise fail(f"at most {q.max_value}")
        return str(number)
    if not isinstance(value, str):
        raise fail("text is expected")
    text = value.strip()
    if len(text) > q.max_length:
        raise fail(f"at most {q.max_length} characters")
    if q.required and not text:
        raise fail("text is required")
    return text


def validate_questionnaire(questions: Sequence[Question]) -> None:
    if len(questions) > MAX_QUESTIONS:
        raise QuestionnaireError(f"at most {MAX_QUESTIONS} questions")
    seen: dict[str, Question] = {}
    for q in questions:
        if q.id in seen:
            raise QuestionnaireError(f"question id {q.id} is used twice")
        if q.kind in CHOICE_KINDS:
            if not (1 <= len(q.options) <= MAX_OPTIONS) or len(set(q.options)) != len(q.options):
                raise QuestionnaireError(f"question {q.id}: 1-{MAX_OPTIONS} distinct options needed")
            if q.kind is not QuestionKind.SINGLE_CHOICE:
                low, high = q.pick_bounds
                if not (0 <= low <= high <= len(q.options)) or high < 1:
                    raise QuestionnaireError(f"question {q.id}: need 0 <= min_picks <= max_picks <= options")
        elif q.options:
            raise QuestionnaireError(f"question {q.id}: only choice questions have options")
        labelled = [o for o, _ in q.option_labels]
        if len(set(labelled)) != len(labelled) or any(o not in q.options for o in labelled):
            raise QuestionnaireError(f"question {q.id}: option labels name options of the question, each once")
        if any(not label.strip() for _, label in q.option_labels):
            raise QuestionnaireError(f"question {q.id}: an option label is empty")
        if q.min_value is not None and q.max_value is not None and q.min_value > q.max_value:
            raise QuestionnaireError(f"question {q.id}: min_value > max_value")
        if not (1 <= q.max_length <= MAX_TEXT):
            raise QuestionnaireError(f"question {q.id}: max_length must be 1-{MAX_TEXT}")
        if q.show_if is not None:
            target = seen.get(q.show_if.question_id)
            if target is None:
                raise QuestionnaireError(
                    f"question {q.id}: a display condition must refer to an earlier question", code="invalid_skip_logic"
                )
            if target.kind not in CHOICE_KINDS or not q.show_if.any_of:
                raise QuestionnaireError(f"question {q.id}: conditions test options of a choice question")
            if any(v not in target.options for v in q.show_if.any_of):
                raise QuestionnaireError(f"question {q.id}: condition names an unknown option")
        seen[q.id] = q
