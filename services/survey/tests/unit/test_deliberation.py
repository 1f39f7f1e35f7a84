"""Pure rules of design-scheme deliberation: three rounds up and down (三上三下), version lineage, one plan per
courtyard (一院一策)."""

from __future__ import annotations

import pytest

from survey.domain import deliberation as d
from survey.domain.rules import Outcome


def codes_of(fn, *args, **kwargs) -> str:
    with pytest.raises(d.DeliberationError) as info:
        fn(*args, **kwargs)
    return info.value.code


def test_three_rounds_up_and_down_then_only_the_vote():
    stage = d.FIRST_STAGE
    labels = [stage.label]
    for _ in range(2):
        stage = d.send_down(stage)
        labels.append(stage.label)
        stage = d.send_up(stage)
        labels.append(stage.label)
    stage = d.send_down(stage)
    labels.append(stage.label)
    assert labels == ["一上", "一下", "二上", "二下", "三上", "三下"]
    assert codes_of(d.send_up, stage) == "round_limit_reached"  # no fourth round
    voting = d.start_vote(stage)
    assert voting.state is d.State.VOTING
    assert d.decide(voting).state is d.State.DECIDED


def test_transitions_follow_up_then_down():
    assert codes_of(d.send_up, d.FIRST_STAGE) == "invalid_round_transition"  # not down yet
    down = d.send_down(d.FIRST_STAGE)
    assert codes_of(d.send_down, down) == "invalid_round_transition"
    assert codes_of(d.start_vote, d.FIRST_STAGE) == "invalid_round_transition"  # the vote follows a down
    assert d.start_vote(down).round_no == 1  # the vote may come after one round
    assert codes_of(d.decide, down) == "scheme_round_not_voting"
    voting = d.start_vote(down)
    for fn in (d.send_down, d.send_up, d.start_vote):
        assert codes_of(fn, voting) == "scheme_round_not_deliberating"
    assert codes_of(d.decide, d.decide(voting)) == "scheme_round_not_voting"
    assert codes_of(d.Stage, d.State.DELIBERATING, 4, d.Phase.UP) == "round_limit_reached"


def test_proposals_enter_in_the_first_round_up_only():
    d.ensure_accepts_proposals(d.FIRST_STAGE)
    down = d.send_down(d.FIRST_STAGE)
    assert codes_of(d.ensure_accepts_proposals, down) == "proposals_closed"
    assert codes_of(d.ensure_accepts_proposals, d.send_up(down)) == "proposals_closed"


def test_feedback_is_taken_while_up_and_on_the_current_version():
    d.ensure_accepts_feedback(d.FIRST_STAGE, version_is_current=True)
    assert codes_of(d.ensure_accepts_feedback, d.FIRST_STAGE, version_is_current=False) == "version_superseded"
    down = d.send_down(d.FIRST_STAGE)
    assert codes_of(d.ensure_accepts_feedback, down, version_is_current=True) == "feedback_closed"
    assert codes_of(d.ensure_accepts_feedback, d.start_vote(down), version_is_current=True) == (
        "scheme_round_not_deliberating"
    )


def test_revisions_v2_after_the_first_down_v3_after_the_second_none_after_the_third():
    one_down = d.send_down(d.FIRST_STAGE)
    assert codes_of(d.next_version_number, d.FIRST_STAGE, parent_number=1, parent_is_current=True) == (
        "revision_not_open"
    )
    assert d.next_version_number(one_down, parent_number=1, parent_is_current=True) == 2
    # once per proposal per round: v2 already published in this down, a v3 now would skip a round
    assert codes_of(d.next_version_number, one_down, parent_number=2, parent_is_current=True) == "already_revised"
    assert codes_of(d.next_version_number, one_down, parent_number=1, parent_is_current=False) == (
        "stale_parent_version"
    )
    two_down = d.send_down(d.send_up(one_down))
    assert d.next_version_number(two_down, parent_number=2, parent_is_current=True) == 3
    assert d.next_version_number(two_down, parent_number=1, parent_is_current=True) == 2  # not revised in round 1
    three_down = d.send_down(d.send_up(two_down))
    assert codes_of(d.next_version_number, three_down, parent_number=3, parent_is_current=True) == (
        "round_limit_reached"
    )


