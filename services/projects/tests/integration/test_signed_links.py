"""Short-lived signed links (issue 15.5): a chart or an export opens in a browser without a bearer header, as its
maker, for that one request only (``renovation_common.links``), on the real service and database."""

from __future__ import annotations

import time
from datetime import date
from urllib.parse import parse_qs, urlsplit

from projects.entrypoints.app import create_app
from renovation_common.testing.plugin import bearer

from .conftest import seed_community
from .test_faces_and_delays import _planned_project, ids


async def test_a_signed_link_opens_its_chart_once_scoped_and_nothing_else(service_client, make_token):
    app, client = await service_client(create_app, "projects")
    district, street, community = ids()
    await seed_community(app, community, district, street)
    admin = bearer(make_token("district_admin", district_id=district))
    project = await _planned_project(client, admin, community, date(2025, 3, 3))
    chart = f"/v1/projects/{project['id']}/handover-chart?format=svg"

    made = await client.post("/v1/links", json={"path": chart}, headers=admin)
    assert made.status_code == 201, made.text
    url = made.json()["url"]
    assert url.startswith(f"/v1/projects/{project['id']}/handover-chart?") and "link=" in url
    assert time.time() < made.json()["expires_at"] <= time.time() + 300 + 5
    token = parse_qs(urlsplit(url).query)["link"][0]
    assert community not in token and district not in token  # the maker's scope is sealed, not readable

    opened = await client.get(url)  # no Authorization header: the link is the credential
    assert opened.status_code == 200, opened.text
    assert opened.headers["content-type"].startswith("image/svg+xml") and "<svg" in opened.text
    assert opened.content == (await client.get(chart, headers=admin)).content

    # bound to that request: another format, another project or another operation is refused
    other = f"/v1/projects/{project['id']}/handover-chart?format=json&link={token}"
    assert (await client.get(other)).json()["code"] == "invalid_link"
    r = await client.get(f"/v1/projects/{project['id']}?link={token}")
    assert r.status_code == 401 and r.json()["code"] == "link_not_accepted"
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    r = await client.get(f"/v1/projects/{project['id']}/handover-chart?format=svg&link={tampered}")
    assert r.status_code == 401 and r.json()["code"] == "invalid_link"
    # expired
    signer = app.state.link_signer
    admin_principal = app.state.token_verifier.verify(admin["Authorization"].split()[1])
    stale, _ = signer.sign(admin_principal, chart, now=time.time() - 3600)
    r = await client.get(f"{chart}&link={stale}")
    assert r.status_code == 401 and r.json()["code"] == "link_expired"

    # only operations that accept links, only paths of this service
    for path in (f"/v1/projects/{project['id']}", "https://evil.example/v1/x", "/v1/nowhere"):
        r = await client.post("/v1/links", json={"path": path}, headers=admin)
        assert r.status_code == 422 and r.json()["code"] == "link_not_allowed", (path, r.text)
    assert (await client.post("/v1/links", json={"path": chart})).status_code == 401  # a bearer makes a link

    # a link never grants more than its maker holds: an officer of another district gets a link, not the chart
    outsider = bearer(make_token("district_admin", district_id="d-elsewhere"))
    theirs = await client.post("/v1/links", json={"path": chart}, headers=outsider)
    assert theirs.status_code == 201
    r = await client.get(theirs.json()["url"])
    assert r.status_code == 403 and r.json()["code"] == "out_of_scope"
    # the workbook too
    table = f"/v1/projects/{project['id']}/progress-table?date=2025-03-10&format=xlsx"
    r = await client.get((await client.post("/v1/links", json={"path": table}, headers=admin)).json()["url"])
    assert r.status_code == 200 and r.content[:2] == b"PK"
