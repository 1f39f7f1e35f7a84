"""Pure rules of the common library: scopes, cursors, settings, event envelopes."""

from __future__ import annotations

import time

import jwt
import pytest
from pydantic_settings import SettingsConfigDict

from renovation_common.auth import Principal, Role, Scope, TokenVerifier, issue_dev_token
from renovation_common.errors import BadRequest, Unauthorized
from renovation_common.events import CloudEvent, InvalidEvent, event_contract, parse_event
from renovation_common.pagination import decode_cursor, encode_cursor
from renovation_common.settings import ServiceSettings, database_url_for

HOME = Scope(district_id="d1", street_id="s1", community_id="c1", household_id="h1")


@pytest.mark.parametrize(
    ("principal", "scope", "covered"),
    [
        (Principal("u", Role.RESIDENT, household_id="h1"), HOME, True),
        (Principal("u", Role.RESIDENT, household_id="h2"), HOME, False),
        (Principal("u", Role.RESIDENT, community_id="c1"), HOME, False),  # a resident needs a household claim
        (Principal("u", Role.COMMUNITY_WORKER, district_id="d1", street_id="s1", community_id="c1"), HOME, True),
        (Principal("u", Role.COMMUNITY_WORKER, district_id="d1", street_id="s1", community_id="c9"), HOME, False),
        (Principal("u", Role.STREET_OFFICER, district_id="d1", street_id="s1"), HOME, True),
        (Principal("u", Role.STREET_OFFICER, district_id="d1", street_id="s2"), HOME, False),
        (Principal("u", Role.DISTRICT_ADMIN, district_id="d1"), HOME, True),
        (Principal("u", Role.DISTRICT_ADMIN, district_id="d2"), HOME, False),
        (Principal("u", Role.DISTRICT_ADMIN), HOME, False),  # no claim covers nothing
    ],
)
def test_scope_coverage(principal, scope, covered):
    assert principal.covers(scope) is covered


def test_token_round_trip_and_wrong_secret():
    token = issue_dev_token(secret="s" * 32, role="street_officer", sub="u1", district_id="d1", street_id="s1")
    verifier = TokenVerifier(secret="s" * 32, issuer="renovation-platform", audience="renovation-api")
    p = verifier.verify(token)
    assert (p.sub, p.role, p.district_id, p.street_id, p.community_id) == ("u1", Role.STREET_OFFICER, "d1", "s1", None)
    with pytest.raises(Unauthorized):
        TokenVerifier(secret="x" * 32, issuer="renovation-platform", audience="renovation-api").verify(token)
    with pytest.raises(Unauthorized):
        TokenVerifier(secret="s" * 32, issuer="renovation-platform", audience="another-api").verify(token)


def test_token_verified_once_expiry_checked_every_time(monkeypatch):
    """A verified token is kept: its signature is not checked again, but its expiry is on every use, and it is
    verified in full again after ``reverify_after_s``; the cache holds at most ``cache_size`` tokens."""
    now = [time.time()]  # the verifier's clock; PyJWT's is the wall clock (the token is fresh by it throughout)
    verifier = TokenVerifier(
        secret="s" * 32,
        issuer="renovation-platform",
        audience="renovation-api",
        cache_size=2,
        reverify_after_s=300,
        clock=lambda: now[0],
    )
    token = issue_dev_token(secret="s" * 32, role="resident", sub="u1", household_id="h1", ttl_s=600, now=now[0])
    decodes = []
    real_decode = jwt.decode
    monkeypatch.setattr(jwt, "decode", lambda *a, **k: decodes.append(1) or real_decode(*a, **k))
    assert verifier.verify(token).household_id == "h1"
    now[0] += 100
    assert verifier.cached(token) == verifier.verify(token) == Principal("u1", Role.RESIDENT, household_id="h1")
    assert len(decodes) == 1  # the signature was checked once
    now[0] += 250  # past reverify_after_s: verified in full again
    assert verifier.cached(token) is None
    assert verifier.verify(token).sub == "u1" and len(decodes) == 2
    now[0] += 260  # exp reached: refused, from the cache too
    with pytest.raises(Unauthorized) as expired:
        verifier.verify(token)
    assert expired.value.code == "token_expired"
    assert verifier.cached(token) is None  # dropped (verified again, PyJWT refuses it by its own clock)
    # bounded: the oldest token goes first
    now[0] = time.time()
    tokens = [issue_dev_token(secret="s" * 32, role="resident", sub=f"u{i}", household_id="h1") for i in range(3)]
    for t in tokens:
        verifier.verify(t)
    assert verifier.cached(tokens[0]) is None and verifier.cached(tokens[2]) is not None
    # a forged token (another secret) is never answered from the cache of a genuine one
    forged = issue_dev_token(secret="x" * 32, role="resident", sub="u2", household_id="h1")
    with pytest.raises(Unauthorized):
        verifier.verify(forged)


