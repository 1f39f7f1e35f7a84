from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from webhooks.domain.signing import format_secret, webhook_headers
from webhooks.domain.subscriptions import (
    AccessDenied,
    EventFilter,
    InconsistentFilter,
    Manager,
    can_manage,
    check_community_filter,
    district_for_new_subscription,
    rotation_grace,
    signing_secrets,
)

OLD = format_secret(bytes(range(32)))
NEW = format_secret(bytes(range(1, 33)))


def test_secret_format():
    assert OLD.startswith("whsec_")
    with pytest.raises(ValueError):
        format_secret(b"short")


def test_headers_verify_with_official_package_and_both_secrets_during_rotation():
    now = datetime.now(UTC)
    body = '{"id":"e1","data":{"name":"老旧小区"}}'
    headers = webhook_headers([NEW, OLD], "msg_1", now, body)
    assert headers["webhook-id"] == "msg_1"
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert Webhook(NEW).verify(body, headers) == {"id": "e1", "data": {"name": "老旧小区"}}
    assert Webhook(OLD).verify(body, headers)
    # byte-identical with the package's own signer
    assert headers["webhook-signature"].split(" ")[0] == Webhook(NEW).sign("msg_1", now, body)
    with pytest.raises(WebhookVerificationError):
        Webhook(NEW).verify(body.replace("老旧", "新建"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(NEW).verify(body, webhook_headers([NEW], "msg_1", now - timedelta(minutes=6), body))


def test_signing_secrets_grace():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert signing_secrets("n", "o", now + timedelta(seconds=1), now) == ["n", "o"]
    assert signing_secrets("n", "o", now, now) == ["n"]
    assert signing_secrets("n", None, None, now) == ["n"]
    assert rotation_grace(None) == timedelta(hours=24)
    with pytest.raises(ValueError):
        rotation_grace(7 * 24 * 3600 + 1)


def test_event_filter():
    f = EventFilter(["finance.*"], district_id="d1", community_id=None)
    assert f.accepts("finance.contribution.paid.v1", {"district_id": "d1", "community_id": "c9"})
    assert not f.accepts("finance.contribution.paid.v1", {"district_id": "d2"})
    assert not f.accepts("finance.contribution.paid.v1", {})
    assert not f.accepts("survey.household.registered.v1", {"district_id": "d1"})
    c = EventFilter(["*"], community_id="c1")
    assert c.accepts("survey.x.y.v1", {"community_id": "c1"}) and not c.accepts("survey.x.y.v1", {"community_id": "c2"})


def test_access_rules():
    gov = Manager("gov-1", "gov_system", None)
    admin = Manager("adm", "district_admin", "d1")
    assert can_manage(gov, owner_sub="gov-1", district_id="d9")
    assert not can_manage(gov, owner_sub="gov-2", district_id=None)
    assert can_manage(admin, owner_sub="gov-2", district_id="d1")
    assert not can_manage(admin, owner_sub="adm", district_id="d2")
    assert not can_manage(Manager("x", "operator", "d1"), owner_sub="x", district_id="d1")
    assert district_for_new_subscription(gov, None) is None
    assert district_for_new_subscription(gov, "d3") == "d3"
    assert district_for_new_subscription(admin, None) == "d1"
    with pytest.raises(AccessDenied):
        district_for_new_subscription(admin, "d2")
    with pytest.raises(AccessDenied):
        district_for_new_subscription(Manager("a", "district_admin", None), None)
    assert district_for_new_subscription(Manager("g", "gov_system", "d5"), None) == "d5"


def test_a_gov_system_naming_a_district_manages_only_what_is_bound_to_it():
    bound = Manager("gov-1", "gov_system", "d1")
    assert can_manage(bound, owner_sub="gov-1", district_id="d1")
    assert not can_manage(bound, owner_sub="gov-1", district_id="d2")
    assert not can_manage(bound, owner_sub="gov-1", district_id=None)  # a city-wide one needs a city-level token
    assert can_manage(Manager("gov-1", "gov_system", None), owner_sub="gov-1", district_id="d2")


def test_a_community_filter_lies_in_the_callers_district_and_the_subscriptions():
    admin = Manager("adm", "district_admin", "d1")
    city = Manager("gov", "gov_system", None)
    check_community_filter(admin, "d1", "d1")
    with pytest.raises(AccessDenied) as denied:
        check_community_filter(admin, "d1", "d2")
    assert denied.value.code == "out_of_scope"
    with pytest.raises(AccessDenied):
        check_community_filter(Manager("g", "gov_system", "d1"), None, "d2")
    check_community_filter(city, None, "d2")  # a city-level system: any registered community
    with pytest.raises(InconsistentFilter) as inconsistent:
        check_community_filter(city, "d1", "d2")
    assert inconsistent.value.code == "community_outside_district"
