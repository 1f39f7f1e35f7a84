"""Registry use cases: communities, households (JSON batches and file imports), residents."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError

from renovation_common.auth import Principal, Role, Scope
from renovation_common.contracts.survey import CommunityRegistered, HouseholdRegistered, HouseholdUpdated
from renovation_common.db import ReadOnlyUnitOfWork, UnitOfWork
from renovation_common.errors import BadRequest, Conflict, DomainError, Forbidden, NotFound
from renovation_common.events import new_event
from survey.adapters.orm import BuildingRow, CommunityRow, HouseholdRow, ResidentRow
from survey.adapters.repositories import (
    CommunityRepository,
    ConsultationRepository,
    HouseholdRepository,
    ResponseRepository,
    TallyRepository,
)
from survey.domain import tallies
from survey.domain.registry import (
    HouseholdSpec,
    ResidentSpec,
    RowError,
    check_rows,
    elderly_living_alone,
    needs_accompaniment,
)
from survey.service_layer.consultations.mapping import setup_of
from survey.service_layer.context import Context


class RowsRejected(DomainError):
    status = 422
    code = "household_rows_rejected"
    title = "Some household rows are not valid; nothing was imported"


@dataclass(frozen=True)
class NewCommunity:
    name: str
    district_id: str | None
    street_id: str
    address: str | None
    built_year: int | None
    delivered_year: int | None
    maintenance_fund_established: bool


def community_scope(c: CommunityRow, household_id: str | None = None) -> Scope:
    return Scope(c.district_id, c.street_id, str(c.id), household_id)


def ensure_staff_covers(principal: Principal, c: CommunityRow) -> None:
    if not (principal.is_staff and principal.covers(community_scope(c))):
        raise Forbidden("this community is outside your scope", code="out_of_scope")


def sees_personal_data(principal: Principal, c: CommunityRow, household_id: uuid.UUID) -> bool:
    """The household itself, and staff whose scope covers the community."""
    if principal.is_staff:
        return principal.covers(community_scope(c))
    return principal.household_id == str(household_id) and principal.covers(community_scope(c, str(household_id)))


async def resident_community(households: HouseholdRepository, principal: Principal) -> uuid.UUID | None:
    """The community of a resident's household, from the registry (never from a claim the token makes about it)."""
    if principal.role is not Role.RESIDENT or principal.household_id is None:
        return None
    try:
        household_id = uuid.UUID(principal.household_id)
    except ValueError:
        return None
    h = await households.household(household_id)
    return h.community_id if h is not None else None


async def ensure_reads_community(households: HouseholdRepository, principal: Principal, c: CommunityRow) -> None:
    """Staff whose scope covers the community; a resident of one of its households."""
    if principal.is_staff and principal.covers(community_scope(c)):
        return
    if principal.role is Role.RESIDENT and await resident_community(households, principal) == c.id:
        return
    raise Forbidden("this community is outside your scope", code="out_of_scope")


async def load_community(communities: CommunityRepository, community_id: uuid.UUID) -> CommunityRow:
    c = await communities.community(community_id)
    if c is None:
        raise NotFound("community not found", code="community_not_found")
    return c


def community_event(c: CommunityRow, household_count: int, source: str) -> Any:
    return new_event(
        CommunityRegistered(
            community_id=str(c.id),
            district_id=c.district_id,
            street_id=c.street_id,
            name=c.name,
            built_year=c.built_year,
            delivered_year=c.delivered_year,
            maintenance_fund_established=c.maintenance_fund_established,
            household_count=household_count,
            version=c.version,
        ),
        source=source,
        subject=str(c.id),
    )


