"""A write of answers in fewer round trips: ``survey_answer_context`` (locks, then the read the checks need) and
``survey_record_new_answer`` (a single new answer as one statement that is its own transaction).

The answers lock (shared advisory; closing takes it exclusively) and the households' share locks must be held
before the consultation, the household facts, the residents and the stored submissions are read, and that read
must see what was committed while it waited for them (a close, a change of a household's area or residents): in
READ COMMITTED one statement reads one snapshot, taken when it starts, so the read was a second statement. A
PL/pgSQL function takes a new snapshot for each statement it runs: this one takes the locks, then reads, as one
call.

``survey_record_new_answer`` is a single new answer's whole write in one call, for a statement that is its own
transaction (no BEGIN, no COMMIT: two round trips per answer with the read before it): it takes the same locks,
checks that what the caller read without them (``ResponseRepository.unlocked_answer_context``) is still so — the
consultation's row version (``xmin``: any change of state, window or questions), the household's row version (its
area and building), its building's code and its residents' birth years — then claims the
submission id, inserts the answer, its audit row and the tally deltas, and returns the counters the event reports
(read with the locks held). Whatever differs (``SV001``), a submission id claimed first by another (``SV002``)
or a respondent answered already (``SV003``) is raised, so the statement writes nothing and the caller takes the
general path. The event's outbox row is written by the calling statement (``renovation_common.db``'s one
format). Expand-only (functions; nothing stored changes).

Revision ID: 0012
Revises: 0011 (written as 0010 beside 0009 and 0011 on other branches; numbered after them when merged: it depends
on nothing of either)
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
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

RECORD_NEW_ANSWER = """
create function survey_record_new_answer(
    p_consultation uuid, p_consultation_xmin text, p_household uuid, p_household_xmin text, p_building text,
    p_residents jsonb, p_community uuid, p_submission uuid, p_body_hash text, p_result jsonb, p_response uuid,
    p_resident uuid, p_respondent uuid, p_answers jsonb, p_suggestion text, p_channel text, p_interviewer text,
    p_answered_at timestamptz, p_audit_suggestion text, p_actor_sub text, p_actor_role text, p_metrics text[],
    p_keys text[], p_n bigint[], p_amounts numeric[]
)
returns table (o_responses bigint, o_households integer)
language plpgsql volatile as $$
begin
    perform pg_advisory_xact_lock_shared(hashtextextended('survey.answers:' || p_consultation::text, 0));
    perform 1 from households h where h.id = p_household for share of h;
    -- new statements, new snapshots: what the caller read without the locks must still be so
    if not exists (select 1 from consultations c where c.id = p_consultation and c.xmin::text = p_consultation_xmin)
       or not exists (select 1 from households h join buildings b on b.id = h.building_id
                       where h.id = p_household and h.xmin::text = p_household_xmin and b.code = p_building)
       or p_residents is distinct from (
            select coalesce(jsonb_agg(jsonb_build_array(r.id, r.birth_year) order by r.id), '[]'::jsonb)
              from residents r where r.household_id = p_household) then
        raise exception 'the consultation or the household changed since they were read' using errcode = 'SV001';
    end if;
    insert into submissions (submission_id, consultation_id, body_hash, status_code, result)
    values (p_submission, p_consultation, p_body_hash, 201, p_result)
    on conflict (submission_id) do nothing;
    if not found then
        raise exception 'the submission id was claimed first by another transaction' using errcode = 'SV002';
    end if;
    insert into responses (id, consultation_id, household_id, resident_id, respondent_key, answers, suggestion,
                           channel, interviewer, answered_at, last_submission_id)
    values (p_response, p_consultation, p_household, p_resident, p_respondent, p_answers, p_suggestion, p_channel,
            p_interviewer, p_answered_at, p_submission)
    on conflict (consultation_id, respondent_key) do nothing;
    if not found then
        raise exception 'the respondent has an answer already' using errcode = 'SV003';
    end if;
    insert into response_audit (response_id, consultation_id, household_id, resident_id, submission_id, action,
                                version, answers, suggestion, channel, interviewer, actor_sub, actor_role,
                                answered_at)
    values (p_response, p_consultation, p_household, p_resident, p_submission, 'created', 1, p_answers,
            p_audit_suggestion, p_channel, p_interviewer, p_actor_sub, p_actor_role, p_answered_at);
    -- applied to consultation_tallies inside COMMIT by the deferred trigger, in key order
    insert into consultation_tally_deltas (consultation_id, metric, key, n, amount)
    select p_consultation, d.metric, d.key, d.n, d.amount
      from unnest(p_metrics, p_keys, p_n, p_amounts) with ordinality as d(metric, key, n, amount, i)
     order by d.i;
    return query
    select coalesce((select t.n from consultation_tallies t
                      where t.consultation_id = p_consultation and t.metric = 'responses' and t.key = ''), 0)::bigint,
           -- the electorate's headcount: the community's, or a building group's own consultation's buildings'
           coalesce((select case when c.building_codes is null
                                 then (select m.household_count from communities m where m.id = c.community_id)
                                 else (select coalesce(sum(b.household_count), 0) from buildings b
                                        where b.community_id = c.community_id
                                          and b.code in (select jsonb_array_elements_text(c.building_codes))) end
                       from consultations c where c.id = p_consultation and c.community_id = p_community),
                    0)::integer;
end
$$
"""


def upgrade() -> None:
    op.execute(ANSWER_CONTEXT)
    op.execute(RECORD_NEW_ANSWER)


def downgrade() -> None:
    op.execute(
        "drop function survey_record_new_answer(uuid, text, uuid, text, text, jsonb, uuid, uuid, text, jsonb, uuid,"
        " uuid, uuid, jsonb, text, text, text, timestamptz, text, text, text, text[], text[], bigint[], numeric[])"
    )
    op.execute("drop function survey_answer_context(uuid, uuid[], uuid[])")
