"""A completed project drafts its community's satisfaction round (issue 16.2, the seventh step 评议反馈): from the
projects service's real event on JetStream, once per project however often the event arrives."""

from __future__ import annotations

import uuid
from datetime import date

from renovation_common.contracts.projects import ProjectCompleted
from renovation_common.events import new_event
from renovation_common.messaging import ensure_event_stream
from renovation_common.testing.plugin import eventually
from survey.service_layer.consultations.lifecycle import SATISFACTION_DRAFTER, satisfaction_round_id


async def test_a_completed_project_drafts_one_satisfaction_round(world, jetstream):
    project_id = str(uuid.uuid4())
    await ensure_event_stream(jetstream, "projects")
    data = ProjectCompleted(
        project_id=project_id, community_id=world.community_id, district_id=world.district, completed_on=date.today()
    )
    for _ in range(3):  # three deliveries of the news (distinct event ids: a replay, another replica's publish)
        event = new_event(data, source="/renovation/projects", subject=project_id)
        await jetstream.publish(event.nats_subject, event.model_dump_json().encode(), headers={"Nats-Msg-Id": event.id})

    drafted = str(satisfaction_round_id(project_id))

    async def listed() -> list[dict]:
        r = await world.client.get("/v1/consultations", headers=world.officer(), params={"kind": "satisfaction"})
        assert r.status_code == 200, r.text
        return [c for c in r.json()["items"] if c["id"] == drafted]

    async def present() -> bool:
        return bool(await listed())

    await eventually(present, timeout_s=30)
    [round_] = await listed()
    assert round_["state"] == "draft" and round_["community_id"] == world.community_id
    assert round_["decision_question_id"] == "satisfied" and "满意度" in round_["title"]
    # staff open it as any other round; residents then see it in their list
    opened = await world.client.post(f"/v1/consultations/{drafted}/open", headers=world.worker())
    assert opened.status_code == 200, opened.text
    async with world.app.state.sessionmaker() as session:
        from sqlalchemy import text

        rows = (await session.execute(text("select created_by from consultations where kind = 'satisfaction'"))).all()
    assert [r.created_by for r in rows] == [SATISFACTION_DRAFTER]  # once, by the system, for the three deliveries