async def register_community(
    uow: UnitOfWork, principal: Principal, cmd: NewCommunity, *, source: str, now: datetime
) -> CommunityRow:
    """Register a community in a street. Its district is the street's, from the street's record — never from the
    body: a ``district_id`` in the body must agree with it. A street not seen before is recorded in the caller's
    own district (the token's claim), so a district admin can never place a community in another district's
    street, nor a street officer outside their street."""
    community_id = uuid.uuid4()
    if principal.role is Role.STREET_OFFICER and cmd.street_id != principal.street_id:
        raise Forbidden("you may register communities only in your own street", code="out_of_scope")
    async with uow:
        repo = CommunityRepository(uow.session)
        street = await repo.street(cmd.street_id)
        if street is None:
            if principal.district_id is None:
                raise DomainError(
                    "this street has no community yet: its district admin registers the first one",
                    code="street_not_registered",
                )
            street = await repo.record_street(cmd.street_id, principal.district_id, principal.sub)
        district_id = street.district_id
        if cmd.district_id is not None and cmd.district_id != district_id:
            raise Forbidden(f"street {cmd.street_id} lies in another district", code="out_of_scope")
        if not principal.covers(Scope(district_id, cmd.street_id, str(community_id))):
            raise Forbidden("you may register communities only in your own district or street", code="out_of_scope")
        row = CommunityRow(
            id=community_id,
            name=cmd.name,
            district_id=district_id,
            street_id=cmd.street_id,
            address=cmd.address,
            built_year=cmd.built_year,
            delivered_year=cmd.delivered_year,
            maintenance_fund_established=cmd.maintenance_fund_established,
            household_count=0,
            floor_area_m2=Decimal(0),
            version=1,
            created_at=now,
            updated_at=now,
        )
        repo.add(row)
        await repo.flush()
        await repo.audit_registry(
            [
                {
                    "entity": "community",
                    "entity_id": community_id,
                    "action": "created",
                    "actor_sub": principal.sub,
                    "changes": {"name": cmd.name, "district_id": district_id, "street_id": cmd.street_id},
                }
            ]
        )
        uow.publish(community_event(row, 0, source))
        await uow.commit()
    return row


async def get_community(
    read: ReadOnlyUnitOfWork, principal: Principal, community_id: uuid.UUID
) -> tuple[CommunityRow, int]:
    async with read:
        c = await load_community(CommunityRepository(read.session), community_id)
        await ensure_reads_community(HouseholdRepository(read.session), principal, c)
        return c, c.household_count


def _staff_scope(principal: Principal) -> dict[str, str]:
    """The district/street/community claims of a staff token as column filters (what ``covers`` admits)."""
    return {k: v for k, v in principal.scope_filters().items() if k != "household_id"}


async def list_communities(
    read: ReadOnlyUnitOfWork, principal: Principal, *, street_id: str | None, after: uuid.UUID | None, limit: int
) -> list[CommunityRow]:
    """Communities in the caller's scope, by id (a resident: their own community, from the registry)."""
    async with read:
        if principal.role is Role.RESIDENT:
            own = await resident_community(HouseholdRepository(read.session), principal)
            if own is None:
                return []
            equals: dict[str, Any] = {"id": own}
        elif principal.is_staff:
            scope = _staff_scope(principal)
            if street_id is not None and scope.get("street_id", street_id) != street_id:
                return []
            equals = {
                "district_id": scope.get("district_id"),
                "street_id": street_id or scope.get("street_id"),
                "id": uuid.UUID(scope["community_id"]) if _uuid_or_none(scope.get("community_id")) else None,
            }
            if "community_id" in scope and equals["id"] is None:
                return []  # a community claim that names no community of the registry
        else:
            raise Forbidden("this list is for staff and residents", code="out_of_scope")
        rows = await CommunityRepository(read.session).communities_page(equals, after, limit)
        return rows


def _uuid_or_none(value: str | None) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _household_event(
    cls: type[HouseholdRegistered],
    c: CommunityRow,
    h: HouseholdRow,
    code: str,
    residents: list[ResidentSpec],
    year: int,
    source: str,
) -> Any:
    return new_event(
        cls(
            household_id=str(h.id),
            community_id=str(c.id),
            district_id=c.district_id,
            street_id=c.street_id,
            building_id=str(h.building_id),
            building_code=code,
            unit=h.unit or None,
            floor_area_m2=h.floor_area_m2,
            delivered_year=c.delivered_year,
            maintenance_fund_established=c.maintenance_fund_established,
            elderly_living_alone=elderly_living_alone(residents, year),
            needs_accompaniment=needs_accompaniment(residents),
            resident_count=len(residents),
            version=h.version,
        ),
        source=source,
        subject=str(h.id),
    )


