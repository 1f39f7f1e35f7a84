"""The projects service in the authorisation matrix: its rows and its seeded world."""

from __future__ import annotations

from datetime import date
from typing import Any

from renovation_common.auth import Role

from . import HOME, Seeds, headers_for, ok

# fmt: off
MATRIX = """
service          operation                      res  cw  so  da con  qs  op gov  dg  fo
projects         healthz                          Y   Y   Y   Y   Y   Y   Y   Y   Y   Y
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


async def seed(app: Any, client: Any, make_token: Any) -> Seeds:
    admin = headers_for(make_token, Role.DISTRICT_ADMIN, HOME)
    project = ok(
        await client.post(
            "/v1/projects",
            json={
                "community_id": HOME["community_id"],
                "district_id": HOME["district_id"],
                "street_id": HOME["street_id"],
                "name": "劲松北社区改造",
                "package_codes": ["water_main_renewal"],
            },
            headers=admin,
        ),
        "project",
    )
    plan = ok(
        await client.post(
            "/v1/plans",
            json={"project_ids": [project["id"]], "start_date": date.today().isoformat(), "time_limit_s": 1},
            headers=admin,
        ),
        "plan",
    )
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
        },
    )
