"""Design-scheme deliberation use cases (方案评选: 三上三下, 一院一策), by responsibility: ``rounds`` (open a round
with its courtyard groups, proposals, up and down, revisions), ``feedback`` (residents' feedback on a version),
``votes`` (the final vote per group, the decision, run-offs of groups without a single winner), ``views`` (a round
with its lineage and results, the list, the lineage export); ``common`` holds the commands and the helpers they
share."""

from survey.service_layer.deliberation.common import (
    Feedback,
    FinalVote,
    GroupSpec,
    NewProposal,
    NewRound,
    Revision,
    RunoffVote,
)
from survey.service_layer.deliberation.feedback import FeedbackResult, give_feedback, list_feedback
from survey.service_layer.deliberation.rounds import add_proposal, advance_round, create_round, revise
from survey.service_layer.deliberation.views import export_lineage, get_round, list_rounds
from survey.service_layer.deliberation.votes import count_runoff, decide_round, open_runoff, start_final_vote

__all__ = [
    "Feedback",
    "FeedbackResult",
    "FinalVote",
    "GroupSpec",
    "NewProposal",
    "NewRound",
    "Revision",
    "RunoffVote",
    "add_proposal",
    "advance_round",
    "count_runoff",
    "create_round",
    "decide_round",
    "export_lineage",
    "get_round",
    "give_feedback",
    "list_feedback",
    "list_rounds",
    "open_runoff",
    "revise",
    "start_final_vote",
]