async def add_households(
    uow: UnitOfWork,
    principal: Principal,
    community_id: uuid.UUID,
    specs: list[tuple[int, HouseholdSpec]],
    *,
    now: datetime,
    source: str,
) -> list[dict[str, Any]]:
    """All or nothing: either every row becomes a household or none does (rows already in the registry are
    reported as ``household_exists``). Returns the created households (ids and keys)."""
    async with uow:
        communities, repo = CommunityRepository(uow.session), HouseholdRepository(uow.session)
        c = await communities.community(community_id, for_update=True)  # serialises imports into one community
        if c is None:
            raise NotFound("community not found", code="community_not_found")
        ensure_staff_covers(principal, c)
        buildings = await repo.ensure_buildings(community_id, {s.building for _, s in specs})
        created = await repo.insert_households(community_id, [s for _, s in specs], buildings)
        clashes = [
            RowError(n, "household_exists", None, "already registered") for n, s in specs if s.key not in created
        ]
        if clashes:
            raise RowsRejected(errors=[e.__dict__ for e in clashes])
        residents: list[dict[str, Any]] = []
        audit: list[dict[str, Any]] = []
        out: list[dict[str, Any]] = []
        for _, s in specs:
            hid = created[s.key]
            residents.extend(
                {
                    "id": uuid.uuid4(),
                    "household_id": hid,
                    "birth_year": r.birth_year,
                    "lives_alone": r.lives_alone,
                    "needs_accompaniment": r.needs_accompaniment,
                }
                for r in s.residents
            )
            audit.append(
                {
                    "entity": "household",
                    "entity_id": hid,
                    "action": "created",
                    "actor_sub": principal.sub,
                    "changes": {
                        "building": s.building,
                        "unit": s.unit,
                        "room": s.room,
                        "floor_area_m2": str(s.floor_area),
                        "residents": len(s.residents),
                    },
                }
            )
            h = HouseholdRow(
                id=hid,
                community_id=community_id,
                building_id=buildings[s.building],
                unit=s.unit,
                room=s.room,
                floor_area_m2=s.floor_area,
                version=1,
            )
            uow.publish(_household_event(HouseholdRegistered, c, h, s.building, list(s.residents), now.year, source))
            out.append(
                {
                    "id": hid,
                    "building": s.building,
                    "unit": s.unit,
                    "room": s.room,
                    "floor_area_m2": s.floor_area,
                    "resident_count": len(s.residents),
                }
            )
        await repo.insert_residents(residents)
        await communities.audit_registry(audit)
        # the registry counters (the community row is locked above): results and events read them
        per_building: dict[uuid.UUID, int] = {}
        for _, s in specs:
            per_building[buildings[s.building]] = per_building.get(buildings[s.building], 0) + 1
        await communities.count_registry(community_id, 0, Decimal(0), per_building)
        c.household_count += len(specs)
        c.floor_area_m2 += sum((s.floor_area for _, s in specs), Decimal(0))
        c.version += 1
        uow.publish(community_event(c, c.household_count, source))
        await uow.commit()
    return out


async def add_household_batch(
    uow: UnitOfWork, ctx: Context, principal: Principal, community_id: uuid.UUID, specs: list[HouseholdSpec]
) -> list[dict[str, Any]]:
    """A JSON batch, all or nothing: rows repeating a building/unit/room of an earlier row are refused first."""
    seen: dict[tuple[str, str, str], int] = {}
    errors = []
    for n, spec in enumerate(specs, start=1):
        if spec.key in seen:
            errors.append(RowError(n, "duplicate_household", None, f"same building/unit/room as row {seen[spec.key]}"))
        seen.setdefault(spec.key, n)
    if errors:
        raise RowsRejected(errors=[e.__dict__ for e in errors])
    numbered = list(enumerate(specs, start=1))
    return await add_households(uow, principal, community_id, numbered, now=ctx.clock(), source=ctx.source)