def test_a_revision_answers_feedback_on_its_parent_only():
    d.ensure_answers_feedback(["f1"], {"f1", "f2"})
    d.ensure_answers_feedback([], set())
    assert codes_of(d.ensure_answers_feedback, ["f1", "f9"], {"f1"}) == "feedback_not_on_parent"


def test_groups_name_buildings_of_the_community_each_once():
    buildings = {"1", "2", "3"}
    d.check_groups([d.Group("A", "一号院", ("1", "2")), d.Group("B", "二号院", ("3",))], buildings)
    assert codes_of(d.check_groups, [], buildings) == "invalid_groups"
    assert codes_of(d.check_groups, [d.Group("A", "x", ("1",)), d.Group("A", "y", ("2",))], buildings) == (
        "invalid_groups"
    )
    assert codes_of(d.check_groups, [d.Group("A", "x", ())], buildings) == "invalid_groups"
    assert codes_of(d.check_groups, [d.Group("A", "x", ("9",))], buildings) == "building_not_in_community"
    assert codes_of(d.check_groups, [d.Group("A", "x", ("1",)), d.Group("B", "y", ("1", "2"))], buildings) == (
        "building_in_two_groups"
    )
    assert d.groups_of_proposal([], ["A", "B"]) == ["A", "B"]
    assert d.groups_of_proposal(["B"], ["A", "B"]) == ["B"]
    assert codes_of(d.groups_of_proposal, ["C"], ["A", "B"]) == "unknown_scheme_group"


def node(vid: str, proposal: str, number: int, parent: str | None, **kw) -> d.VersionNode:
    return d.VersionNode(vid, proposal, number, parent, None if parent is None else f"changes {vid}", **kw)


def test_lineage_orders_each_proposal_v1_to_v3_and_refuses_a_broken_chain():
    versions = [
        node("b1", "P2", 1, None),
        node("a3", "P1", 3, "a2", support=4),
        node("a1", "P1", 1, None, concerns=2),
        node("a2", "P1", 2, "a1", answers_feedback=("f1",)),
    ]
    chains = d.lineage(versions)
    assert [v.id for v in chains["P1"]] == ["a1", "a2", "a3"]
    assert [v.id for v in chains["P2"]] == ["b1"]
    assert d.current(chains["P1"]).number == 3 and d.current(chains["P1"]).support == 4
    assert chains["P1"][1].answers_feedback == ("f1",)
    assert codes_of(d.lineage, [node("a1", "P1", 1, None), node("a3", "P1", 3, "a1")]) == "broken_lineage"
    assert codes_of(d.lineage, [node("a1", "P1", 1, None), node("a2", "P1", 2, "zz")]) == "broken_lineage"


def test_each_group_picks_its_own_winner():
    schemes = ["P1", "P2", "P3"]
    assert d.ballot_options(["P1", "P2"]) == ["P1", "P2", "none"]
    assert codes_of(d.ballot_options, []) == "no_scheme_to_vote"
    a = d.group_winner(Outcome.PASSED, {"P1": 5, "P2": 2, "none": 1}, schemes)
    b = d.group_winner(Outcome.PASSED, {"P1": 1, "P2": 6, "P3": 0}, schemes)
    assert (a.status, a.scheme, a.votes) == (d.WinnerStatus.WON, "P1", 5)
    assert (b.status, b.scheme, b.votes) == (d.WinnerStatus.WON, "P2", 6)  # 一院一策: another courtyard, another plan


def test_no_winner_when_the_vote_failed_is_tied_or_still_open():
    schemes = ["P1", "P2"]
    rejected = d.group_winner(Outcome.REJECTED, {"P1": 9}, schemes)
    assert (rejected.status, rejected.scheme) == (d.WinnerStatus.NOT_PASSED, None)
    tied = d.group_winner(Outcome.PASSED, {"P1": 3, "P2": 3, "none": 5}, schemes)
    assert (tied.status, tied.scheme, tied.tied) == (d.WinnerStatus.TIED, None, ("P1", "P2"))
    assert d.group_winner(Outcome.PENDING, {"P1": 3}, schemes).status is d.WinnerStatus.PENDING
    assert d.group_winner(Outcome.PASSED, {"none": 3}, schemes).status is d.WinnerStatus.NOT_PASSED


# -- run-offs (决选) -------------------------------------------------------------------------------------------------
W = d.WinnerStatus


