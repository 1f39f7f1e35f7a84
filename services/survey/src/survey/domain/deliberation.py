"""Deliberation of design schemes (方案评选), pure rules.

Seeds: Jinsong (``000``): "团队邀请高校、社会机构等分别提供设计方案，组织居民代表参与方案评选" — universities and firms
(and, here, residents) submit proposals; Qingyang (``003``): "落实设计方案'三上三下''一院一策'" — a scheme goes up to
the residents and comes back down with their opinions, at most three times, and each courtyard (院落) or building
group may end with its own plan.

A scheme round moves through at most three deliberation rounds, each an *up* (上: the current versions are shown to
the residents, who give feedback) and a *down* (下: feedback closes and goes back to the proposers, who may publish
a revised version — v2 after the first down, v3 after the second). After any down the round may go to the final
vote; after the third down it must (``round_limit_reached``). The final vote is one consultation of kind
``scheme_vote`` per group, decided under the consultation's own rule (``survey.domain.rules``); the winner of a
group is the scheme most of its voters chose, when the group's vote passed.

No I/O, no clock, no ids: callers pass them in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from survey.domain.rules import Outcome

ROUND_LIMIT = 3  # 三上三下
NONE_OPTION = "none"  # the final vote's "none of these schemes" (不同意以上方案)
ROUND_LABELS = {(1, "up"): "一上", (1, "down"): "一下", (2, "up"): "二上", (2, "down"): "二下"} | {
    (3, "up"): "三上",
    (3, "down"): "三下",
}


class DeliberationError(ValueError):
    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


class State(StrEnum):
    DELIBERATING = "deliberating"
    VOTING = "voting"
    DECIDED = "decided"


class Phase(StrEnum):
    UP = "up"  # 上: versions shown to residents, feedback open
    DOWN = "down"  # 下: feedback closed, returned to proposers, revisions may be published


class SourceKind(StrEnum):
    FIRM = "firm"
    UNIVERSITY = "university"
    RESIDENT = "resident"


class Stance(StrEnum):
    SUPPORT = "support"
    CONCERNS = "concerns"


@dataclass(frozen=True)
class Stage:
    state: State
    round_no: int
    phase: Phase

    def __post_init__(self) -> None:
        if not 1 <= self.round_no <= ROUND_LIMIT:
            raise DeliberationError(f"round {self.round_no} is outside 1..{ROUND_LIMIT}", code="round_limit_reached")

    @property
    def label(self) -> str:
        """一上 … 三下 while deliberating; the state otherwise."""
        if self.state is State.DELIBERATING:
            return ROUND_LABELS[(self.round_no, self.phase.value)]
        return self.state.value


FIRST_STAGE = Stage(State.DELIBERATING, 1, Phase.UP)


def _deliberating(stage: Stage) -> None:
    if stage.state is not State.DELIBERATING:
        raise DeliberationError(f"the scheme round is {stage.state.value}", code="scheme_round_not_deliberating")


def send_down(stage: Stage) -> Stage:
    """上 → 下: feedback on this round closes and goes back to the proposers."""
    _deliberating(stage)
    if stage.phase is not Phase.UP:
        raise DeliberationError("this round was already sent down", code="invalid_round_transition")
    return Stage(State.DELIBERATING, stage.round_no, Phase.DOWN)


def send_up(stage: Stage) -> Stage:
    """下 → the next 上, at most three rounds (三上三下)."""
    _deliberating(stage)
    if stage.phase is not Phase.DOWN:
        raise DeliberationError("send this round down before the next one goes up", code="invalid_round_transition")
    if stage.round_no >= ROUND_LIMIT:
        raise DeliberationError(
            f"{ROUND_LIMIT} rounds up and down (三上三下) are done; go to the final vote", code="round_limit_reached"
        )
    return Stage(State.DELIBERATING, stage.round_no + 1, Phase.UP)


def start_vote(stage: Stage) -> Stage:
    """After a down (the residents' feedback of the last round has been returned) the final vote may start."""
    _deliberating(stage)
    if stage.phase is not Phase.DOWN:
        raise DeliberationError("send the round down before the final vote", code="invalid_round_transition")
    return Stage(State.VOTING, stage.round_no, stage.phase)


def decide(stage: Stage) -> Stage:
    if stage.state is not State.VOTING:
        raise DeliberationError(f"the scheme round is {stage.state.value}, not voting", code="scheme_round_not_voting")
    return Stage(State.DECIDED, stage.round_no, stage.phase)


def ensure_accepts_proposals(stage: Stage) -> None:
    """New proposals (v1) enter in the first 上 only; later rounds revise what is on the table."""
    _deliberating(stage)
    if (stage.round_no, stage.phase) != (1, Phase.UP):
        raise DeliberationError("proposals are submitted in the first round (一上)", code="proposals_closed")


def ensure_accepts_feedback(stage: Stage, *, version_is_current: bool) -> None:
    """Feedback is given while a round is up, on the current version of a proposal."""
    _deliberating(stage)
    if stage.phase is not Phase.UP:
        raise DeliberationError("feedback is open while a round is up (上)", code="feedback_closed")
    if not version_is_current:
        raise DeliberationError("a newer version of this scheme is on the table", code="version_superseded")


def next_version_number(stage: Stage, *, parent_number: int, parent_is_current: bool) -> int:
    """A revision answers one down: published while the round is down and before the last round, on the current
    version, once per proposal per round (v2 after 一下, v3 after 二下)."""
    _deliberating(stage)
    if stage.phase is not Phase.DOWN:
        raise DeliberationError("revisions are published after a round is sent down (下)", code="revision_not_open")
    if stage.round_no >= ROUND_LIMIT:
        raise DeliberationError("after the third down (三下) the schemes go to the vote", code="round_limit_reached")
    if not parent_is_current:
        raise DeliberationError("revise the current version of the scheme", code="stale_parent_version")
    number = parent_number + 1
    if number > stage.round_no + 1:
        raise DeliberationError("this scheme was already revised in this round", code="already_revised")
    return number


def ensure_answers_feedback(answered: Iterable[str], feedback_on_parent: Iterable[str]) -> None:
    """A revision says which feedback it answers: feedback given on its parent version only."""
    unknown = sorted(set(answered) - set(feedback_on_parent))
    if unknown:
        raise DeliberationError(
            f"not feedback on the parent version: {', '.join(unknown[:5])}", code="feedback_not_on_parent"
        )


# -- groups (一院一策) ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Group:
    code: str
    name: str
    building_codes: tuple[str, ...]


def check_groups(groups: Sequence[Group], community_buildings: Iterable[str]) -> None:
    """Each group names buildings of the community, a building in at most one group, group codes unique."""
    if not groups:
        raise DeliberationError("a scheme round needs at least one courtyard or building group", code="invalid_groups")
    known = set(community_buildings)
    codes = [g.code for g in groups]
    if len(set(codes)) != len(codes):
        raise DeliberationError("group codes must be unique in a round", code="invalid_groups")
    seen: dict[str, str] = {}
    for g in groups:
        if not g.building_codes:
            raise DeliberationError(f"group {g.code} names no building", code="invalid_groups")
        unknown = sorted(set(g.building_codes) - known)
        if unknown:
            raise DeliberationError(
                f"not a building of this community: {', '.join(unknown[:5])}", code="building_not_in_community"
            )
        for b in g.building_codes:
            if b in seen and seen[b] != g.code:
                raise DeliberationError(
                    f"building {b} is in groups {seen[b]} and {g.code}", code="building_in_two_groups"
                )
            seen[b] = g.code


def groups_of_proposal(wanted: Sequence[str] | None, groups: Sequence[str]) -> list[str]:
    """The groups a proposal is for: every group of the round by default, else the named ones (known, unique)."""
    if not wanted:
        return list(groups)
    unknown = sorted(set(wanted) - set(groups))
    if unknown:
        raise DeliberationError(f"not a group of this round: {', '.join(unknown[:5])}", code="unknown_scheme_group")
    return [g for g in groups if g in set(wanted)]


# -- lineage -------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VersionNode:
    id: str
    proposal_id: str
    number: int
    parent_id: str | None
    changes: str | None
    answers_feedback: tuple[str, ...] = ()
    support: int = 0
    concerns: int = 0


def lineage(versions: Iterable[VersionNode]) -> dict[str, list[VersionNode]]:
    """Per proposal, its versions v1 → v2 → v3 in order; each version's parent is the one before it (checked: a
    broken chain is an integrity error, never silently reordered)."""
    chains: dict[str, list[VersionNode]] = {}
    for v in sorted(versions, key=lambda v: (v.proposal_id, v.number)):
        chains.setdefault(v.proposal_id, []).append(v)
    for proposal_id, chain in chains.items():
        for i, v in enumerate(chain):
            expected_parent = chain[i - 1].id if i else None
            if v.number != i + 1 or v.parent_id != expected_parent:
                raise DeliberationError(f"broken version chain of proposal {proposal_id}", code="broken_lineage")
    return chains


def current(chain: Sequence[VersionNode]) -> VersionNode:
    return chain[-1]


# -- the final vote, per group ---------------------------------------------------------------------------------------
def ballot_options(proposal_codes: Sequence[str]) -> list[str]:
    """The final vote's single-choice options: one per scheme, then "none of these"."""
    if not proposal_codes:
        raise DeliberationError("a group has no scheme to vote on", code="no_scheme_to_vote")
    return [*proposal_codes, NONE_OPTION]


class WinnerStatus(StrEnum):
    WON = "won"  # the group's vote passed and one scheme has the most votes
    TIED = "tied"  # passed, but schemes share the most votes: a run-off is needed
    NOT_PASSED = "not_passed"  # the vote failed its rule (participation or approval)
    PENDING = "pending"  # the vote is not closed yet


@dataclass(frozen=True)
class GroupWinner:
    status: WinnerStatus
    scheme: str | None
    votes: int
    tied: tuple[str, ...] = ()


def group_winner(outcome: Outcome, votes: Mapping[str, int], schemes: Sequence[str]) -> GroupWinner:
    """Which scheme a group chose. ``outcome`` is the group's decision under the vote's rule (Civil Code Art. 278
    or a household share, from ``rules.decide`` — approving = chose any scheme rather than "none"); among the
    schemes, the one with the most votes wins; equal most votes is a tie (no winner: 一院一策 wants one plan)."""
    top = max((votes.get(s, 0) for s in schemes), default=0)
    leaders = tuple(s for s in schemes if votes.get(s, 0) == top and top > 0)
    if outcome is Outcome.PENDING:
        return GroupWinner(WinnerStatus.PENDING, None, top, ())
    if outcome is not Outcome.PASSED or not leaders:
        return GroupWinner(WinnerStatus.NOT_PASSED, None, top, ())
    if len(leaders) > 1:
        return GroupWinner(WinnerStatus.TIED, None, top, leaders)
    return GroupWinner(WinnerStatus.WON, leaders[0], top, ())


# -- run-offs (决选): a group whose final vote found no single winner ------------------------------------------------
RUNOFF_LIMIT = 2  # run-offs per group; after the second one without a winner the group is decided without a scheme


class GroupDecision(StrEnum):
    PENDING = "pending"  # the final vote is not counted yet (the round is not decided)
    AWAITING_RUNOFF = "awaiting_runoff"  # counted, no single winner: a run-off may be opened
    RUNOFF_OPEN = "runoff_open"  # a run-off is drafted, open or closed but not counted yet
    DECIDED = "decided"  # a scheme won, or no run-off is possible (no candidate, or the run-off limit reached)


def runoff_candidates(status: WinnerStatus, votes: Mapping[str, int], schemes: Sequence[str]) -> tuple[str, ...]:
    """The schemes a run-off is held among, in ballot order.

    * ``tied`` (the vote passed, schemes share the most votes): the tied schemes.
    * ``not_passed`` (no scheme reached the rule's threshold: participation or approval failed): the leading
      schemes — those with the most votes and, if only one has them, those with the second most — counting only
      schemes someone chose. One leading scheme alone makes the run-off a confirmation vote (it or ``none``).
    * ``won`` / ``pending``: none (nothing to run off).
    """
    counted = {s: votes.get(s, 0) for s in schemes if votes.get(s, 0) > 0}
    if status is WinnerStatus.TIED:
        top = max(counted.values(), default=0)
        return tuple(s for s in schemes if counted.get(s) == top)
    if status is not WinnerStatus.NOT_PASSED or not counted:
        return ()
    levels = sorted(set(counted.values()), reverse=True)
    keep = set(levels[:1]) if len([s for s in counted if counted[s] == levels[0]]) > 1 else set(levels[:2])
    return tuple(s for s in schemes if counted.get(s) in keep)


def decision_after(status: WinnerStatus, candidates: Sequence[str], runoffs_held: int) -> GroupDecision:
    """Whether a counted vote (the final vote, ``runoffs_held == 0``, or run-off number ``runoffs_held``) decides
    its group: a winner decides; so does a vote after which no run-off can be held (no candidate, or
    ``RUNOFF_LIMIT`` run-offs held) — the group then has no scheme (staff start a new round)."""
    if status is WinnerStatus.PENDING:
        raise DeliberationError("the vote is not closed", code="final_vote_not_closed")
    if status is WinnerStatus.WON or not candidates or runoffs_held >= RUNOFF_LIMIT:
        return GroupDecision.DECIDED
    return GroupDecision.AWAITING_RUNOFF


def ensure_runoff_may_open(decision: GroupDecision, *, runoffs_held: int, has_winner: bool) -> int:
    """A run-off is opened for a group awaiting one, up to ``RUNOFF_LIMIT`` per group; its number (1, 2)."""
    if decision is GroupDecision.PENDING:
        raise DeliberationError("count the final vote first (decide the round)", code="scheme_round_not_decided")
    if decision is GroupDecision.RUNOFF_OPEN:
        raise DeliberationError("this group's run-off is not counted yet", code="runoff_in_progress")
    if decision is GroupDecision.DECIDED:
        if runoffs_held >= RUNOFF_LIMIT and not has_winner:
            raise DeliberationError(
                f"{RUNOFF_LIMIT} run-offs were held; start a new scheme round", code="runoff_limit_reached"
            )
        raise DeliberationError(
            "this group is decided: its vote has a winner, or no scheme to run off", code="runoff_not_needed"
        )
    return runoffs_held + 1
