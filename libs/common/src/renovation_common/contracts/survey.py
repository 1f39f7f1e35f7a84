"""Events produced by the survey service.

They carry what other services need (floor areas, buildings, delivery years, fund status, care flags, outcomes)
and never names, phone numbers or ID numbers.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import Field

from renovation_common.events import EventData, event_contract


@event_contract("survey.community.registered.v1", "A community was registered (or its registry data changed).")
class CommunityRegistered(EventData):
    community_id: str
    district_id: str
    street_id: str
    name: str
    built_year: int | None = None
    delivered_year: int | None = None
    maintenance_fund_established: bool
    household_count: int = 0
    version: int = Field(
        default=0, ge=0, description="The aggregate's version: it grows with every change; consumers keep the newest"
    )


@event_contract("survey.household.registered.v1", "A household was added to a community's registry.")
class HouseholdRegistered(EventData):
    household_id: str
    community_id: str
    district_id: str
    street_id: str
    building_id: str
    building_code: str
    unit: str | None = None
    floor_area_m2: Decimal = Field(description="Exclusive floor area, two decimals")
    delivered_year: int | None = None
    maintenance_fund_established: bool
    elderly_living_alone: bool = False
    needs_accompaniment: bool = False
    resident_count: int = 0
    version: int = Field(
        default=0, ge=0, description="The aggregate's version: it grows with every change; consumers keep the newest"
    )


@event_contract("survey.household.updated.v1", "A household's registry data changed; the full current state.")
class HouseholdUpdated(HouseholdRegistered):
    pass


@event_contract(
    "survey.site.registered.v1",
    "A lane (巷道) or courtyard (院落) of a community was registered, changed or retired; the full current state.",
)
class SiteRegistered(EventData):
    """Work faces of the open ground for the projects service (buildings come from the households' events).

    The contract is consumed by projects; the survey service does not keep a registry of lanes and courtyards yet,
    so nothing publishes it so far (projects then treats a community's open ground as one face)."""

    site_id: str
    community_id: str
    district_id: str
    street_id: str
    code: str = Field(max_length=20, description="The site's code in the community, e.g. L2")
    name: str = Field(max_length=100)
    kind: Literal["lane", "courtyard"]
    length_m: int | None = Field(default=None, ge=0, description="Length of a lane in metres")
    area_m2: Decimal | None = Field(default=None, ge=0, description="Area of a courtyard in m², two decimals")
    retired: bool = Field(default=False, description="The site no longer exists (merged, built over)")
    version: int = Field(
        default=0, ge=0, description="The aggregate's version: it grows with every change; consumers keep the newest"
    )


@event_contract("survey.consultation.opened.v1", "A consultation opened for answers.")
class ConsultationOpened(EventData):
    consultation_id: str
    community_id: str
    district_id: str
    street_id: str
    kind: str  # willingness | menu | scheme_vote | demand | satisfaction
    title: str
    opens_at: datetime | None = None
    closes_at: datetime | None = None


class SelectedItem(EventData):
    code: str = Field(description="Catalog item code, e.g. rain_sewage_separation")
    category: str  # basic | improvement | upgrade
    support_count: int
    support_ratio: str = Field(description="Exact fraction 'n/d' of the base the rule counts")
    support_percent: Decimal


@event_contract("survey.consultation.closed.v1", "A consultation closed with its outcome and, for menus, selections.")
class ConsultationClosed(EventData):
    consultation_id: str
    community_id: str
    district_id: str
    street_id: str
    kind: str
    rule: str  # household_share | civil_code_278_major | civil_code_278_ordinary | ...
    outcome: str  # passed | postponed | rejected | pending
    decided_by: str = Field(description="The condition that decided the outcome")
    total_households: int
    participating_households: int
    approving_households: int
    approval_ratio: str = Field(description="Exact fraction 'n/d'")
    approval_percent: Decimal
    selected_items: list[SelectedItem] = Field(default_factory=list)
    closed_at: datetime


@event_contract("survey.response.recorded.v1", "A response was recorded (counts only, no answers).")
class ResponseRecorded(EventData):
    consultation_id: str
    community_id: str
    responses_count: int
    households_total: int
    district_id: str | None = None
    street_id: str | None = None
    kind: str | None = None


class RankingEntry(EventData):
    rank: int
    community_id: str
    consultation_id: str
    approval_ratio: str
    approval_percent: Decimal


@event_contract("survey.ranking.published.v1", "Passed communities of a district or batch ranked by approval.")
class RankingPublished(EventData):
    ranking_id: str
    district_id: str
    batch: str | None = None
    entries: list[RankingEntry]
    published_at: datetime
    community_ids: list[str] = Field(default_factory=list, description="The ranked communities, in rank order")


class SchemeGroupDecision(EventData):
    group_code: str = Field(description="The courtyard or building group's code in the round")
    building_codes: list[str]
    consultation_id: str = Field(
        description="The vote that decided the group (a scheme_vote consultation): its final vote, or its run-off"
    )
    outcome: str  # passed | rejected | postponed: the vote under its rule (Civil Code Art. 278 or a share)
    status: Literal["won", "tied", "not_passed"] = Field(
        description="`won`: a scheme won; `tied` / `not_passed`: decided without a scheme (no run-off was possible, "
        "or the last run-off allowed ended so)"
    )
    winning_proposal_id: str | None = None
    winning_proposal_code: str | None = Field(default=None, description="The winning proposal's code (P1, P2 …)")
    winning_version_id: str | None = None
    winning_version: int | None = Field(default=None, description="The winning scheme's version number (v1..v3)")
    winning_title: str | None = Field(default=None, max_length=200, description="The winning version's title")
    votes: int = Field(description="Households that chose the leading scheme")
    decided_by: Literal["final_vote", "runoff"] = Field(
        default="final_vote", description="The group's final vote, or a run-off (决选) among tied/leading schemes"
    )
    runoff_number: int = Field(default=0, ge=0, le=2, description="The run-off that decided (0: the final vote)")


@event_contract(
    "survey.scheme_round.decided.v1",
    "A design-scheme round (三上三下): the scheme each courtyard or building group chose (一院一策), published for a "
    "group once it is decided — by its final vote, or by a run-off when the final vote left schemes tied or none "
    "reached the rule's threshold. One event per decision: the round's final vote (the groups it decided), then one "
    "per group decided by a run-off.",
)
class SchemeRoundDecided(EventData):
    round_id: str
    community_id: str
    district_id: str
    street_id: str
    title: str
    rounds_held: int = Field(ge=1, le=3, description="Deliberation rounds up and down before the vote")
    groups: list[SchemeGroupDecision] = Field(description="The groups decided by this decision (never one twice)")
    pending_group_codes: list[str] = Field(
        default_factory=list, description="The round's groups not decided yet (awaiting or holding a run-off)"
    )
    decided_at: datetime


# The menu of renovation items (菜单式改造内容) by category; codes are shared by the survey service (menu rounds)
# and the projects service (which maps each code to its work packages).
MENU_CATALOG: dict[str, str] = {
    # basic 基础类: safety and basic function
    "structural_reinforcement": "basic",
    "water_pipe_renewal": "basic",
    "power_cable_undergrounding": "basic",
    "gas_pipe_renewal": "basic",
    "heating_pipe_renewal": "basic",
    "telecom_line_undergrounding": "basic",
    "rain_sewage_separation": "basic",
    "fire_lane": "basic",
    "barrier_free_access": "basic",
    "roof_repair": "basic",
    "wall_anti_seepage": "basic",
    # improvement 完善类
    "elevator_installation": "improvement",
    "parking": "improvement",
    "greening": "improvement",
    "lighting": "improvement",
    "security_cameras": "improvement",
    "public_facilities": "improvement",
    "ebike_charging": "improvement",
    "road_paving": "improvement",
    "facade_renovation": "improvement",
    # upgrade 提升类
    "community_canteen": "upgrade",
    "elderly_care": "upgrade",
    "child_care": "upgrade",
    "culture_space": "upgrade",
    "smart_community": "upgrade",
}

# The Chinese name of every menu item: how charts and tables show a menu code.
MENU_ITEM_NAMES_ZH: dict[str, str] = {
    "structural_reinforcement": "结构加固",
    "water_pipe_renewal": "供水管线改造",
    "power_cable_undergrounding": "电力线缆入地",
    "gas_pipe_renewal": "燃气管线改造",
    "heating_pipe_renewal": "供热管线改造",
    "telecom_line_undergrounding": "通信线缆入地",
    "rain_sewage_separation": "雨污分流",
    "fire_lane": "消防通道",
    "barrier_free_access": "无障碍设施",
    "roof_repair": "屋面修缮",
    "wall_anti_seepage": "外墙防渗",
    "elevator_installation": "加装电梯",
    "parking": "停车设施",
    "greening": "绿化",
    "lighting": "照明",
    "security_cameras": "安防监控",
    "public_facilities": "公共服务设施",
    "ebike_charging": "电动自行车充电",
    "road_paving": "道路铺装",
    "facade_renovation": "立面改造",
    "community_canteen": "社区食堂",
    "elderly_care": "养老服务",
    "child_care": "托育服务",
    "culture_space": "文化活动空间",
    "smart_community": "智慧社区",
}
assert set(MENU_ITEM_NAMES_ZH) == set(MENU_CATALOG), "every menu item has a Chinese name"
