from __future__ import annotations

from datetime import date

import pytest

from projects.domain.calendar import WorkingCalendar
from projects.domain.catalog import (
    MENU_TO_PACKAGES,
    PACKAGE_TYPES,
    FaceKind,
    Layer,
    UnknownPackage,
    package_type,
    packages_for_menu,
)
from projects.domain.model import Community, FaceSource, SiteFace
from projects.domain.planning import (
    FaceKindMismatch,
    FaceSpec,
    LayoutError,
    NoFaceForPackage,
    UnknownFace,
    building_size,
    layout,
    site_size,
    survey_faces,
    weights_from_ranks,
)
from renovation_common.contracts.survey import MENU_CATALOG

DOMAIN_ITEMS = [
    "rain_sewage_separation", "water_main_renewal", "gas_pipe_renewal", "power_cable_undergrounding",
    "telecom_undergrounding", "heating_pipe_renewal", "structural_reinforcement", "facade_renovation",
    "roof_repair", "wall_anti_seepage", "elevator_installation", "greening", "parking", "lighting",
    "security_cameras", "road_paving", "fire_lane", "barrier_free_access", "ebike_charging",
    "community_canteen", "elderly_care", "child_care", "culture_space", "smart_community", "public_facilities",
]  # fmt: skip


def test_every_menu_item_maps_to_known_packages_and_every_package_is_reachable():
    assert set(MENU_TO_PACKAGES) == set(MENU_CATALOG)
    reachable = {p for codes in MENU_TO_PACKAGES.values() for p in codes}
    assert reachable == set(PACKAGE_TYPES)
    for item, category in MENU_CATALOG.items():
        assert any(PACKAGE_TYPES[p].category.value == category for p in MENU_TO_PACKAGES[item]), item


def test_catalog_covers_every_work_item_of_the_domain_brief():
    assert set(DOMAIN_ITEMS) <= set(PACKAGE_TYPES)


def test_underground_items_of_the_brief_are_underground_excavating_special_works():
    for code in ("rain_sewage_separation", "water_main_renewal", "gas_pipe_renewal", "power_cable_undergrounding",
                 "telecom_undergrounding", "heating_pipe_renewal"):  # fmt: skip
        t = package_type(code)
        assert (t.layer, t.kind.value, t.excavates) == (Layer.UNDERGROUND, "special_utility", True)
    for code in ("facade_renovation", "roof_repair", "elevator_installation", "greening", "parking", "lighting",
                 "road_paving"):  # fmt: skip
        assert package_type(code).layer is Layer.ABOVE_GROUND


def test_menu_mapping_and_duration_rule():
    assert packages_for_menu(["elevator_installation", "greening"]) == ["elevator_pit", "elevator_installation",
                                                                          "greening"]  # fmt: skip
    with pytest.raises(UnknownPackage):
        packages_for_menu(["swimming_pool"])
    assert package_type("rain_sewage_separation").duration_days(1) == 12
    assert package_type("rain_sewage_separation").duration_days(3) == 18


def _faces(*specs: tuple[str, FaceKind]) -> list[FaceSpec]:
    return [FaceSpec(code, code, kind) for code, kind in specs]


def test_layout_places_building_packages_on_every_building_and_links_pit_to_lift():
    faces = _faces(
        ("L1", FaceKind.LANE), ("B1", FaceKind.BUILDING), ("B2", FaceKind.BUILDING), ("B3", FaceKind.BUILDING)
    )
    lay = layout(["elevator_installation", "elevator_pit", "rain_sewage_separation"], faces)
    lifts = [p for p in lay.packages if p.type_code == "elevator_installation"]
    assert {p.face_code for p in lifts} == {"B1", "B2", "B3"}
    assert [p.face_code for p in lay.packages if p.type_code == "rain_sewage_separation"] == ["L1"]
    assert len(lay.links) == 3 and all(lag == 7 for _, _, lag in lay.links)


