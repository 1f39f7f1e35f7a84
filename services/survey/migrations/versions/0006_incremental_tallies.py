"""Incremental tallies: a consultation's result kept up to date by each write, and registry counters.

* ``consultation_tallies`` (``survey.domain.tallies``) and ``consultation_household_answers`` (per-resident
  surveys), backfilled by the full recount of every consultation's stored answers;
* ``communities.household_count`` / ``floor_area_m2`` and ``buildings.household_count``, backfilled from the
  households;
* ``communities.version`` and ``households.version`` (+ 1 on each change, sent in the registry events);
* a partial index for a result's first suggestions.

The backfill runs the service's own recount (the domain's ``tallies_of``), so the tallies a migrated database
starts from are the ones the service would have kept.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


APPLY_TALLY_DELTA = """
create function survey_apply_tally_delta() returns trigger language plpgsql as $$
begin
    insert into consultation_tallies as t (consultation_id, metric, key, n, amount)
    values (new.consultation_id, new.metric, new.key, new.n, new.amount)
    on conflict (consultation_id, metric, key)
    do update set n = t.n + excluded.n, amount = t.amount + excluded.amount;
    delete from consultation_tally_deltas where id = new.id;
    return null;
end
$$
"""


def upgrade() -> None:
    op.add_column("communities", sa.Column("household_count", sa.Integer(), server_default="0", nullable=False))
    op.add_column("communities", sa.Column("floor_area_m2", sa.Numeric(16, 2), server_default="0", nullable=False))
    op.add_column("communities", sa.Column("version", sa.Integer(), server_default="1", nullable=False))
    op.add_column("buildings", sa.Column("household_count", sa.Integer(), server_default="0", nullable=False))
    op.add_column("households", sa.Column("version", sa.Integer(), server_default="1", nullable=False))
    op.create_table(
        "consultation_tallies",
        sa.Column("consultation_id", sa.UUID(), nullable=False),
        sa.Column("metric", sa.String(length=20), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("n", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("amount", sa.Numeric(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["consultation_id"],
            ["consultations.id"],
            name=op.f("fk_consultation_tallies_consultation_id_consultations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("consultation_id", "metric", "key", name=op.f("pk_consultation_tallies")),
    )
    op.create_table(
        "consultation_tally_deltas",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("consultation_id", sa.UUID(), nullable=False),
        sa.Column("metric", sa.String(length=20), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.Numeric(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consultation_tally_deltas")),
    )
    # a write's deltas are applied at its commit, inside COMMIT (see survey.adapters.orm.TallyDeltaRow)
    op.execute(APPLY_TALLY_DELTA)
    op.execute(
        "create constraint trigger apply_tally_delta after insert on consultation_tally_deltas "
        "deferrable initially deferred for each row execute function survey_apply_tally_delta()"
    )
    op.create_table(
        "consultation_household_answers",
        sa.Column("consultation_id", sa.UUID(), nullable=False),
        sa.Column("household_id", sa.UUID(), nullable=False),
        sa.Column("n", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["consultation_id"],
            ["consultations.id"],
            name=op.f("fk_consultation_household_answers_consultation_id_consultations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("consultation_id", "household_id", name=op.f("pk_consultation_household_answers")),
    )
    op.create_index(
        "ix_responses_suggestions",
        "responses",
        ["consultation_id", "created_at", "id"],
        unique=False,
        postgresql_where=sa.text("suggestion IS NOT NULL"),
    )
    op.execute(
        "update communities c set household_count = s.n, floor_area_m2 = s.area from "
        "(select community_id, count(*) n, sum(floor_area_m2) area from households group by community_id) s "
        "where s.community_id = c.id"
    )
    op.execute(
        "update buildings b set household_count = s.n from "
        "(select building_id, count(*) n from households group by building_id) s where s.building_id = b.id"
    )
    _backfill_tallies()


def _backfill_tallies() -> None:
    from survey.domain.tallies import Answer, tallies_of
    from survey.service_layer.consultations.mapping import setup_of

    conn = op.get_bind()
    tallies = sa.table(
        "consultation_tallies",
        sa.column("consultation_id"),
        sa.column("metric"),
        sa.column("key"),
        sa.column("n"),
        sa.column("amount"),
    )
    per_household = sa.table(
        "consultation_household_answers", sa.column("consultation_id"), sa.column("household_id"), sa.column("n")
    )
    for row in conn.execute(sa.text("select * from consultations order by id")).all():
        facts = conn.execute(
            sa.text(
                "select r.household_id, r.answers, r.channel, h.floor_area_m2, b.code, "
                "coalesce(own.birth_year, (select min(x.birth_year) from residents x "
                "where x.household_id = r.household_id)) birth_year "
                "from responses r join households h on h.id = r.household_id "
                "join buildings b on b.id = h.building_id left join residents own on own.id = r.resident_id "
                "where r.consultation_id = :c"
            ),
            {"c": row.id},
        ).all()
        if not facts:
            continue
        setup = setup_of(row)  # type: ignore[arg-type]
        counted = tallies_of(
            setup,
            [
                (str(f.household_id), Answer(f.answers, f.channel, f.birth_year, f.code, Decimal(f.floor_area_m2)))
                for f in facts
            ],
        )
        rows = [
            {"consultation_id": row.id, "metric": m, "key": k, "n": n, "amount": a}
            for (m, k), (n, a) in sorted(counted.items())
        ]
        for i in range(0, len(rows), 2000):
            conn.execute(sa.insert(tallies), rows[i : i + 2000])
        if setup.per_resident:
            counts: dict[object, int] = {}
            for f in facts:
                counts[f.household_id] = counts.get(f.household_id, 0) + 1
            conn.execute(
                sa.insert(per_household),
                [{"consultation_id": row.id, "household_id": h, "n": n} for h, n in counts.items()],
            )


def downgrade() -> None:
    op.drop_index("ix_responses_suggestions", table_name="responses")
    op.drop_table("consultation_household_answers")
    op.execute("drop trigger apply_tally_delta on consultation_tally_deltas")
    op.drop_table("consultation_tally_deltas")
    op.execute("drop function survey_apply_tally_delta()")
    op.drop_table("consultation_tallies")
    op.drop_column("households", "version")
    op.drop_column("buildings", "household_count")
    op.drop_column("communities", "version")
    op.drop_column("communities", "floor_area_m2")
    op.drop_column("communities", "household_count")
