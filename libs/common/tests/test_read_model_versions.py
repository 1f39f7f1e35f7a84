"""Proof: a read model keeps the newest state whatever the order events arrive in (two consumer replicas, a
redelivery, a replay): ``db.upsert_newest`` ignores an event older than the stored row."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from renovation_common.db import new_metadata, upsert_newest

pytestmark = pytest.mark.integration

metadata = new_metadata()
homes = sa.Table(
    "homes",
    metadata,
    sa.Column("id", sa.String(20), primary_key=True),
    sa.Column("floor_area_m2", sa.Numeric(10, 2), nullable=False),
    sa.Column("source_version", sa.BigInteger, nullable=False, server_default="0"),
)


async def test_an_older_event_never_overwrites_a_newer_state(probe_db):
    async with probe_db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    applied = []
    for version, area in ((1, "60.00"), (3, "80.00"), (2, "70.00"), (3, "80.00"), (1, "60.00")):
        async with probe_db.sessionmaker() as s, s.begin():
            applied.append(
                await upsert_newest(s, homes, "id", {"id": "h1", "floor_area_m2": area, "source_version": version})
            )
    async with probe_db.sessionmaker() as s:
        row = (await s.execute(sa.select(homes))).one()
    assert (str(row.floor_area_m2), row.source_version) == ("80.00", 3)
    assert applied == [True, True, False, True, False]  # the late v2 and v1 changed nothing