def test_cursor_round_trip_and_garbage():
    assert decode_cursor(encode_cursor(["2026-01-01T00:00:00+00:00", "abc"])) == ["2026-01-01T00:00:00+00:00", "abc"]
    assert decode_cursor(None) is None
    with pytest.raises(BadRequest):
        decode_cursor("%%%not-base64")


def test_database_url_per_service(monkeypatch):
    assert database_url_for("postgresql://u@h:5/postgres", "survey") == "postgresql+asyncpg://u@h:5/survey"

    class S(ServiceSettings):
        model_config = SettingsConfigDict(env_prefix="SMART_COMMUNITY_", extra="ignore")
        service_name = "smart_community"

    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db:5432/postgres")
    monkeypatch.setenv("NATS_URL", "nats://n:4222")
    s = S()
    assert s.database_url == "postgresql+asyncpg://u@db:5432/smart_community"
    assert s.nats_url == "nats://n:4222"
    assert s.jwt_secret  # development falls back to the dev secret


def test_production_requires_jwt_configuration(monkeypatch):
    class S(ServiceSettings):
        service_name = "x"

    monkeypatch.delenv("JWT_SECRET", raising=False)
    monkeypatch.delenv("JWT_JWKS_URL", raising=False)
    with pytest.raises(ValueError, match="JWT"):
        S(environment="production")


def test_event_contract_validation():
    from renovation_common.events import EventData

    @event_contract("probe.widget.built.v1")
    class WidgetBuilt(EventData):
        widget_id: str
        count: int

    ok = CloudEvent(
        id="1",
        source="/x",
        type="probe.widget.built.v1",
        time="2026-01-01T00:00:00Z",
        data={"widget_id": "w", "count": 2},
    )
    _, data = parse_event(ok.model_dump_json().encode())
    assert isinstance(data, WidgetBuilt) and data.count == 2
    bad = ok.model_copy(update={"data": {"widget_id": "w", "count": "many"}})
    with pytest.raises(InvalidEvent):
        parse_event(bad.model_dump_json().encode())
    with pytest.raises(ValueError):
        event_contract("Not-A-Type")


def test_admin_url_keeps_credentials_that_repeat_the_database_name():
    # CloudNativePG-style URLs: user and database are both "app"
    url = database_url_for("postgresql://app:secret@db.example:5432/app?sslmode=require", "postgres")
    assert url == "postgresql+asyncpg://app:secret@db.example:5432/postgres?sslmode=require"


def test_stream_replicas_and_root_path_from_environment(monkeypatch):
    class S(ServiceSettings):
        model_config = SettingsConfigDict(env_prefix="SURVEY_", extra="ignore")
        service_name = "survey"

    monkeypatch.setenv("STREAM_REPLICAS", "3")
    monkeypatch.setenv("SURVEY_ROOT_PATH", "/survey")
    s = S()
    assert (s.stream_replicas, s.root_path) == (3, "/survey")


def test_time_and_id_cursor():
    import uuid
    from datetime import UTC, datetime

    from renovation_common.pagination import PageParams

    at, ident = datetime(2026, 11, 21, 8, 0, tzinfo=UTC), uuid.uuid4()
    page = PageParams(cursor=encode_cursor([at.isoformat(), str(ident)]))
    assert page.after_time_and_id(uuid.UUID) == (at, ident)
    assert PageParams().after_time_and_id(uuid.UUID) is None
    with pytest.raises(BadRequest):
        PageParams(cursor=encode_cursor(["yesterday", "x"])).after_time_and_id(uuid.UUID)

    page = PageParams(cursor=encode_cursor(["A座", str(ident)]))
    assert page.after_text_and_id(uuid.UUID) == ("A座", ident)
    assert PageParams().after_text_and_id(uuid.UUID) is None
    for bad in (["A座"], [1, str(ident)], ["A座", "x"], {"A座": str(ident)}, "ab", ["x" * 21, str(ident)]):
        with pytest.raises(BadRequest):
            PageParams(cursor=encode_cursor(bad)).after_text_and_id(uuid.UUID, max_length=20)
