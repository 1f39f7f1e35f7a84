"""Responses: idempotent submissions, concurrency, authorisation by role and scope, batch sync, audit."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from renovation_common.contracts.survey import ResponseRecorded
from renovation_common.events import parse_event
from renovation_common.testing.plugin import bearer


async def _count(client, sql: str, *args) -> int:
    url = client._transport.app.state.settings.database_url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval(sql, *args))
    finally:
        await conn.close()


async def test_200_concurrent_duplicate_submissions_count_once(world):
    cid = await world.consultation()
    hid = world.households[0]["id"]
    body = {
        "submission_id": str(uuid.uuid4()),
        "household_id": hid,
        "answers": {"agree": "yes"},
        "channel": "door_to_door",
    }
    headers = world.worker()
    results = await asyncio.gather(
        *(world.client.post(f"/v1/consultations/{cid}/responses", json=body, headers=headers) for _ in range(200))
    )
    assert sorted(r.status_code for r in results) == [200] * 199 + [201], {r.status_code for r in results}
    assert len({r.json()["response_id"] for r in results}) == 1
    assert all((r.headers.get("idempotent-replayed") == "true") == (r.status_code == 200) for r in results)
    # and 50 concurrent *different* submissions for the same household still leave one response
    others = await asyncio.gather(*(world.answer(cid, hid, {"agree": "no"}) for _ in range(50)))
    assert all(r.status_code in (200, 201) for r in others)
    assert await _count(world.client, "select count(*) from responses where consultation_id = $1", uuid.UUID(cid)) == 1
    audit = await _count(world.client, "select count(*) from response_audit where consultation_id = $1", uuid.UUID(cid))
    assert audit == 51  # the first submission once, then every other one (updates are audited)
    result = (await world.client.get(f"/v1/consultations/{cid}/result", headers=world.worker())).json()
    assert result["participation"]["households"] == 1


async def test_same_submission_id_with_other_body_is_409(world):
    cid = await world.consultation()
    hid = world.households[0]["id"]
    sid = str(uuid.uuid4())
    base = {"submission_id": sid, "household_id": hid, "channel": "paper"}
    first = await world.client.post(
        f"/v1/consultations/{cid}/responses", json={**base, "answers": {"agree": "yes"}}, headers=world.worker()
    )
    assert first.status_code == 201
    again = await world.client.post(
        f"/v1/consultations/{cid}/responses", json={**base, "answers": {"agree": "yes"}}, headers=world.worker()
    )
    assert again.status_code == 200 and again.json() == first.json()  # a replay: the first answer, 200
    other = await world.client.post(
        f"/v1/consultations/{cid}/responses", json={**base, "answers": {"agree": "no"}}, headers=world.worker()
    )
    assert other.status_code == 409
    assert other.headers["content-type"].startswith("application/problem+json")
    assert other.json()["code"] == "submission_id_reused"


async def test_resident_answers_and_reads_only_own_household(world):
    cid = await world.consultation()
    mine, theirs = world.households[0]["id"], world.households[1]["id"]
    me = world.resident(mine)
    r = await world.client.post(
        f"/v1/consultations/{cid}/responses",
        json={"submission_id": str(uuid.uuid4()), "answers": {"agree": "yes"}},
        headers=me,
    )
    assert r.status_code == 201, r.text
    assert r.json()["household_id"] == mine and r.json()["channel"] == "app"
    r = await world.client.post(
        f"/v1/consultations/{cid}/responses",
        json={"submission_id": str(uuid.uuid4()), "household_id": theirs, "answers": {"agree": "no"}},
        headers=me,
    )
    assert r.status_code == 403 and r.json()["code"] == "not_your_household"
    assert (await world.client.get(f"/v1/consultations/{cid}/responses/{mine}", headers=me)).status_code == 200
    r = await world.client.get(f"/v1/consultations/{cid}/responses/{theirs}", headers=me)
    assert r.status_code == 403
    # personal data: own household yes, another household no
    own = await world.client.get(f"/v1/households/{mine}", headers=me)
    assert own.status_code == 200 and own.json()["owner_name"] == "业主0"
    assert (await world.client.get(f"/v1/households/{theirs}", headers=me)).status_code == 403
    # results are not for residents until published
    r = await world.client.get(f"/v1/consultations/{cid}/result", headers=me)
    assert r.status_code == 403 and r.json()["code"] == "results_not_published"


async def test_worker_outside_scope_gets_403(world):
    cid = await world.consultation()
    hid = world.households[0]["id"]
    outsider = world.worker(community_id=str(uuid.uuid4()))
    r = await world.answer(cid, hid, {"agree": "yes"}, headers=outsider)
    assert r.status_code == 403 and r.json()["code"] == "out_of_scope"
    assert (await world.client.get(f"/v1/consultations/{cid}/result", headers=outsider)).status_code == 403
    assert (await world.client.get(f"/v1/households/{hid}", headers=outsider)).status_code == 403
    assert (
        await world.client.get(f"/v1/communities/{world.community_id}/households", headers=outsider)
    ).status_code == 403
    other_district = bearer(world.make_token("district_admin", district_id="d-other"))
    assert (await world.client.get(f"/v1/consultations/{cid}/export", headers=other_district)).status_code == 403
    contractor = bearer(world.make_token("contractor", district_id=world.district))
    assert (await world.answer(cid, hid, {"agree": "yes"}, headers=contractor)).status_code == 403


async def test_worker_records_channel_and_interviewer_and_audit(world):
    cid = await world.consultation()
    hid = world.households[2]["id"]
    worker = world.worker(sub="grid-worker-7")
    t0 = datetime.now(UTC)  # after opening; offline times within the allowed clock skew
    r1 = await world.answer(
        cid, hid, {"agree": "no", "why": "noise"}, headers=worker, answered_at=(t0 + timedelta(seconds=10)).isoformat()
    )
    assert r1.status_code == 201
    r2 = await world.answer(
        cid,
        hid,
        {"agree": "yes"},
        headers=worker,
        channel="meeting",
        answered_at=(t0 + timedelta(seconds=20)).isoformat(),
    )
    assert r2.status_code == 200 and r2.json()["status"] == "updated" and r2.json()["version"] == 2
    # an offline answer made earlier but synced later does not overwrite the newer one
    r3 = await world.answer(
        cid, hid, {"agree": "no", "why": "late"}, headers=worker, answered_at=(t0 + timedelta(seconds=15)).isoformat()
    )
    assert r3.status_code == 200 and r3.json()["status"] == "superseded"
    trail = (await world.client.get(f"/v1/consultations/{cid}/responses/{hid}", headers=worker)).json()
    assert trail["responses"][0]["answers"] == {"agree": "yes"}
    assert [a["action"] for a in trail["audit"]] == ["created", "updated", "superseded"]
    assert {a["interviewer"] for a in trail["audit"]} == {"grid-worker-7"}
    assert [a["channel"] for a in trail["audit"]] == ["door_to_door", "meeting", "door_to_door"]
    # invalid answers: hidden question, unknown option
    bad = await world.answer(cid, hid, {"agree": "yes", "why": "x"})
    assert bad.status_code == 422 and bad.json()["code"] == "answer_to_hidden_question"
    bad = await world.answer(cid, hid, {"agree": "perhaps"})
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_answer"
    missing_channel = await world.client.post(
        f"/v1/consultations/{cid}/responses",
        json={"submission_id": str(uuid.uuid4()), "household_id": hid, "answers": {"agree": "yes"}},
        headers=worker,
    )
    assert missing_channel.status_code == 400 and missing_channel.json()["code"] == "channel_required"


async def test_batch_sync_answers_each_item(world):
    cid = await world.consultation()
    items = [
        {
            "submission_id": str(uuid.uuid4()),
            "household_id": h["id"],
            "answers": {"agree": "yes"},
            "channel": "door_to_door",
        }
        for h in world.households[:3]
    ]
    items.append(
        {
            "submission_id": str(uuid.uuid4()),
            "household_id": str(uuid.uuid4()),
            "answers": {"agree": "yes"},
            "channel": "door_to_door",
        }
    )
    items.append(
        {
            "submission_id": str(uuid.uuid4()),
            "household_id": world.households[3]["id"],
            "answers": {"agree": "maybe"},
            "channel": "paper",
        }
    )
    items.append(items[0])  # a repeat inside the batch is a replay
    r = await world.client.post(
        f"/v1/consultations/{cid}/responses/batch", json={"items": items}, headers=world.worker()
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert [i["status"] for i in body["items"]] == [201, 201, 201, 404, 422, 200]  # the repeat: a replay
    assert body["items"][5]["replayed"] is True
    assert body["items"][3]["problem"]["code"] == "household_not_found"
    assert body["accepted"] == 4 and body["rejected"] == 2
    too_many = await world.client.post(
        f"/v1/consultations/{cid}/responses/batch", json={"items": [items[0]] * 501}, headers=world.worker()
    )
    assert too_many.status_code == 422


async def test_no_answers_once_closed(world):
    cid = await world.consultation()
    await world.answer(cid, world.households[0]["id"], {"agree": "yes"})
    r = await world.client.post(f"/v1/consultations/{cid}/close", headers=world.worker())
    assert r.status_code == 200
    late = await world.answer(cid, world.households[1]["id"], {"agree": "yes"})
    assert late.status_code == 409 and late.json()["code"] == "consultation_not_open"
    again = await world.client.post(f"/v1/consultations/{cid}/close", headers=world.worker())
    assert again.status_code == 409 and again.json()["code"] == "invalid_transition"


async def test_each_write_records_its_event_with_the_counts_it_saw(world):
    """A new answer writes its survey.response.recorded.v1 in the same statement as the answer (the counts filled
    in by the statement); an update, a batch and a replay go their own ways: each event counts what a count(*) in
    its transaction saw, a replay writes none, and every event fits its contract."""
    cid = await world.consultation()
    h = [x["id"] for x in world.households]
    first = {"submission_id": str(uuid.uuid4()), "household_id": h[0], "answers": {"agree": "yes"}, "channel": "paper"}
    assert (
        await world.client.post(f"/v1/consultations/{cid}/responses", json=first, headers=world.worker())
    ).status_code == 201
    replay = await world.client.post(f"/v1/consultations/{cid}/responses", json=first, headers=world.worker())
    assert replay.status_code == 200 and replay.headers["idempotent-replayed"] == "true"
    assert (await world.answer(cid, h[1], {"agree": "no"})).status_code == 201
    assert (await world.answer(cid, h[0], {"agree": "no"})).status_code == 200  # an update: no new answer
    batch = {
        "items": [
            {"submission_id": str(uuid.uuid4()), "household_id": h[2], "answers": {"agree": "yes"}, "channel": "paper"}
        ]
    }
    assert (
        await world.client.post(f"/v1/consultations/{cid}/responses/batch", json=batch, headers=world.worker())
    ).status_code == 200
    url = world.client._transport.app.state.settings.database_url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "select subject, payload::text as payload from outbox where event_type = 'survey.response.recorded.v1' "
            "and payload->>'subject' = $1 order by seq",
            cid,
        )
    finally:
        await conn.close()
    events = [parse_event(r["payload"].encode()) for r in rows]
    assert [r["subject"] for r in rows] == ["renovation.survey.response.recorded.v1"] * 4
    assert all(isinstance(d, ResponseRecorded) for _, d in events)  # valid against the contract
    assert [(d.responses_count, d.households_total) for _, d in events] == [(1, 5), (2, 5), (2, 5), (3, 5)]
    assert {(d.community_id, d.district_id, d.street_id, d.kind) for _, d in events} == {
        (world.community_id, world.district, world.street, "willingness")
    }


async def test_a_household_changed_while_its_answer_is_written_counts_the_new_facts(world):
    """A single new answer is written as one statement after a read without locks; when the household changes
    between the two (here its area, committed while the write waits for the household's lock), that statement
    writes nothing and the general path counts the answer with the household as it is now."""
    cid = await world.consultation()
    hid = world.households[0]["id"]
    url = world.client._transport.app.state.settings.database_url.replace("postgresql+asyncpg://", "postgresql://")
    change = await asyncpg.connect(url)
    watch = await asyncpg.connect(url)
    try:
        tx = change.transaction()
        await tx.start()
        await change.execute(
            "update households set floor_area_m2 = 99.99, version = version + 1 where id = $1", uuid.UUID(hid)
        )
        answering = asyncio.create_task(world.answer(cid, hid, {"agree": "yes"}))
        # the write has read the household as it was and now waits for the household's lock
        for _ in range(600):
            waiting = await watch.fetchval(
                "select count(*) from pg_stat_activity where wait_event_type = 'Lock' and query like "
                "'%survey_record_new_answer%'"
            )
            if waiting or answering.done():
                break
            await asyncio.sleep(0.05)
        assert waiting == 1, "the one-statement write did not wait for the household"
        await tx.commit()
        r = await answering
    finally:
        await change.close()
        await watch.close()
    assert r.status_code == 201, r.text
    result = (await world.client.get(f"/v1/consultations/{cid}/result", headers=world.worker())).json()
    assert result["participation"]["households"] == 1
    assert result["participation"]["area_m2"] == "99.99"  # the area committed before the answer, not the one read


async def test_an_answer_under_an_idempotency_key_records_the_key_with_it(world):
    """A request with an Idempotency-Key takes the general path (the key's record must commit with the answer,
    in one transaction): the answer and the record land together, and the same request again is replayed."""
    cid = await world.consultation()
    body = {
        "submission_id": str(uuid.uuid4()),
        "household_id": world.households[0]["id"],
        "answers": {"agree": "yes"},
        "channel": "paper",
    }
    headers = {**world.worker(), "Idempotency-Key": f"k-{uuid.uuid4()}"}
    first = await world.client.post(f"/v1/consultations/{cid}/responses", json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert (
        await _count(world.client, "select count(*) from idempotency_keys where key = $1", headers["Idempotency-Key"])
        == 1
    )
    again = await world.client.post(f"/v1/consultations/{cid}/responses", json=body, headers=headers)
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert await _count(world.client, "select count(*) from responses where consultation_id = $1", uuid.UUID(cid)) == 1
