"""Repositories, one module per aggregate: ``communities`` (the survey registry as projects keeps it: communities,
ranks, households → buildings, lanes and courtyards), ``projects`` (projects with faces, packages, links),
``plans`` (plan jobs and their schedules), ``progress`` (reports, handovers, inspections, delay notices),
``lifecycle`` (the records behind the seven steps and each community's current step), ``design`` (the scheme
each courtyard/building group chose: the design basis).
SQL lives only here; they take and return the values of ``projects.domain.model``."""

from projects.adapters.repositories.communities import CommunityRepository
from projects.adapters.repositories.design import DesignBasisRepository
from projects.adapters.repositories.lifecycle import LifecycleFilter, LifecycleRepository
from projects.adapters.repositories.plans import PlanRepository
from projects.adapters.repositories.progress import PackageHistory, ProgressRepository
from projects.adapters.repositories.projects import ProjectFilter, ProjectRepository

__all__ = [
    "CommunityRepository",
    "DesignBasisRepository",
    "LifecycleFilter",
    "LifecycleRepository",
    "PackageHistory",
    "PlanRepository",
    "ProgressRepository",
    "ProjectFilter",
    "ProjectRepository",
]