def test_runoff_candidates_are_the_tied_schemes_in_ballot_order():
    schemes = ["P1", "P2", "P3"]
    assert d.runoff_candidates(W.TIED, {"P1": 4, "P2": 3, "P3": 4}, schemes) == ("P1", "P3")
    assert d.runoff_candidates(W.TIED, {"P1": 2, "P2": 2, "P3": 2}, schemes) == ("P1", "P2", "P3")
    # one vote apart is no tie: a winner, nothing to run off
    assert d.group_winner(Outcome.PASSED, {"P1": 4, "P2": 3}, ["P1", "P2"]).status is W.WON
    assert d.runoff_candidates(W.WON, {"P1": 4, "P2": 3}, schemes) == ()
    assert d.runoff_candidates(W.PENDING, {"P1": 4, "P2": 4}, schemes) == ()


def test_runoff_candidates_of_a_failed_vote_are_the_two_leading_schemes_that_got_votes():
    schemes = ["P1", "P2", "P3", "P4"]
    assert d.runoff_candidates(W.NOT_PASSED, {"P1": 3, "P2": 1, "P3": 2, "P4": 0}, schemes) == ("P1", "P3")
    # a shared second place: every scheme at it
    assert d.runoff_candidates(W.NOT_PASSED, {"P1": 3, "P2": 1, "P3": 1}, schemes) == ("P1", "P2", "P3")
    # a shared first place: the leaders only
    assert d.runoff_candidates(W.NOT_PASSED, {"P1": 3, "P2": 1, "P3": 3}, schemes) == ("P1", "P3")
    # one scheme chosen: a confirmation vote (it or none); none chosen: no run-off
    assert d.runoff_candidates(W.NOT_PASSED, {"P1": 0, "P2": 2}, schemes) == ("P2",)
    assert d.runoff_candidates(W.NOT_PASSED, {"P1": 0, "P2": 0, "none": 9}, schemes) == ()


def test_a_group_is_decided_by_a_winner_or_when_no_runoff_can_follow():
    assert d.decision_after(W.WON, (), 0) is d.GroupDecision.DECIDED
    assert d.decision_after(W.TIED, ("P1", "P2"), 0) is d.GroupDecision.AWAITING_RUNOFF
    assert d.decision_after(W.NOT_PASSED, ("P1",), 1) is d.GroupDecision.AWAITING_RUNOFF
    assert d.decision_after(W.NOT_PASSED, (), 0) is d.GroupDecision.DECIDED  # nobody chose a scheme
    assert d.decision_after(W.TIED, ("P1", "P2"), d.RUNOFF_LIMIT) is d.GroupDecision.DECIDED  # the last run-off
    assert d.decision_after(W.TIED, ("P1", "P2"), d.RUNOFF_LIMIT - 1) is d.GroupDecision.AWAITING_RUNOFF
    with pytest.raises(d.DeliberationError) as e:
        d.decision_after(W.PENDING, (), 0)
    assert e.value.code == "final_vote_not_closed"


@pytest.mark.parametrize(
    ("decision", "held", "has_winner", "code"),
    [
        (d.GroupDecision.PENDING, 0, False, "scheme_round_not_decided"),
        (d.GroupDecision.RUNOFF_OPEN, 1, False, "runoff_in_progress"),
        (d.GroupDecision.DECIDED, 0, True, "runoff_not_needed"),
        (d.GroupDecision.DECIDED, 0, False, "runoff_not_needed"),
        (d.GroupDecision.DECIDED, 2, True, "runoff_not_needed"),
        (d.GroupDecision.DECIDED, 2, False, "runoff_limit_reached"),
    ],
)
def test_a_runoff_opens_only_for_a_group_awaiting_one(decision, held, has_winner, code):
    with pytest.raises(d.DeliberationError) as e:
        d.ensure_runoff_may_open(decision, runoffs_held=held, has_winner=has_winner)
    assert e.value.code == code


def test_runoffs_are_numbered_up_to_the_limit():
    assert d.ensure_runoff_may_open(d.GroupDecision.AWAITING_RUNOFF, runoffs_held=0, has_winner=False) == 1
    assert d.ensure_runoff_may_open(d.GroupDecision.AWAITING_RUNOFF, runoffs_held=1, has_winner=False) == 2
    assert d.RUNOFF_LIMIT == 2
