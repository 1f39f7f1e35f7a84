"""A consultation's result version, so a replica can keep its result document and know, with one cheap read,
whether it is still exact.

* ``consultation_result_versions (consultation_id, version)``: + 1 by each transaction that changes what the
  result is computed from, once per transaction and inside its COMMIT (``survey_bump_result_version``; the
  transaction's own list of bumped consultations is the local setting ``survey.result_bumped``);
* the deferred tally trigger (``survey_apply_tally_delta``, 0006) bumps it: every answer written, changed or
  moved by a registry change reaches the tallies through it. It bumps before it adds the first delta, so every
  commit locks the version row before any tally row: one lock order (a bump after the first tally row would let
  two commits each hold what the other waits for). The commits of one consultation's writes thus serialise on
  it, as they already did on the tally rows every answer shares (``responses``, ``participating``);
* deferred constraint triggers on ``responses`` bump it when a suggestion appears or changes (a changed
  suggestion alone changes no tally).

The registry (household counts and areas) and the consultation's own row are versioned by their rows (``xmin``),
read with it. Expand-only: the old code ignores the table.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


BUMP_RESULT_VERSION = """
create function survey_bump_result_version(cid uuid) returns void language plpgsql as $$
declare
    bumped text := coalesce(current_setting('survey.result_bumped', true), '');
begin
    if strpos(bumped, cid::text) > 0 then
        return;  -- once per transaction
    end if;
    perform set_config('survey.result_bumped', bumped || cid::text || ',', true);
    insert into consultation_result_versions as v (consultation_id, version) values (cid, 1)
    on conflict (consultation_id) do update set version = v.version + 1;
end
$$
"""

APPLY_TALLY_DELTA = """
create or replace function survey_apply_tally_delta() returns trigger language plpgsql as $$
begin
    -- first: every commit locks the version row before any tally row, so concurrent commits lock in one order
    perform survey_bump_result_version(new.consultation_id);
    insert into consultation_tallies as t (consultation_id, metric, key, n, amount)
    values (new.consultation_id, new.metric, new.key, new.n, new.amount)
    on conflict (consultation_id, metric, key)
    do update set n = t.n + excluded.n, amount = t.amount + excluded.amount;
    delete from consultation_tally_deltas where id = new.id;
    return null;
end
$$
"""

APPLY_TALLY_DELTA_0006 = """
create or replace function survey_apply_tally_delta() returns trigger language plpgsql as $$
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

BUMP_ON_SUGGESTION = """
create function survey_bump_result_on_suggestion() returns trigger language plpgsql as $$
begin
    perform survey_bump_result_version(new.consultation_id);
    return null;
end
$$
"""


def upgrade() -> None:
    op.create_table(
        "consultation_result_versions",
        sa.Column("consultation_id", sa.UUID(), nullable=False),
        sa.Column("version", sa.BigInteger(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["consultation_id"],
            ["consultations.id"],
            name=op.f("fk_consultation_result_versions_consultation_id_consultations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("consultation_id", name=op.f("pk_consultation_result_versions")),
    )
    op.execute(BUMP_RESULT_VERSION)
    op.execute(APPLY_TALLY_DELTA)
    op.execute(BUMP_ON_SUGGESTION)
    op.execute(
        "create constraint trigger result_suggestion_added after insert on responses "
        "deferrable initially deferred for each row when (new.suggestion is not null) "
        "execute function survey_bump_result_on_suggestion()"
    )
    op.execute(
        "create constraint trigger result_suggestion_changed after update on responses "
        "deferrable initially deferred for each row when (old.suggestion is distinct from new.suggestion) "
        "execute function survey_bump_result_on_suggestion()"
    )


def downgrade() -> None:
    op.execute("drop trigger result_suggestion_changed on responses")
    op.execute("drop trigger result_suggestion_added on responses")
    op.execute("drop function survey_bump_result_on_suggestion()")
    op.execute(APPLY_TALLY_DELTA_0006)
    op.execute("drop function survey_bump_result_version(uuid)")
    op.drop_table("consultation_result_versions")
