"""`alembic upgrade head` on an empty database gives exactly the tables the ORM declares; 0006 backfills the
incremental tallies from the answers already stored."""

import asyncio
import json
import uuid
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from renovation_common.migrations import alembic_config
from survey.adapters.orm import metadata
from survey.adapters.repositories import ConsultationRepository, ResponseRepository, TallyRepository
from survey.service_layer.consultations.access import load_consultation
from survey.service_layer.consultations.results import recount_tallies


async def test_migrations_match_models(database_factory):
    url = await database_factory("survey")
    engine = create_async_engine(url, poolclass=sa.pool.NullPool)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c, opts={"compare_type": True}), metadata)
            )
    finally:
        await engine.dispose()
    assert diff == []


async def test_0006_backfills_tallies_and_counters_from_existing_answers(database_factory):
    """A database with answers from before 0006: the migration's backfill gives exactly the full recount, and the
    registry counters the households."""
    url = await database_factory("survey", migrate=False)
    cfg = alembic_config(Path(__file__).parents[2], url)
    await asyncio.to_thread(command.upgrade, cfg, "0005")
    engine = create_async_engine(url, poolclass=sa.pool.NullPool)
    community, building, consultation = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    households = [uuid.uuid4() for _ in range(6)]
    questions = [
        {"id": "agree", "kind": "single_choice", "text": "同意?", "options": ["yes", "no"]},
        {"id": "items", "kind": "multiple_choice", "text": "项目", "options": ["parking", "greening"]},
    ]
    try:
        async with engine.begin() as conn:
            x = conn.execute
            await x(
                sa.text(
                    "insert into communities (id, name, district_id, street_id, maintenance_fund_established) "
                    "values (:id, '劲松', 'd', 's', false)"
                ),
                {"id": community},
            )
            await x(
                sa.text("insert into buildings (id, community_id, code) values (:b, :c, '1')"),
                {"b": building, "c": community},
            )
            for i, h in enumerate(households):
                await x(
                    sa.text(
                        "insert into households (id, community_id, building_id, unit, room, floor_area_m2) "
                        "values (:h, :c, :b, '1', :room, :area)"
                    ),
                    {"h": h, "c": community, "b": building, "room": str(100 + i), "area": Decimal(f"5{i}.25")},
                )
                await x(
                    sa.text("insert into residents (id, household_id, birth_year) values (:r, :h, :y)"),
                    {"r": uuid.uuid4(), "h": h, "y": 1945 + 10 * i},
                )
            await x(
                sa.text(
                    "insert into consultations (id, community_id, district_id, street_id, kind, title, state, "
                    "questions, rule, decision_question_id, approve_options, created_by) values (:id, :c, 'd', 's', "
                    "'willingness', 't', 'open', cast(:q as jsonb), 'civil_code_278_major', 'agree', "
                    "cast('[\"yes\"]' as jsonb), 'x')"
                ),
                {"id": consultation, "c": community, "q": json.dumps(questions)},
            )
            for i, h in enumerate(households[:5]):
                answers = {"agree": "yes" if i % 3 else "no", "items": ["parking"] if i % 2 else ["greening"]}
                await x(
                    sa.text(
                        "insert into responses (id, consultation_id, household_id, respondent_key, answers, channel, "
                        "interviewer, answered_at, last_submission_id) values (:id, :c, :h, :h, cast(:a as jsonb), "
                        "'paper', 'w', now(), :s)"
                    ),
                    {"id": uuid.uuid4(), "c": consultation, "h": h, "a": json.dumps(answers), "s": uuid.uuid4()},
                )
        await asyncio.to_thread(command.upgrade, cfg, "head")
        async with AsyncSession(engine) as session:
            row = await load_consultation(ConsultationRepository(session), consultation)
            expected, _ = await recount_tallies(ResponseRepository(session), row)
            backfilled = await TallyRepository(session).tallies(consultation)
            registry = await TallyRepository(session).registry_totals(community)
    finally:
        await engine.dispose()
    assert backfilled == expected
    assert backfilled.n("responses") == 5 and backfilled.n("approving") == 3
    assert backfilled.amount("participating") == sum(Decimal(f"5{i}.25") for i in range(5))
    assert registry.households == 6 and registry.area == sum(Decimal(f"5{i}.25") for i in range(6))
    assert dict(registry.households_per_building) == {"1": 6}