async def import_households(
    uow: UnitOfWork, ctx: Context, principal: Principal, community_id: uuid.UUID, content: bytes, fmt: str
) -> list[dict[str, Any]]:
    """A CSV or XLSX file, all or nothing, with a per-row error report. The caller's scope is checked before the
    file is read; the file is read off the event loop within the reader's limits."""
    async with uow:
        ensure_staff_covers(principal, await load_community(CommunityRepository(uow.session), community_id))
    rows = await ctx.files.read(content, fmt)
    now = ctx.clock()
    specs, errors = check_rows(rows, now.year)
    if errors:
        raise RowsRejected(errors=[e.__dict__ for e in errors], rows=len(rows))
    if not specs:
        raise BadRequest("the file has no household rows", code="empty_file")
    numbered = list(enumerate(specs, start=1))  # no bad rows: specs are the data rows in order
    return await add_households(uow, principal, community_id, numbered, now=now, source=ctx.source)


@dataclass(frozen=True)
class BuildingView:
    building: BuildingRow
    community: CommunityRow
    floor_area_m2: Decimal  # its households' exclusive floor area


async def list_buildings(
    read: ReadOnlyUnitOfWork,
    principal: Principal,
    community_id: uuid.UUID,
    *,
    code: str | None,
    with_households: bool | None,
    after: tuple[str, uuid.UUID] | None,
    limit: int,
) -> list[BuildingView]:
    """A community's buildings, by code: staff whose scope covers the community, and its residents (the registry
    places their household there). Another community's resident or staff outside the scope: 403 ``out_of_scope``;
    an unknown community: 404."""
    async with read:
        c = await load_community(CommunityRepository(read.session), community_id)
        await ensure_reads_community(HouseholdRepository(read.session), principal, c)
        rows = await HouseholdRepository(read.session).buildings_page(
            community_id, code=code, with_households=with_households, after=after, limit=limit
        )
        return [BuildingView(b, c, area) for b, area in rows]


@dataclass(frozen=True)
class HouseholdView:
    household: HouseholdRow
    building_code: str
    residents: list[ResidentRow]
    personal: bool


async def get_household(read: ReadOnlyUnitOfWork, principal: Principal, household_id: uuid.UUID) -> HouseholdView:
    async with read:
        repo = HouseholdRepository(read.session)
        h = await repo.household(household_id)
        if h is None:
            raise NotFound("household not found", code="household_not_found")
        c = await load_community(CommunityRepository(read.session), h.community_id)
        if not sees_personal_data(principal, c, h.id):
            raise Forbidden("this household is outside your scope", code="out_of_scope")
        view = HouseholdView(h, await repo.building_code(h.building_id), await repo.residents([h.id]), True)
        return view


@dataclass(frozen=True)
class HouseholdChange:
    floor_area: Decimal | None = None
    owner_name: str | None = None
    owner_phone: str | None = None
    residents: tuple[ResidentSpec, ...] | None = None  # replace the list
    add_residents: tuple[ResidentSpec, ...] = ()  # append to the list


async def update_household(
    uow: UnitOfWork,
    principal: Principal,
    household_id: uuid.UUID,
    change: HouseholdChange,
    *,
    now: datetime,
    source: str,
) -> HouseholdView:
    async with uow:
        communities, repo = CommunityRepository(uow.session), HouseholdRepository(uow.session)
        h = await repo.household(household_id, for_update=True)
        if h is None:
            raise NotFound("household not found", code="household_not_found")
        c = await load_community(communities, h.community_id)
        ensure_staff_covers(principal, c)
        old_area = h.floor_area_m2
        old_years = {r.id: r.birth_year for r in await repo.residents([h.id])}
        changes: dict[str, Any] = {}
        if change.floor_area is not None and change.floor_area != h.floor_area_m2:
            changes["floor_area_m2"] = [str(h.floor_area_m2), str(change.floor_area)]
            h.floor_area_m2 = change.floor_area
        if change.owner_name is not None:
            h.owner_name = change.owner_name or None
            changes["owner_name"] = "changed"  # never copy personal data into the audit trail
        if change.owner_phone is not None:
            h.owner_phone = change.owner_phone or None
            changes["owner_phone"] = "changed"

        def rows(specs: tuple[ResidentSpec, ...]) -> list[dict[str, Any]]:
            return [
                {
                    "id": uuid.uuid4(),
                    "household_id": h.id,
                    "birth_year": r.birth_year,
                    "lives_alone": r.lives_alone,
                    "needs_accompaniment": r.needs_accompaniment,
                }
                for r in specs
            ]

        if change.residents is not None:
            try:
                async with uow.session.begin_nested():
                    await repo.replace_residents(h.id, rows(change.residents))
            except IntegrityError:
                raise Conflict(
                    "a resident who answered a consultation cannot be removed; use add_residents",
                    code="resident_has_responses",
                ) from None
            changes["residents"] = len(change.residents)
        if change.add_residents:
            await repo.insert_residents(rows(change.add_residents))
            changes["residents_added"] = len(change.add_residents)
        h.updated_at = now
        h.version += 1
        await repo.flush()
        residents = await repo.residents([h.id])
        specs = [ResidentSpec(r.birth_year, r.lives_alone, r.needs_accompaniment) for r in residents]
        code = await repo.building_code(h.building_id)
        if h.floor_area_m2 != old_area:
            await communities.count_registry(c.id, 0, h.floor_area_m2 - old_area, {})
        new_years = {r.id: r.birth_year for r in residents}
        await retally_household(uow, h.id, code, (old_area, old_years), (h.floor_area_m2, new_years))
        await communities.audit_registry(
            [
                {
                    "entity": "household",
                    "entity_id": h.id,
                    "action": "updated",
                    "actor_sub": principal.sub,
                    "changes": changes,
                }
            ]
        )
        uow.publish(_household_event(HouseholdUpdated, c, h, code, specs, now.year, source))
        await uow.commit()
    return HouseholdView(h, code, residents, True)


