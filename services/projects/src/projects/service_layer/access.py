"""Who may see and change what: every decision from the service's own records, never from a request body.

A project's place (district, street, community) is copied from the survey's registry when it is created; a
community's place is the registry's (the ``communities`` read model). Residents follow the projects of their own
community; every other role sees what its scope claims cover.
"""

from __future__ import annotations

from projects.adapters.repositories import ProjectFilter
from projects.domain.model import Community, Project
from renovation_common.auth import Principal, Role, Scope
from renovation_common.errors import DomainError, Forbidden


def scope_of(project: Project) -> Scope:
    return Scope(district_id=project.district_id, street_id=project.street_id, community_id=project.community_id)


def community_scope(community: Community) -> Scope:
    return Scope(district_id=community.district_id, street_id=community.street_id, community_id=community.community_id)


def sees(principal: Principal, project: Project) -> bool:
    return principal.covers_community(scope_of(project))


def ensure_sees(principal: Principal, project: Project) -> None:
    if not sees(principal, project):
        raise Forbidden("this project is outside your scope", code="out_of_scope")


def ensure_manages(principal: Principal, community: Community) -> None:
    """Creating or planning work in a community: the caller's scope must cover the community as recorded."""
    if principal.role is Role.RESIDENT or not principal.covers(community_scope(community)):
        raise Forbidden("this community is outside your scope", code="out_of_scope")


def ensure_body_agrees(
    principal: Principal, community: Community, district_id: str | None, street_id: str | None
) -> None:
    """A body may name the district/street it expects the community in; naming another one is refused.

    403 ``out_of_scope`` when the named place is outside the caller's scope (whatever the records say), else 422
    ``community_scope_mismatch`` when the records put the community elsewhere.
    """
    named = Scope(district_id=district_id or community.district_id, street_id=street_id or community.street_id)
    if district_id is not None or street_id is not None:
        if principal.district_id is not None and named.district_id != principal.district_id:
            raise Forbidden("the body names a district outside your scope", code="out_of_scope")
        if principal.street_id is not None and named.street_id != principal.street_id:
            raise Forbidden("the body names a street outside your scope", code="out_of_scope")
    if (district_id is not None and district_id != community.district_id) or (
        street_id is not None and street_id != community.street_id
    ):
        raise DomainError(
            "the community lies elsewhere than the body says (the survey registry decides)",
            code="community_scope_mismatch",
            status=422,
        )


def visible(principal: Principal) -> ProjectFilter:
    """The projects a caller may list: residents their community, others what their narrowest claims cover."""
    if principal.role is Role.RESIDENT:
        if principal.community_id is None:
            raise Forbidden("a resident token without a community sees no projects", code="out_of_scope")
        return ProjectFilter(community_id=principal.community_id)
    if not (principal.district_id or principal.street_id or principal.community_id):
        raise Forbidden("your token has no scope", code="out_of_scope")
    return ProjectFilter(
        district_id=principal.district_id, street_id=principal.street_id, community_id=principal.community_id
    )
