"""The finance service in the authorisation matrix: its rows and its seeded world."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from renovation_common.auth import Role

from . import HOME, Seeds, headers_for, ok

# fmt: off
MATRIX = """
service          operation                      res  cw  so  da con  qs  op gov  dg  fo
finance          healthz                          Y   Y   Y   Y   Y   Y   Y   Y   Y   Y
finance          createSignedLink                 Y   Y   Y   Y   Y   Y   Y   Y   Y   Y
finance          readyz                           Y   Y   Y   Y   Y   Y   Y   Y   Y   Y
finance          metrics                          Y   Y   Y   Y   Y   Y   Y   Y   Y   Y
finance          createAccount                    .   .   .   Y   .   .   .   .   .   .
finance          listAccounts                     Y   Y   Y   Y   .   .   Y   Y   .   Y
finance          getAccount                       Y   Y   Y   Y   .   .   Y   Y   .   Y
finance          getAccountStatement              Y   Y   Y   Y   .   .   Y   Y   .   Y
finance          exportAccountStatement           Y   Y   Y   Y   .   .   Y   Y   .   Y
finance          createTransfers                  .   .   .   Y   .   .   .   .   .   .
finance          createFundingPlan                .   .   Y   Y   .   .   .   .   .   .
finance          listFundingPlans                 .   Y   Y   Y   .   .   Y   Y   .   .
finance          getFundingPlan                   .   Y   Y   Y   .   .   Y   Y   .   .
finance          approveFundingPlan               .   .   .   Y   .   .   .   .   .   .
finance          receiveFunds                     .   .   .   Y   .   .   .   .   .   .
finance          disburseFunds                    .   .   .   Y   .   .   .   .   .   .
finance          createContributionScheme         .   Y   Y   Y   .   .   .   .   .   .
finance          listDues                         Y   Y   Y   Y   .   .   .   .   .   Y
finance          getDue                           Y   Y   Y   Y   .   .   .   .   .   Y
finance          createPaymentIntent              Y   Y   Y   Y   .   .   .   .   .   Y
finance          listPaymentIntents               Y   Y   Y   Y   .   .   .   .   .   Y
finance          getPaymentIntent                 Y   Y   Y   Y   .   .   .   .   .   Y
finance          recordReceipt                    .   Y   .   .   .   .   .   .   .   Y
finance          receivePaymentCallback           .   .   .   .   .   .   .   .   .   .
finance          getCollection                    .   Y   Y   Y   .   .   .   .   .   Y
finance          getEmergencyRepairStats          .   .   Y   Y   .   .   .   Y   .   Y
finance          exportEmergencyRepairReport      .   .   Y   Y   .   .   .   Y   .   Y
finance          requestEmergencyRepair           Y   Y   Y   Y   .   .   .   .   .   .
finance          listEmergencyRepairs             .   Y   Y   Y   .   .   .   .   .   .
finance          getEmergencyRepair               Y   Y   Y   Y   .   .   .   .   .   .
finance          approveEmergencyRepair           .   .   .   Y   .   .   .   .   .   .
finance          payEmergencyRepair               .   .   .   Y   .   .   .   .   .   .
finance          cancelEmergencyRepair            .   .   .   Y   .   .   .   .   .   .
finance          depositEmergencyFund             .   .   .   Y   .   .   .   .   .   .
finance          receivePublicIncome              .   Y   Y   Y   .   .   .   .   .   .
finance          createPaybackAnalysis            .   .   .   Y   .   .   Y   .   .   .
finance          getPaybackAnalysis               .   .   .   Y   .   .   Y   .   .   .
"""
# fmt: on

# Settings of the app under test (besides COMMON_SETTINGS): one payment provider, so intents can be created.
PROVIDER = "sandbox"
APP_SETTINGS: dict[str, Any] = {"payment_provider_secrets": {PROVIDER: ["matrix-sandbox-secret-0123456789abcdef"]}}


async def seed(app: Any, client: Any, make_token: Any) -> Seeds:
    from finance.service_layer import readmodels
    from renovation_common.contracts.projects import ProjectCreated
    from renovation_common.contracts.survey import CommunityRegistered, HouseholdRegistered

    district, street, cid, hid = HOME["district_id"], HOME["street_id"], HOME["community_id"], HOME["household_id"]
    async with app.state.runtime.uow() as uow:
        await readmodels.record_community(
            uow,
            CommunityRegistered(
                community_id=cid,
                district_id=district,
                street_id=street,
                name="劲松北社区",
                delivered_year=1985,
                maintenance_fund_established=False,
            ),
        )
        await readmodels.record_household(
            uow,
            HouseholdRegistered(
                household_id=hid,
                community_id=cid,
                district_id=district,
                street_id=street,
                building_id="b-1",
                building_code="1",
                floor_area_m2=Decimal("60.50"),
                delivered_year=1985,
                maintenance_fund_established=False,
            ),
        )
        await readmodels.record_project(
            uow,
            ProjectCreated(
                project_id="p-home",
                community_id=cid,
                district_id=district,
                street_id=street,
                name="p",
                package_codes=["water_pipe_renewal"],
            ),
            now=datetime.now(UTC),
        )
    admin = headers_for(make_token, Role.DISTRICT_ADMIN, HOME)
    account = ok(
        await client.post(
            "/v1/accounts",
            json={
                "kind": "household",
                "name": "户账",
                "district_id": district,
                "street_id": street,
                "community_id": cid,
                "household_id": hid,
            },
            headers=admin,
        ),
        "account",
    )
    plan = ok(
        await client.post(
            "/v1/funding-plans",
            json={"project_id": "p-home", "sources": [{"source": "government_subsidy", "planned_fen": 100_000}]},
            headers=admin,
        ),
        "funding plan",
    )
    scheme = ok(
        await client.post(
            "/v1/contribution-schemes",
            json={"community_id": cid, "kind": "water_meter", "title": "水表改造"},
            headers=admin,
        ),
        "scheme",
    )
    resident = headers_for(make_token, Role.RESIDENT, HOME)
    dues = ok(await client.get("/v1/dues", headers=resident), "dues")
    due_id = dues["items"][0]["id"]
    intent_body = {"amount_fen": 1, "method": "wechat_pay", "provider": PROVIDER}
    intent = ok(
        await client.post(f"/v1/dues/{due_id}/payment-intents", json=intent_body, headers=resident), "payment intent"
    )
    repair = ok(
        await client.post(
            "/v1/emergency-repairs",
            json={
                "request_id": str(uuid.uuid4()),
                "community_id": cid,
                "description": "供水主管爆裂",
                "estimated_cost_fen": 100_000,
            },
            headers=admin,
        ),
        "emergency repair",
    )
    analysis = ok(
        await client.post(
            "/v1/payback-analyses",
            json=_payback_example(app),
            headers=admin,
        ),
        "payback analysis",
    )
    assert scheme["dues_count"] >= 1
    return Seeds(
        home=HOME,
        params={
            "account_id": account["id"],
            "plan_id": plan["id"],
            "due_id": due_id,
            "intent_id": intent["id"],
            "provider": PROVIDER,
            "community_id": cid,
            "request_id": repair["id"],
            "analysis_id": analysis["id"],
        },
        queries={"listDues": {"household_id": hid}},
        # bodies that pass validation, so the out-of-scope check reaches the scope decision (from the due's record)
        bodies={
            "createPaymentIntent": intent_body,
            "recordReceipt": {
                "receipt_number": "R-matrix-1",
                "amount_fen": 1,
                "method": "cash",
                "received_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
            },
            "cancelEmergencyRepair": {"reason": "matrix"},
        },
    )


def _payback_example(app: Any) -> Any:
    """The documented example of ``createPaybackAnalysis`` (its request schema carries one)."""
    spec = app.openapi()
    op = spec["paths"]["/v1/payback-analyses"]["post"]
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema["examples"][0]
