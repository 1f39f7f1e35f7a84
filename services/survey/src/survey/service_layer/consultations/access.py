"""Who may act on or read a consultation (scope from the consultation's record), loading it, and the
problem a domain refusal becomes."""

from __future__ import annotations

import uuid

from renovation_common.auth import Principal, Scope
from renovation_common.errors import DomainError, Forbidden, InvalidState, NotFound
from survey.adapters.orm import ConsultationRow
from survey.adapters.repositories import ConsultationRepository, HouseholdRepository
from survey.domain.consultation import ConsultationError, State
from survey.domain.questions import QuestionnaireError
from survey.domain.rules import RuleError


def domain_error(exc: ConsultationError | QuestionnaireError | RuleError) -> DomainError:
    code = getattr(exc, "code", "invalid_rule")
    if code in ("invalid_transition", "consultation_not_open", "outside_answer_window"):
        return InvalidState(str(exc), code=code)
    return DomainError(str(exc), code=code)


def ensure_staff_covers_consultation(principal: Principal, row: ConsultationRow) -> None:
    if not (principal.is_staff and principal.covers(Scope(row.district_id, row.street_id, str(row.community_id)))):
        raise Forbidden("this consultation is outside your scope", code="out_of_scope")


async def load_consultation(
    repo: ConsultationRepository, consultation_id: uuid.UUID, lock: str | None = None
) -> ConsultationRow:
    row = await repo.consultation(consultation_id, lock=lock)
    if row is None:
        raise NotFound("consultation not found", code="consultation_not_found")
    return row


async def ensure_can_read(
    households: HouseholdRepository, principal: Principal, row: ConsultationRow, *, results: bool
) -> None:
    """Staff covering the community always; a resident of the community reads the questionnaire, and the results
    once they are published."""
    if principal.is_staff:
        ensure_staff_covers_consultation(principal, row)
        return
    if principal.household_id is None:
        raise Forbidden("this consultation is outside your scope", code="out_of_scope")
    household = (
        await households.household(uuid.UUID(principal.household_id)) if is_uuid(principal.household_id) else None
    )
    if household is None or household.community_id != row.community_id:
        raise Forbidden("this consultation is outside your scope", code="out_of_scope")
    if results and row.state != State.PUBLISHED:
        raise Forbidden("results are visible to residents once published", code="results_not_published")


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
