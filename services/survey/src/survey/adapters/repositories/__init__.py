"""Repositories, one module per aggregate: ``communities`` (streets, communities, the registry counters),
``households`` (buildings, households, residents, the registry audit), ``consultations`` (consultations, the answers
lock, rankings), ``responses`` (submissions, answers, their audit trail), ``tallies`` (incremental tallies and the
inputs of a result). SQL lives only here."""

from survey.adapters.repositories.communities import CommunityRepository
from survey.adapters.repositories.consultations import ConsultationRepository
from survey.adapters.repositories.households import HouseholdFacts, HouseholdRepository
from survey.adapters.repositories.responses import ResponseRepository, StoredSubmission
from survey.adapters.repositories.tallies import TallyRepository

__all__ = [
    "CommunityRepository",
    "ConsultationRepository",
    "HouseholdFacts",
    "HouseholdRepository",
    "ResponseRepository",
    "StoredSubmission",
    "TallyRepository",
]
