"""Issue 12, point 4 (survey): owners' names and phone numbers live in the ``households`` table and nowhere else.

Households are registered three ways — a JSON batch, a CSV import, an update of the owner's contact — each with an
``Idempotency-Key`` (whose stored response is where a copy would land: the update's response shows the contact), a
consultation is answered, closed and exported; the relay publishes every event. Then:

* every column of every row of every table of the survey database but ``households`` is searched for each name and
  phone number in every form it could be written in (as text, JSON-escaped, the hex of its UTF-8 bytes — how a
  ``bytea`` column reads as text — and base64); ``households`` itself holds them (the control that the search
  finds what is there);
* the outbox rows (``survey.household.registered.v1`` / ``.updated.v1`` / ``survey.community.registered.v1`` …) and
  the ``idempotency_keys`` rows are checked directly: they exist, and hold none of it — the idempotency record keeps
  the response only encrypted, and still replays it;
* the events as delivered on NATS, the service's logs and the CSV/XLSX exports hold none of it either.
"""

from __future__ import annotations

import base64
import io
import json
import random
import uuid

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from renovation_common.testing import bearer
from renovation_common.testing.plugin import eventually, running_app
from survey.entrypoints.app import create_app

pytestmark = pytest.mark.integration

DISTRICT, STREET = "510105", "51010501"
SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨"
GIVEN = "秀英桂兰建国志强淑珍玉梅德胜凤霞"


def person(rnd: random.Random) -> tuple[str, str]:
    name = rnd.choice(SURNAMES) + "".join(rnd.sample(GIVEN, 3))
    phone = "139" + "".join(rnd.choice("0123456789") for _ in range(8))
    return name, phone


def forms(value: str) -> list[str]:
    """Every way the value could be written down in a row read as text."""
    raw = value.encode()
    return [
        value,
        json.dumps(value)[1:-1],  # \\uXXXX escapes
        raw.hex(),
        base64.b64encode(raw).decode().rstrip("="),
    ]


async def tables_as_text(session) -> dict[str, list[str]]:
    names = (
        await session.execute(
            sa.text("select tablename from pg_tables where schemaname = current_schema() order by tablename")
        )
    ).scalars()
    return {
        name: list((await session.execute(sa.text(f'select t::text from "{name}" t'))).scalars())
        for name in list(names)
    }


def leaks_in(text: str, values: list[str]) -> list[str]:
    return [v for v in values for form in forms(v) if form in text]


async def test_owners_names_and_phones_are_only_in_the_households_table(database_factory, stack, make_token, capfd):
    rnd = random.Random(uuid.uuid4().int)
    people = [person(rnd) for _ in range(4)]
    personal = [v for p in people for v in p]
    app = create_app(database_url=await database_factory("survey"), nats_url=stack.nats_url, log_json=True)
    import nats

    received: list[dict] = []
    nc = await nats.connect(stack.nats_url)
    try:

        async def collect(msg) -> None:
            received.append(json.loads(msg.data))

        await nc.subscribe("renovation.survey.>", cb=collect)
        async with running_app(app) as client:  # stopped inside the test: its logs are all captured below
            community_id, exports = await _register_update_answer_and_export(client, make_token, people)

            async def relayed() -> bool:
                async with app.state.sessionmaker() as session:
                    pending = await session.scalar(sa.text("select count(*) from outbox where published_at is null"))
                return pending == 0

            await eventually(relayed)

            async def delivered() -> bool:
                async with app.state.sessionmaker() as session:
                    sent = await session.scalar(sa.text("select count(*) from outbox"))
                return len([e for e in received if e["data"].get("community_id") == community_id]) >= sent

            await eventually(delivered)
            ours = [e for e in received if e["data"].get("community_id") == community_id]
            async with app.state.sessionmaker() as session:
                tables = await tables_as_text(session)
                outbox = (await session.execute(sa.text("select event_type, payload::text from outbox"))).all()
                idempotency = (
                    await session.execute(sa.text("select key, response_body, request_hash from idempotency_keys"))
                ).all()
    finally:
        await nc.close()
    logged = "".join(capfd.readouterr())

    # the control: the registry holds every current name and phone (so the search finds what is there); the first
    # owner's, replaced by the update, is nowhere any more
    households = "\n".join(tables["households"])
    replaced = list(people[0])
    assert all(v in households for v in personal if v not in replaced)
    assert leaks_in(households, replaced) == []
    # the scan covers the tables that hold copies of responses and events
    assert {"outbox", "idempotency_keys", "registry_audit", "submissions", "response_audit", "responses"} <= set(tables)
    leaks = [
        (table, v)
        for table, rows in tables.items()
        if table != "households"
        for v in leaks_in("\n".join(rows), personal)
    ]
    assert leaks == [], f"personal data in clear outside the households table: {leaks}"

    # the outbox rows, directly: every kind of registry event is there, none with a name or a phone
    types = {t for t, _ in outbox}
    assert {
        "survey.community.registered.v1",
        "survey.household.registered.v1",
        "survey.household.updated.v1",
        "survey.consultation.closed.v1",
    } <= types
    assert [t for t, payload in outbox if leaks_in(payload, personal)] == []
    # the idempotency records, directly: one per keyed request, each with its (encrypted) response
    assert len(idempotency) == 4 and all(body for _, body, _ in idempotency)
    assert [k for k, body, h in idempotency if leaks_in(bytes(body).decode("latin-1") + h, personal)] == []

    # the events as delivered, the logs and the exports
    assert {e["type"] for e in ours} >= {"survey.household.registered.v1", "survey.household.updated.v1"}
    assert leaks_in(json.dumps(ours, ensure_ascii=False), personal) == []
    assert "http_request" in logged  # the requests were logged ...
    assert leaks_in(logged, personal) == []  # ... without a name or a phone
    for name, content in exports.items():
        assert leaks_in(content, personal) == [], name


