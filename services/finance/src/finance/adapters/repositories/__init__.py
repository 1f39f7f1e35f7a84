"""Repositories, one module per aggregate; SQL lives only here.

``accounts`` and ``ledger`` (transfers and their entries), ``funding_plans``, ``schemes`` and ``dues``,
``payment_intents`` and ``payments``, ``emergency_repairs``, ``payback_analyses``; the read models fed by other
services' events: ``communities``, ``households``, ``projects``.
"""

from finance.adapters.repositories.accounts import AccountRepository, AccountScope
from finance.adapters.repositories.communities import CommunityRepository
from finance.adapters.repositories.dues import DueFilter, DueRepository
from finance.adapters.repositories.emergency_repairs import EmergencyRepairRepository
from finance.adapters.repositories.funding_plans import FundingPlanRepository
from finance.adapters.repositories.households import HouseholdRepository
from finance.adapters.repositories.ledger import LedgerRepository, TransferRaced
from finance.adapters.repositories.payback_analyses import PaybackAnalysisRepository
from finance.adapters.repositories.payment_intents import PaymentIntentRepository
from finance.adapters.repositories.payments import PaymentRepository
from finance.adapters.repositories.projects import ProjectRepository
from finance.adapters.repositories.schemes import SchemeRepository

__all__ = [
    "AccountRepository",
    "AccountScope",
    "CommunityRepository",
    "DueFilter",
    "DueRepository",
    "EmergencyRepairRepository",
    "FundingPlanRepository",
    "HouseholdRepository",
    "LedgerRepository",
    "PaybackAnalysisRepository",
    "PaymentIntentRepository",
    "PaymentRepository",
    "ProjectRepository",
    "SchemeRepository",
    "TransferRaced",
]
