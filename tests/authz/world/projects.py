"""The projects service in the authorisation matrix: its rows and its seeded world.

Out-of-scope bodies (issue 12.5): createProject and createPlan name their targets in the body, so the matrix's own
out-of-scope pass (which calls seeded paths with a token of another scope) cannot reach them. The seeder therefore
also sends, for every role that may create projects and plans, bodies naming another scope — a community the survey
registry places in another district or another street, a district or street other than the registry's — and
requires 403 ``out_of_scope`` for each (or 422 ``community_scope_mismatch`` where the caller covers both places),
with a control that the same body naming the caller's own scope is accepted. A failure fails every matrix test of
projects.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from renovation_common.auth import Role

from . import AWAY, HOME, Seeds, headers_for, ok

# fmt: off
MATRIX = """
service          operation                      res  cw  so  da con  qs  op gov  dg  fo
projects         healthz                          Y   Y   Y   Y   Y   Y   Y   Y   Y   Y
projects         createSignedLink                 Y   Y   Y   Y   Y   Y   Y   Y   Y   Y
projects         readyz                           Y   Y   Y   Y   Y   Y   Y   Y   Y   Y
projects         metrics                          Y   Y   Y   Y   Y   Y   Y   Y   Y   Y
projects         listWorkPackageTypes             Y   Y   Y   Y   Y   Y   Y   Y   Y   Y
projects         createProject                    .   .   Y   Y   .   .   .   .   .   .
projects         listProjects                     Y   Y   Y   Y   Y   Y   Y   Y   .   .
projects         getProject                       Y   Y   Y   Y   Y   Y   Y   Y   .   .
projects         createPlan                       .   .   Y   Y   .   .   .   .   .   .
projects         getPlan                          Y   Y   Y   Y   Y   Y   Y   Y   .   .
projects         replanProject                    .   .   Y   Y   .   .   .   .   .   .
projects         solveTaskNetwork                 .   .   Y   Y   Y   .   Y   Y   .   .
projects         getSchedule                      Y   Y   Y   Y   Y   Y   Y   Y   .   .
projects         getHandoverChart                 Y   Y   Y   Y   Y   Y   Y   Y   .   .
projects         getProgressTable                 Y   Y   Y   Y   Y   Y   Y   Y   .   .
projects         getDailyReport                   Y   Y   Y   Y   Y   Y   Y   Y   .   .
projects         reportProgress                   .   .   .   .   Y   .   .   .   .   .
projects         recordHandover                   .   .   .   .   Y   .   .   .   .   .
projects         fileInspection                   .   .   .   .   .   Y   .   .   .   .
projects         listInspections                  Y   Y   Y   Y   Y   Y   Y   Y   .   .
"""
# fmt: on

# Settings of the app under test (besides COMMON_SETTINGS).
APP_SETTINGS: dict[str, Any] = {"plan_worker_enabled": False}

PLANNERS = (Role.STREET_OFFICER, Role.DISTRICT_ADMIN)
# a community of the home district in another street (a street officer of the home street does not cover it)
NEIGHBOUR = {"district_id": HOME["district_id"], "street_id": f"{HOME['street_id']}-2", "community_id": "c-neighbour"}


async def seed(app: Any, client: Any, make_token: Any) -> Seeds:
    from projects.service_layer import readmodels
    from renovation_common.contracts.survey import CommunityRegistered, HouseholdRegistered
    from renovation_common.db import ConsumerUnitOfWork

    # where the communities lie and their buildings, as the consumer of the survey's events records them
    async with app.state.sessionmaker() as session, session.begin():
        uow = ConsumerUnitOfWork(session, app.state.infra)
        for place in (HOME, AWAY, NEIGHBOUR):
            await readmodels.record_community(
                uow,
                CommunityRegistered(
                    community_id=place["community_id"],
                    district_id=place["district_id"],
                    street_id=place["street_id"],
                    name="社区",
                    maintenance_fund_established=False,
                    household_count=1,
                ),
            )
            await readmodels.record_household(
                uow,
                HouseholdRegistered(
                    household_id=f"h-{place['community_id']}",
                    community_id=place["community_id"],
                    district_id=place["district_id"],
                    street_id=place["street_id"],
                    building_id=f"b-{place['community_id']}",
                    building_code="1",
                    floor_area_m2="60.50",
                    maintenance_fund_established=False,
                ),
            )
    admin = headers_for(make_token, Role.DISTRICT_ADMIN, HOME)
    project = ok(
        await client.post(
            "/v1/projects",
            json={
                "community_id": HOME["community_id"],
                "name": "劲松北社区改造",
                "package_codes": ["water_main_renewal"],
            },
            headers=admin,
        ),
        "project",
    )
    neighbour = ok(
        await client.post(
            "/v1/projects",
            json={"community_id": NEIGHBOUR["community_id"], "name": "邻街社区改造", "package_codes": ["greening"]},
            headers=admin,
        ),
        "project in another street",
    )
    plan = ok(
        await client.post(
            "/v1/plans",
            json={"project_ids": [project["id"]], "start_date": date.today().isoformat(), "time_limit_s": 1},
            headers=admin,
        ),
        "plan",
    )
    await refuse_bodies_naming_another_scope(client, make_token, project["id"], neighbour["id"])
    today = {"date": date.today().isoformat()}
    return Seeds(
        home=HOME,
        params={"project_id": project["id"], "plan_id": plan["id"]},
        queries={"getProgressTable": today, "getDailyReport": today},
        bodies={
            "reportProgress": {
                "package_id": project["packages"][0]["id"],
                "report_date": date.today().isoformat(),
                "percent_complete": "10",
            },
            "replanProject": {"data_date": date.today().isoformat(), "time_limit_s": 1},
        },
    )


async def refuse_bodies_naming_another_scope(
    client: Any, make_token: Any, home_project: str, neighbour_project: str
) -> None:
    problems: list[str] = []

    def expect(response: Any, statuses: dict[int, str | None], what: str) -> None:
        code = response.json().get("code") if response.status_code >= 400 else None
        if response.status_code not in statuses or statuses[response.status_code] not in (None, code):
            problems.append(f"{what}: {response.status_code} {response.text[:200]}")

    def project(community_id: str, **place: str) -> dict[str, Any]:
        return {"community_id": community_id, "name": "改造", "package_codes": ["greening"], **place}

    refused = {403: "out_of_scope"}
    for role in PLANNERS:
        headers = headers_for(make_token, role, HOME)
        for body, what in (
            (project(AWAY["community_id"]), "a community of another district"),
            (project(AWAY["community_id"], district_id=HOME["district_id"]), "another district's community, "
             "claimed to be in the home district"),
            (project(HOME["community_id"], district_id=AWAY["district_id"]), "the home community, body naming "
             "another district"),
        ):  # fmt: skip
            r = await client.post("/v1/projects", json=body, headers=headers)
            expect(r, refused, f"createProject as {role.value} with {what}")
        # a street the caller's claims do not name: 403 for a street officer, 422 for a district admin (who covers
        # the community; the body is still wrong about where it lies)
        r = await client.post("/v1/projects", json=project(HOME["community_id"], street_id=AWAY["street_id"]),
                              headers=headers)  # fmt: skip
        expect(r, {**refused, 422: "community_scope_mismatch"}, f"createProject as {role.value} naming another street")
        r = await client.post("/v1/projects", json=project(HOME["community_id"], **HOME_PLACE), headers=headers)
        expect(r, {201: None}, f"createProject as {role.value} in its own community (control)")
    officer = headers_for(make_token, Role.STREET_OFFICER, HOME)
    admin = headers_for(make_token, Role.DISTRICT_ADMIN, HOME)
    r = await client.post("/v1/projects", json=project(NEIGHBOUR["community_id"]), headers=officer)
    expect(r, refused, "createProject as street_officer in another street's community")
    r = await client.post(
        "/v1/projects", json=project(NEIGHBOUR["community_id"], street_id=HOME["street_id"]), headers=admin
    )
    expect(r, {422: "community_scope_mismatch"}, "createProject as district_admin naming the wrong street")
    plan = {"start_date": date.today().isoformat(), "time_limit_s": 1}
    r = await client.post("/v1/plans", json={**plan, "project_ids": [neighbour_project]}, headers=officer)
    expect(r, refused, "createPlan as street_officer of a project in another street")
    r = await client.post("/v1/plans", json={**plan, "project_ids": [home_project, neighbour_project]}, headers=officer)
    expect(r, refused, "createPlan as street_officer of a batch reaching into another street")
    r = await client.post("/v1/plans", json={**plan, "project_ids": [neighbour_project]}, headers=admin)
    expect(r, {201: None}, "createPlan as district_admin of a project of its district (control)")
    assert not problems, "bodies naming another scope:\n" + "\n".join(problems)


HOME_PLACE = {"district_id": HOME["district_id"], "street_id": HOME["street_id"]}
