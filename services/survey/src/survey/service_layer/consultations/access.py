"""Who may act on or read a consultation (scope from the consultation's record), loading it, and the
problem a domain refusal becomes."""

from __future__ import annotations

import uuid
from typing import Protocol

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


class ConsultationScope(Protocol):
    """What reading a consultation is decided on: its record's scope and state (a row, or a result stamp)."""

    @property
    def district_id(self) -> str: ...
    @property
    def street_id(self) -> str: ...
    @property
    def community_id(self) -> uuid.UUID: ...
    @property
    def state(self) -> str: ...


def ensure_staff_covers_consultation(principal: Principal, row: ConsultationScope) -> None:
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
    once they are published (:func:`check_can_read`, the resident's community from their household record)."""
    household_id = resident_household(principal)
    household = await households.household(household_id) if household_id is not None else None
    check_can_read(principal, row, household.community_id if household else None, results=results)


def check_can_read(
    principal: Principal, row: ConsultationScope, household_community: uuid.UUID | None, *, results: bool
) -> None:
    """:func:`ensure_can_read` once the caller's household's community (from the registry) is known."""
    if principal.is_staff:
        ensure_staff_covers_consultation(principal, row)
        return
    if principal.household_id is None or household_community is None or household_community != row.community_id:
        raise Forbidden("this consultation is outside your scope", code="out_of_scope")
    if results and row.state != State.PUBLISHED:
        raise Forbidden("results are visible to residents once published", code="results_not_published")


def resident_household(principal: Principal) -> uuid.UUID | None:
    """The household a non-staff caller's token names, if it is an id at all (its record decides the scope)."""
    if principal.is_staff or principal.household_id is None or not is_uuid(principal.household_id):
        return None
    return uuid.UUID(principal.household_id)


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
