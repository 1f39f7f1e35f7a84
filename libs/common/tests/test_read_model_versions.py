"""Proof: a read model keeps the newest state whatever the order events arrive in (two consumer replicas, a
redelivery, a replay): ``db.upsert_newest`` ignores an event older than the stored row."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from renovation_common.db import new_metadata, upsert_newest, upsert_newest_many

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


async def test_many_rows_in_one_statement_keep_the_newest_in_the_batch_and_in_the_table(probe_db):
    """``upsert_newest_many``: a consumer's batch in one statement; several events of one aggregate in the batch
    (the newest version wins, the later one between equals) and rows already stored newer than the batch's."""
    async with probe_db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    async with probe_db.sessionmaker() as s, s.begin():
        await upsert_newest(s, homes, "id", {"id": "h-stored-newer", "floor_area_m2": "90.00", "source_version": 5})
    batch = [
        {"id": "h1", "floor_area_m2": "60.00", "source_version": 1},
        {"id": "h1", "floor_area_m2": "80.00", "source_version": 3},
        {"id": "h2", "floor_area_m2": "50.00", "source_version": 0},
        {"id": "h1", "floor_area_m2": "70.00", "source_version": 2},  # late, older than v3 of the same batch
        {"id": "h-stored-newer", "floor_area_m2": "10.00", "source_version": 4},  # older than the stored v5
        {"id": "h2", "floor_area_m2": "55.00", "source_version": 0},  # equal versions: the later one
    ]
    async with probe_db.sessionmaker() as s, s.begin():
        written = await upsert_newest_many(s, homes, "id", batch)
    async with probe_db.sessionmaker() as s:
        rows = {r.id: (str(r.floor_area_m2), r.source_version) for r in await s.execute(sa.select(homes))}
    assert rows == {"h1": ("80.00", 3), "h2": ("55.00", 0), "h-stored-newer": ("90.00", 5)}
    assert written == 2


async def test_a_tiebreak_column_decides_between_equal_versions(probe_db):
    """For producers that do not count versions yet (they send 0): the event time decides between equal versions,
    a higher version wins whatever its time."""
    from datetime import UTC, datetime, timedelta

    timed = sa.Table(
        "timed_homes",
        metadata,
        sa.Column("id", sa.String(20), primary_key=True),
        sa.Column("district", sa.String(20), nullable=False),
        sa.Column("source_version", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    async with probe_db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    now = datetime.now(UTC)
    for district, version, at in (
        ("new", 0, now),
        ("late-old", 0, now - timedelta(minutes=5)),
        ("v1", 1, now - timedelta(hours=1)),
        ("v0-newer", 0, now + timedelta(hours=1)),
    ):
        async with probe_db.sessionmaker() as s, s.begin():
            await upsert_newest_many(
                s,
                timed,
                "id",
                [{"id": "c1", "district": district, "source_version": version, "updated_at": at}],
                tiebreak_column="updated_at",
            )
        async with probe_db.sessionmaker() as s:
            kept = await s.scalar(sa.select(timed.c.district))
        assert kept == {"new": "new", "late-old": "new", "v1": "v1", "v0-newer": "v1"}[district]
