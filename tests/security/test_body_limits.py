"""Issue 12, point 7 (the part every service shares): request bodies are bounded before they are buffered.

A declared Content-Length above the limit is refused without reading the body; a streamed body without a length is
counted as it arrives and refused once it passes the limit; both answer 413 problem+json with a stable code.
"""

from __future__ import annotations

import json

import pytest

from renovation_common.testing import bearer
from survey.entrypoints.app import create_app

pytestmark = pytest.mark.integration

LIMIT = 64 * 1024


@pytest.fixture
async def survey(service_client):
    _, client = await service_client(create_app, "survey", max_body_bytes=LIMIT, workers_enabled=False)
    return client


def admin(make_token) -> dict[str, str]:
    return bearer(make_token("district_admin", district_id="510105"))


def community(padding: int) -> bytes:
    return json.dumps({"name": "x" * padding, "district_id": "510105", "street_id": "51010501"}).encode()


async def test_a_declared_length_above_the_limit_is_refused_unread(survey, make_token):
    pulled = 0

    async def body():
        nonlocal pulled
        for _ in range(64):  # 4 MiB if anyone read it all
            pulled += 1
            yield b"x" * 65536

    headers = {**admin(make_token), "Content-Type": "application/json", "Content-Length": str(64 * 65536)}
    r = await survey.post("/v1/communities", content=body(), headers=headers)
    assert r.status_code == 413
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "payload_too_large"
    assert pulled <= 1, f"{pulled} chunks were read before the refusal"


async def test_a_streamed_body_is_counted_and_cut_at_the_limit(survey, make_token):
    pulled = 0

    async def body():
        nonlocal pulled
        for _ in range(64):
            pulled += 1
            yield b" " * 16384

    r = await survey.post(
        "/v1/communities", content=body(), headers={**admin(make_token), "Content-Type": "application/json"}
    )
    assert r.status_code == 413 and r.json()["code"] == "payload_too_large"
    assert pulled <= LIMIT // 16384 + 2, f"{pulled} chunks were read past a {LIMIT}-byte limit"


async def test_a_body_within_the_limit_is_served(survey, make_token):
    r = await survey.post(
        "/v1/communities", content=community(100), headers={**admin(make_token), "Content-Type": "application/json"}
    )
    assert r.status_code == 201, r.text


async def test_a_nul_character_in_a_json_string_is_refused_before_any_handler(survey, make_token):
    """Postgres text cannot hold U+0000: every operation refuses it with 422 ``invalid_text`` (found by the fuzzer
    on a free-text field); an escaped backslash followed by ``u0000`` is ordinary text and is served."""
    headers = {**admin(make_token), "Content-Type": "application/json"}
    nul = json.dumps({"name": "劲松北社区\u0000", "district_id": "510105", "street_id": "51010501"}).encode()
    assert b"\\u0000" in nul
    r = await survey.post("/v1/communities", content=nul, headers=headers)
    assert r.status_code == 422 and r.json()["code"] == "invalid_text", r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    literal = json.dumps({"name": "a\\u0000b", "district_id": "510105", "street_id": "51010501"}).encode()
    r = await survey.post("/v1/communities", content=literal, headers=headers)
    assert r.status_code == 201 and r.json()["name"] == "a\\u0000b", r.text