async def retally_household(
    uow: UnitOfWork,
    household_id: uuid.UUID,
    building: str,
    old: tuple[Decimal, dict[uuid.UUID, int]],
    new: tuple[Decimal, dict[uuid.UUID, int]],
) -> None:
    """A household's area or residents changed (its row is locked, so no answer of it is being written): move
    the tallies of each of its answers from the old facts to the new ones, in every consultation it answered."""
    if old == new:
        return
    answers = await ResponseRepository(uow.session).answers_of_household(household_id)
    consultations = await ConsultationRepository(uow.session).consultations({a.consultation_id for a in answers})
    rows = {r.id: r for r in consultations}
    tally_repo = TallyRepository(uow.session)
    changes: dict[uuid.UUID, tallies.Tallies] = {}
    for a in answers:
        setup = setup_of(rows[a.consultation_id])
        before = _answer_with(a, building, *old)
        after = _answer_with(a, building, *new)
        t = changes.setdefault(a.consultation_id, tallies.Tallies())
        t.merge(tallies.change(setup, before, after))
    for consultation_id, t in sorted(changes.items()):
        setup = setup_of(rows[consultation_id])
        if setup.per_resident:  # the household counts once there, with its area
            t.merge(tallies.household_contribution(setup, None, building=building, area=old[0]), -1)
            t.merge(tallies.household_contribution(setup, None, building=building, area=new[0]))
        await tally_repo.add_tally_deltas(consultation_id, t)


def _answer_with(a: Any, building: str, area: Decimal, years: dict[uuid.UUID, int]) -> tallies.Answer:
    if a.resident_id is not None and a.resident_id in years:
        birth: int | None = years[a.resident_id]
    else:
        birth = min(years.values()) if years else None
    return tallies.Answer(a.answers, a.channel, birth, building, area)


async def list_households(
    read: ReadOnlyUnitOfWork, principal: Principal, community_id: uuid.UUID, after: Any, limit: int
) -> tuple[list[HouseholdView], tuple[str, str, str, str] | None]:
    async with read:
        repo = HouseholdRepository(read.session)
        c = await load_community(CommunityRepository(read.session), community_id)
        ensure_staff_covers(principal, c)
        key = tuple(after) if isinstance(after, list) and len(after) == 4 else None
        rows = await repo.households_page(community_id, key, limit + 1)  # type: ignore[arg-type]
        shown = rows[:limit]
        residents = await repo.residents([h.id for h, _ in shown])
        by_household: dict[uuid.UUID, list[ResidentRow]] = {}
        for r in residents:
            by_household.setdefault(r.household_id, []).append(r)
        views = [HouseholdView(h, code, by_household.get(h.id, []), True) for h, code in shown]
        next_key = None
        if len(rows) > limit and shown:
            h, code = shown[-1]
            next_key = (code, h.unit, h.room, str(h.id))
        return views, next_key