def test_a_second_lane_gets_its_packages_and_a_project_can_say_which_face_gets_what():
    faces = _faces(("L1", FaceKind.LANE), ("L2", FaceKind.LANE), ("C1", FaceKind.COURTYARD), ("C2", FaceKind.COURTYARD))
    lay = layout(["rain_sewage_separation", "road_paving", "greening"], faces)
    on = {code: sorted(p.face_code for p in lay.packages if p.type_code == code) for code in ("rain_sewage_separation",
          "road_paving", "greening")}  # fmt: skip
    assert on == {"rain_sewage_separation": ["L1", "L2"], "road_paving": ["L1", "L2"], "greening": ["C1", "C2"]}
    chosen = layout(
        ["rain_sewage_separation", "road_paving", "greening"], faces,
        {"rain_sewage_separation": ["L2"], "greening": ["C2", "L1"]},
    )  # fmt: skip
    placed = sorted((p.type_code, p.face_code) for p in chosen.packages)
    assert placed == [("greening", "C2"), ("greening", "L1"), ("rain_sewage_separation", "L2"),
                      ("road_paving", "L1"), ("road_paving", "L2")]  # fmt: skip
    with pytest.raises(FaceKindMismatch):
        layout(["elevator_pit"], faces + _faces(("B1", FaceKind.BUILDING)), {"elevator_pit": ["L1"]})
    with pytest.raises(UnknownFace):
        layout(["greening"], faces, {"greening": ["C9"]})
    with pytest.raises(LayoutError):
        layout(["greening"], faces, {"parking": ["C1"]})  # not one of the project's packages
    with pytest.raises(NoFaceForPackage):
        layout(["elevator_pit"], faces)


def test_faces_come_from_the_survey_and_the_open_ground_stands_in_for_missing_lanes():
    community = Community("c1", "d1", "s1", "劲松北社区", household_count=3605)
    buildings = [
        SiteFace(FaceSource.SURVEY_BUILDING, f"b{i}", f"B{i}", f"{i}号楼", FaceKind.BUILDING, building_size(homes))
        for i, homes in ((1, 100), (2, 20), (3, 401))
    ]
    faces = survey_faces(community, buildings)
    assert [(f.code, f.kind, f.size) for f in faces] == [
        ("B1", FaceKind.BUILDING, 5), ("B2", FaceKind.BUILDING, 1), ("B3", FaceKind.BUILDING, 20),
        ("G", FaceKind.COURTYARD, 19),
    ]  # fmt: skip
    assert faces[-1].source is FaceSource.COMMUNITY_GROUNDS and faces[-1].catch_all
    lay = layout(["rain_sewage_separation", "water_riser_renewal", "public_facilities"], faces)
    assert sorted(p.face_code for p in lay.packages if p.type_code == "water_riser_renewal") == ["B1", "B2", "B3"]
    assert [p.face_code for p in lay.packages if p.type_code == "rain_sewage_separation"] == ["G"]
    assert package_type("water_riser_renewal").duration_days(5) == next(
        p.duration_days for p in lay.packages if p.type_code == "water_riser_renewal" and p.face_code == "B1"
    )
    lane = SiteFace(FaceSource.SURVEY_SITE, "s9", "B1", "东巷", FaceKind.LANE, site_size(FaceKind.LANE, 250, None))
    with_lane = survey_faces(community, [*buildings, lane])
    assert [(f.code, f.kind, f.size) for f in with_lane][-1] == ("B1-2", FaceKind.LANE, 3)  # codes stay unique
    assert not any(f.source is FaceSource.COMMUNITY_GROUNDS for f in with_lane)


def test_weights_from_ranks():
    w = weights_from_ranks({"a": 1, "b": 2, "c": None})
    assert w["a"] > w["b"] > w["c"] == 1


def test_calendar_skips_non_working_dates():
    cal = WorkingCalendar.of(date(2024, 9, 30), non_working=[date(2024, 10, d) for d in range(1, 8)])
    assert cal.date_of(0) == date(2024, 9, 30)
    assert cal.date_of(1) == date(2024, 10, 8)
    assert cal.dates(3) == [date(2024, 9, 30), date(2024, 10, 8), date(2024, 10, 9)]
    assert cal.worked_by(date(2024, 10, 5)) == 1
    assert cal.index_on_or_after(date(2024, 10, 3)) == 1
    weekends = WorkingCalendar.of(date(2024, 1, 5), rest_weekdays=[5, 6])  # a Friday
    assert weekends.date_of(1) == date(2024, 1, 8)
    with pytest.raises(ValueError):
        WorkingCalendar.of(date(2024, 1, 1), rest_weekdays=range(7))
