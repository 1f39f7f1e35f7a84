"""The webhooks service in the authorisation matrix: its rows and its seeded world."""

from __future__ import annotations

from typing import Any

from renovation_common.auth import Role

from . import HOME, Seeds, headers_for, ok

# fmt: off
MATRIX = """
service          operation                      res  cw  so  da con  qs  op gov  dg  fo
webhooks         healthz                          Y   Y   Y   Y   Y   Y   Y   Y   Y   Y
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
    return Seeds(home=HOME, params={"subscription_id": sub["id"], "delivery_id": delivery["id"]})
