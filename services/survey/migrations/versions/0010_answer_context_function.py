"""A write of answers takes its locks and reads what it checks in one round trip: ``survey_answer_context``.

The answers lock (shared advisory; closing takes it exclusively) and the households' share locks must be held
before the consultation, the household facts, the residents and the stored submissions are read, and that read
must see what was committed while it waited for them (a close, a change of a household's area or residents): in
READ COMMITTED one statement reads one snapshot, taken when it starts, so the read was a second statement. A
PL/pgSQL function takes a new snapshot for each statement it runs: this one takes the locks, then reads, as one
call. Expand-only (a function; nothing stored changes).

Revision ID: 0010
Revises: 0008 (the lead's merge orders it after 0009 if that lands first: it depends on nothing of 0009)
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None

# numbers that must stay exact travel as text inside the JSON
ANSWER_CONTEXT = """
create function survey_answer_context(p_consultation uuid, p_households uuid[], p_submissions uuid[])
returns table (o_consultation consultations, o_households json, o_residents json, o_submissions json)
language plpgsql volatile as $$
begin
    -- the consultation's answers lock, shared: submissions run side by side, a close waits for them
    perform pg_advisory_xact_lock_shared(hashtextextended('survey.answers:' || p_consultation::text, 0));
    -- the households, share-locked in id order: a change of their area or residents waits for this write
    perform 1 from households h where h.id = any(p_households) order by h.id for share of h;
    -- a new statement: a new snapshot, taken with the locks held
    return query
    select c,
           (select json_agg(json_build_array(h.id, h.community_id, h.floor_area_m2::text, b.code))
              from households h join buildings b on b.id = h.building_id
             where h.id = any(p_households)),
           (select json_agg(json_build_array(r.household_id, r.id, r.birth_year))
              from residents r where r.household_id = any(p_households)),
           (select json_agg(json_build_array(s.submission_id, s.body_hash, s.status_code, s.result))
              from submissions s where s.submission_id = any(p_submissions))
      from consultations c where c.id = p_consultation;
end
$$
"""


def upgrade() -> None:
    op.execute(ANSWER_CONTEXT)


def downgrade() -> None:
    op.execute("drop function survey_answer_context(uuid, uuid[], uuid[])")
