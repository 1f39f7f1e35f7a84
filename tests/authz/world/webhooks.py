"""The webhooks service in the authorisation matrix: its rows and its seeded world.

Out-of-scope bodies (issue 12.5): createSubscription has no path parameter, so the matrix's own out-of-scope pass
(which calls seeded paths with a token of another scope) cannot reach it. The seeder therefore also sends, for every
role that may manage subscriptions, bodies naming another scope — another district, a community that the platform's
records place in another district — and requires 403 ``out_of_scope`` for each (with a control that the same body
naming the caller's own scope is accepted). A failure fails every matrix test of webhooks.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from renovation_common.auth import Role

from . import AWAY, HOME, Seeds, headers_for, ok

HOME_COMMUNITY = HOME["community_id"]
AWAY_COMMUNITY = AWAY["community_id"]
MANAGERS = (Role.DISTRICT_ADMIN, Role.GOV_SYSTEM)

# fmt: off
MATRIX = """
service          operation                      res  cw  so  da con  qs  op gov  dg  fo
webhooks         healthz                          Y   Y   Y   Y   Y   Y   Y   Y   Y   Y
webhooks         createSignedLink                 Y   Y   Y   Y   Y   Y   Y   Y   Y   Y
webhooks         readyz                           Y   Y   Y   Y   Y   Y   Y   Y   Y   Y
webhooks         metrics                          Y   Y   Y   Y   Y   Y   Y   Y   Y   Y
webhooks         createSubscription               .   .   .   Y   .   .   .   Y   .   .
webhooks         listSubscriptions                .   .   .   Y   .   .   .   Y   .   .
webhooks         getSubscription                  .   .   .   Y   .   .   .   Y   .   .
webhooks         updateSubscription               .   .   .   Y   .   .   .   Y   .   .
webhooks         deleteSubscription               .   .   .   Y   .   .   .   Y   .   .
webhooks         rotateSubscriptionSecret         .   .   .   Y   .   .   .   Y   .   .
webhooks         sendTestPing                     .   .   .   Y   .   .   .   Y   .   .
webhooks         replaySubscription               .   .   .   Y   .   .   .   Y   .   .
webhooks         listDeliveries                   .   .   .   Y   .   .   .   Y   .   .
webhooks         getDelivery                      .   .   .   Y   .   .   .   Y   .   .
webhooks         listDeliveryAttempts             .   .   .   Y   .   .   .   Y   .   .
webhooks         retryDelivery                    .   .   .   Y   .   .   .   Y   .   .
"""
# fmt: on

# Settings of the app under test (besides COMMON_SETTINGS).
APP_SETTINGS: dict[str, Any] = {"dispatcher_enabled": False, "allowed_target_networks": ["127.0.0.0/8"]}


async def seed(app: Any, client: Any, make_token: Any) -> Seeds:
    from renovation_common.contracts.survey import CommunityRegistered
    from renovation_common.db import ConsumerUnitOfWork
    from webhooks.service_layer.communities import record_community

    # where the two communities lie, as the consumer of survey.community.registered.v1 records it
    async with app.state.sessionmaker() as session, session.begin():
        for community, place in ((HOME_COMMUNITY, HOME), (AWAY_COMMUNITY, AWAY)):
            registered = CommunityRegistered(
                community_id=community,
                district_id=place["district_id"],
                street_id=place["street_id"],
                name="社区",
                maintenance_fund_established=False,
            )
            await record_community(ConsumerUnitOfWork(session, app.state.infra), registered, at=datetime.now(UTC))
    admin = headers_for(make_token, Role.DISTRICT_ADMIN, HOME)
    sub = ok(
        await client.post(
            "/v1/subscriptions",
            json={"url": "http://127.0.0.1:9/hook", "event_types": ["*"], "district_id": HOME["district_id"]},
            headers=admin,
        ),
        "subscription",
    )
    delivery = ok(await client.post(f"/v1/subscriptions/{sub['id']}/test", headers=admin), "ping")
    await refuse_bodies_naming_another_scope(client, make_token, sub["id"])
    return Seeds(
        home=HOME,
        params={"subscription_id": sub["id"], "delivery_id": delivery["id"]},
        # bodies that pass validation, so that calls from another scope reach the scope decision (404: hidden)
        bodies={
            "updateSubscription": {"description": "matrix"},
            "replaySubscription": {"since": "2026-01-01T00:00:00+08:00"},
            "rotateSubscriptionSecret": {"grace_period_s": 0},
        },
    )


async def refuse_bodies_naming_another_scope(client: Any, make_token: Any, subscription_id: str) -> None:
    problems: list[str] = []

    def expect(response: Any, status: int, what: str) -> None:
        code = response.json().get("code") if response.status_code >= 400 else None
        if response.status_code != status or (status == 403 and code != "out_of_scope"):
            problems.append(f"{what}: {response.status_code} {response.text[:200]}")

    def body(**filters: str) -> dict[str, Any]:
        return {"url": "http://127.0.0.1:9/hook", "event_types": ["*"], **filters}

    for role in MANAGERS:
        headers = headers_for(make_token, role, HOME)
        for filters in (
            {"district_id": AWAY["district_id"]},
            {"community_id": AWAY_COMMUNITY},
            {"district_id": HOME["district_id"], "community_id": AWAY_COMMUNITY},
        ):
            r = await client.post("/v1/subscriptions", json=body(**filters), headers=headers)
            expect(r, 403, f"createSubscription as {role.value} with {filters}")
        r = await client.post("/v1/subscriptions", json=body(community_id=HOME_COMMUNITY), headers=headers)
        expect(r, 201, f"createSubscription as {role.value} in its own community (control)")
    admin = headers_for(make_token, Role.DISTRICT_ADMIN, HOME)
    path = f"/v1/subscriptions/{subscription_id}"
    r = await client.patch(path, json={"community_id": AWAY_COMMUNITY}, headers=admin)
    expect(r, 403, "updateSubscription to a community of another district")
    r = await client.patch(path, json={"community_id": None}, headers=admin)
    expect(r, 200, "updateSubscription back to the whole district (control)")
    assert not problems, "bodies naming another scope:\n" + "\n".join(problems)
