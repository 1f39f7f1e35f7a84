from __future__ import annotations

from datetime import date

import pytest

from projects.domain.calendar import WorkingCalendar
from projects.domain.catalog import (
    MENU_TO_PACKAGES,
    PACKAGE_TYPES,
    Layer,
    UnknownPackage,
    package_type,
    packages_for_menu,
)
from projects.domain.planning import layout, weights_from_ranks
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


def test_layout_places_building_packages_on_every_building_and_links_pit_to_lift():
    lay = layout(["elevator_installation", "elevator_pit", "rain_sewage_separation"], buildings=3)
    lifts = [p for p in lay.packages if p.type_code == "elevator_installation"]
    assert {p.face_code for p in lifts} == {"B1", "B2", "B3"}
    assert [p.face_code for p in lay.packages if p.type_code == "rain_sewage_separation"] == ["L1"]
    assert len(lay.links) == 3 and all(lag == 7 for _, _, lag in lay.links)


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
