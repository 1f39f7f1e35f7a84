"""The buildings of a community (issue 15): listed by code with a cursor, filtered, within the caller's scope as the
registry records it (a resident: their own community only)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from renovation_common.testing.plugin import all_pages, bearer


async def test_buildings_are_listed_by_code_with_names_counts_and_areas(world):
    cid = world.community_id
    await world.add_households(cid, ["50.10", "49.90"], building="2")
    await world.add_households(cid, ["88.00"], building="10")
    await world.add_households(cid, ["66.66"], building="A座")
    path = f"/v1/communities/{cid}/buildings"

    listed = await all_pages(world.client, path, world.worker(), page_size=1)  # a cursor after every building
    assert [(b["code"], b["name"], b["household_count"], b["floor_area_m2"]) for b in listed] == [
        ("1", "1号楼", 5, "356.30"),  # 60.00 + 70.50 + 80.25 + 90.00 + 55.55, exact
        ("10", "10号楼", 1, "88.00"),
        ("2", "2号楼", 2, "100.00"),
        ("A座", "A座", 1, "66.66"),
    ]
    assert {b["community_id"] for b in listed} == {cid} and {b["community_name"] for b in listed} == {"劲松北社区"}
    detail = (await world.client.get(f"/v1/households/{world.households[0]['id']}", headers=world.worker())).json()
    assert listed[0]["id"] == detail["building_id"]  # the id households (and other services) know it by
    assert sum(Decimal(b["floor_area_m2"]) for b in listed) == Decimal("610.96")

    page = await world.client.get(path, headers=world.worker(), params={"limit": 3})
    assert [b["code"] for b in page.json()["items"]] == ["1", "10", "2"] and page.json()["next_cursor"]
    rest = await world.client.get(path, headers=world.worker(), params={"cursor": page.json()["next_cursor"]})
    assert [b["code"] for b in rest.json()["items"]] == ["A座"] and rest.json()["next_cursor"] is None

    assert [b["code"] for b in await all_pages(world.client, path, world.officer(), code="2")] == ["2"]
    assert await all_pages(world.client, path, world.officer(), code="99") == []
    assert len(await all_pages(world.client, path, world.officer(), with_households="true")) == 4
    assert await all_pages(world.client, path, world.officer(), with_households="false") == []

    bad = await world.client.get(path, headers=world.worker(), params={"cursor": "eyJ4IjoxfQ"})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_cursor"
    assert bad.headers["content-type"] == "application/problem+json"


async def test_buildings_are_read_only_within_the_scope_the_registry_records(world, make_token):
    client = world.client
    cid = world.community_id
    path = f"/v1/communities/{cid}/buildings"
    other = await world.community("劲松南社区")
    (stranger_home,) = await world.add_households(other, ["40.00"], building="7")

    # a resident of the community reads its buildings: the registry places their household there (no token claim)
    resident = bearer(world.make_token("resident", household_id=world.households[0]["id"]))
    assert [b["code"] for b in await all_pages(client, path, resident)] == ["1"]
    # a resident of another community sees nothing of this one
    stranger = bearer(make_token("resident", household_id=stranger_home["id"]))
    r = await client.get(path, headers=stranger)
    assert r.status_code == 403 and r.json()["code"] == "out_of_scope", r.text
    assert "items" not in r.json()
    # ... even claiming this community in the token: the registry decides, not the claim
    claiming = bearer(make_token("resident", household_id=stranger_home["id"], community_id=cid))
    assert (await client.get(path, headers=claiming)).status_code == 403
    assert [b["code"] for b in await all_pages(client, f"/v1/communities/{other}/buildings", stranger)] == ["7"]

    # staff: the community worker of another community, an admin of another district
    assert (await client.get(path, headers=world.worker(community_id=other))).status_code == 403
    outsider = bearer(make_token("district_admin", district_id="d-elsewhere"))
    r = await client.get(path, headers=outsider)
    assert r.status_code == 403 and r.json()["code"] == "out_of_scope"
    assert [b["code"] for b in await all_pages(client, path, world.officer())] == ["1"]

    # an unknown community is 404 (to anyone allowed the operation); a role without it is 403
    r = await client.get(f"/v1/communities/{uuid.uuid4()}/buildings", headers=world.officer())
    assert r.status_code == 404 and r.json()["code"] == "community_not_found"
    r = await client.get(path, headers=bearer(make_token("contractor", district_id=world.district)))
    assert r.status_code == 403 and r.json()["code"] == "role_not_allowed"
