"""Lists a resident app and a street office start from (issue 15.1): communities and consultations, each within the
caller's scope as the registry records it, with filters and a cursor."""

from __future__ import annotations

from renovation_common.testing.plugin import all_pages, bearer


async def test_communities_and_consultations_are_listed_in_scope(world, make_token):
    client = world.client
    second = await world.community("劲松南社区")
    r = await client.post(
        "/v1/communities",
        json={"name": "别区社区", "district_id": "d-elsewhere", "street_id": "s-elsewhere", "built_year": 1990,
              "delivered_year": 1991, "maintenance_fund_established": False},
        headers=world.officer(district="d-elsewhere"),
    )  # fmt: skip
    assert r.status_code == 201, r.text
    elsewhere = r.json()["id"]
    mine = {world.community_id, second}

    admin = world.officer()
    listed = await all_pages(client, "/v1/communities", admin)
    assert {c["id"] for c in listed} >= mine and elsewhere not in {c["id"] for c in listed}
    assert all(c["district_id"] == world.district and c["created_at"] for c in listed)
    worker = world.worker()
    assert [c["id"] for c in await all_pages(client, "/v1/communities", worker)] == [world.community_id]
    home = world.households[0]["id"]
    resident = bearer(make_token("resident", household_id=home))  # no community claim: the registry places them
    assert [c["id"] for c in await all_pages(client, "/v1/communities", resident)] == [world.community_id]
    assert await all_pages(client, "/v1/communities", admin, street_id="s-other") == []

    # consultations: a draft, an open round and one of another community
    draft = await client.post(
        "/v1/consultations",
        json={"community_id": world.community_id, "kind": "demand", "title": "需求调查 (草稿)",
              "questions": [{"id": "q", "kind": "text", "text": "您需要什么?"}]},
        headers=worker,
    )  # fmt: skip
    assert draft.status_code == 201, draft.text
    assert draft.json()["created_at"]  # the create response shows when it was created
    opened = await world.consultation()
    other = await world.consultation(community_id=second)
    staff_view = {c["id"]: c for c in await all_pages(client, "/v1/consultations", admin)}
    assert {draft.json()["id"], opened, other} <= staff_view.keys()
    assert {c["id"] for c in await all_pages(client, "/v1/consultations", worker)} == {draft.json()["id"], opened}
    assert [c["id"] for c in await all_pages(client, "/v1/consultations", admin, state="draft")] == [draft.json()["id"]]
    assert {c["kind"] for c in await all_pages(client, "/v1/consultations", admin, kind="willingness")} == {
        "willingness"
    }
    ids = [c["id"] for c in await all_pages(client, "/v1/consultations", admin, community_id=second)]
    assert ids == [other]
    # a resident sees the open (and published) rounds of their own community, never drafts or other communities
    assert [c["id"] for c in await all_pages(client, "/v1/consultations", resident)] == [opened]
    assert await all_pages(client, "/v1/consultations", resident, state="draft") == []
    assert await all_pages(client, "/v1/consultations", resident, community_id=second) == []
    outsider = bearer(make_token("district_admin", district_id="d-elsewhere"))
    assert {c["id"] for c in await all_pages(client, "/v1/consultations", outsider)} & staff_view.keys() == set()
    bad = await client.get("/v1/consultations", headers=admin, params={"cursor": "eyJ4IjoxfQ"})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_cursor"