async def _register_update_answer_and_export(client, make_token, people) -> tuple[str, dict[str, str]]:
    admin = bearer(make_token("district_admin", sub="da-at-rest", district_id=DISTRICT))

    def keyed(headers: dict[str, str], name: str) -> dict[str, str]:
        return {**headers, "Idempotency-Key": f"{name}-{uuid.uuid4()}"}

    r = await client.post(
        "/v1/communities",
        json={"name": "劲松北社区", "street_id": STREET},
        headers=keyed(admin, "community"),
    )
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    worker = bearer(
        make_token("community_worker", sub="cw-at-rest", district_id=DISTRICT, street_id=STREET, community_id=cid)
    )
    (n0, p0), (n1, p1), (n2, p2), (n3, p3) = people
    batch = {
        "households": [
            {
                "building": "1",
                "unit": "1",
                "room": "101",
                "floor_area_m2": "60.50",
                "owner_name": n0,
                "owner_phone": p0,
                "residents": [{"birth_year": 1948, "lives_alone": True}],
            },
            {
                "building": "1",
                "unit": "1",
                "room": "102",
                "floor_area_m2": "72.00",
                "owner_name": n1,
                "owner_phone": p1,
                "residents": [{"birth_year": 1990}],
            },
        ]
    }
    r = await client.post(f"/v1/communities/{cid}/households", json=batch, headers=keyed(worker, "batch"))
    assert r.status_code == 201, r.text
    first = r.json()["households"][0]["id"]
    csv_file = (
        f"building,unit,room,floor_area_m2,owner_name,owner_phone,resident_birth_years\n2,1,201,65.30,{n2},{p2},1952\n"
    ).encode()
    r = await client.post(
        f"/v1/communities/{cid}/households/import",
        content=csv_file,
        headers={**keyed(worker, "import"), "content-type": "text/csv"},
    )
    assert r.status_code == 201, r.text

    # the owner changes: the response (which the idempotency record stores) shows the new contact
    update_key = keyed(worker, "update")
    r = await client.patch(f"/v1/households/{first}", json={"owner_name": n3, "owner_phone": p3}, headers=update_key)
    assert r.status_code == 200 and r.json()["owner_phone"] == p3, r.text
    again = await client.patch(
        f"/v1/households/{first}", json={"owner_name": n3, "owner_phone": p3}, headers=update_key
    )
    assert again.headers.get("idempotent-replayed") == "true" and again.json()["owner_phone"] == p3

    r = await client.post(
        "/v1/consultations",
        json={
            "community_id": cid,
            "kind": "willingness",
            "title": "是否同意改造",
            "questions": [{"id": "q1", "kind": "single_choice", "text": "同意吗?", "options": ["yes", "no"]}],
            "rule": {"kind": "household_share"},
            "decision_question_id": "q1",
            "approve_options": ["yes"],
        },
        headers=worker,
    )
    assert r.status_code == 201, r.text
    consultation = r.json()["id"]
    assert (await client.post(f"/v1/consultations/{consultation}/open", headers=worker)).status_code == 200
    r = await client.post(
        f"/v1/consultations/{consultation}/responses",
        json={"submission_id": str(uuid.uuid4()), "household_id": first, "answers": {"q1": "yes"}, "channel": "paper"},
        headers=worker,
    )
    assert r.status_code == 201, r.text
    assert (await client.post(f"/v1/consultations/{consultation}/close", headers=worker)).status_code == 200
    exports = {}
    for fmt in ("csv", "xlsx"):
        r = await client.get(f"/v1/consultations/{consultation}/export?format={fmt}", headers=worker)
        assert r.status_code == 200
        if fmt == "csv":
            exports[fmt] = r.content.decode("utf-8-sig")
        else:
            sheet = load_workbook(io.BytesIO(r.content)).worksheets[0]
            exports[fmt] = "\n".join(str(c.value) for row in sheet.iter_rows() for c in row)
    return cid, exports
