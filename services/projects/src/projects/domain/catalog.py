# ruff: noqa: E501
"""The work-package catalog (工作包目录) and the mapping from menu items (菜单项) to packages.

Every package has a layer (underground 地下 / above ground 地上), a kind (special utility works 专项改造 /
hardware improvement 硬件提升), a trade (the crew that does it), whether it excavates (开挖) and a default
duration rule. Rules in ``rules.md`` terms: underground before above ground on a face; special utility before
hardware on a face; all excavating packages on a face inside one dig window.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Category(StrEnum):
    BASIC = "basic"  # 基础类
    IMPROVEMENT = "improvement"  # 完善类
    UPGRADE = "upgrade"  # 提升类


class Layer(StrEnum):
    UNDERGROUND = "underground"  # 地下
    ABOVE_GROUND = "above_ground"  # 地上


class Kind(StrEnum):
    SPECIAL_UTILITY = "special_utility"  # 专项改造 (水电气讯)
    HARDWARE = "hardware"  # 硬件提升


class FaceKind(StrEnum):
    LANE = "lane"  # 巷道
    COURTYARD = "courtyard"  # 院落
    BUILDING = "building"  # 楼栋


@dataclass(frozen=True)
class PackageType:
    code: str
    name_zh: str
    name_en: str
    category: Category
    layer: Layer
    kind: Kind
    trade: str
    excavates: bool
    base_days: int
    days_per_size: int  # extra working days per size unit of the face beyond the first
    face_kinds: tuple[FaceKind, ...]  # where the package is placed by default (first = preferred)

    def duration_days(self, face_size: int = 1) -> int:
        """Default duration rule: ``base_days + days_per_size * (size - 1)`` working days, at least 1."""
        if face_size < 1:
            raise ValueError("face size must be >= 1")
        return max(1, self.base_days + self.days_per_size * (face_size - 1))


_B, _I, _U = Category.BASIC, Category.IMPROVEMENT, Category.UPGRADE
_UG, _AG = Layer.UNDERGROUND, Layer.ABOVE_GROUND
_SU, _HW = Kind.SPECIAL_UTILITY, Kind.HARDWARE
_LANE, _YARD, _BLDG = FaceKind.LANE, FaceKind.COURTYARD, FaceKind.BUILDING

_TYPES: tuple[PackageType, ...] = (
    # underground special utility works 地下专项 (all excavate)
    PackageType("rain_sewage_separation", "雨污分流", "Rain/sewage separation", _B, _UG, _SU, "drainage", True, 12, 3, (_LANE, _YARD)),
    PackageType("water_main_renewal", "供水管网改造", "Water main renewal", _B, _UG, _SU, "plumbing", True, 8, 2, (_LANE, _YARD)),
    PackageType("gas_pipe_renewal", "燃气管道改造", "Gas pipe renewal", _B, _UG, _SU, "gas", True, 7, 2, (_LANE, _YARD)),
    PackageType("power_cable_undergrounding", "电线入地", "Buried power cables", _B, _UG, _SU, "electrical", True, 8, 2, (_LANE, _YARD)),
    PackageType("telecom_undergrounding", "通信线缆入地", "Buried telecom lines", _B, _UG, _SU, "telecom", True, 5, 1, (_LANE, _YARD)),
    PackageType("heating_pipe_renewal", "供热管网改造", "Heating pipe renewal", _B, _UG, _SU, "heating", True, 8, 2, (_LANE, _YARD)),
    # underground hardware (excavates)
    PackageType("elevator_pit", "电梯基坑", "Elevator foundation pit", _I, _UG, _HW, "civil", True, 6, 0, (_BLDG,)),
    # above-ground special utility works 地上专项 (in buildings)
    PackageType("water_riser_renewal", "楼内供水立管改造", "Building water risers", _B, _AG, _SU, "plumbing", False, 5, 2, (_BLDG,)),
    PackageType("building_wiring_renewal", "楼内线路改造", "Building wiring renewal", _B, _AG, _SU, "electrical", False, 5, 2, (_BLDG,)),
    PackageType("indoor_gas_renewal", "户内燃气改造", "Indoor gas piping", _B, _AG, _SU, "gas", False, 4, 1, (_BLDG,)),
    PackageType("building_telecom_fitout", "楼内光纤改造", "In-building telecom", _B, _AG, _SU, "telecom", False, 3, 1, (_BLDG,)),
    # above-ground hardware 地上硬件
    PackageType("structural_reinforcement", "结构加固", "Structural reinforcement", _B, _AG, _HW, "civil", False, 15, 4, (_BLDG,)),
    PackageType("roof_repair", "屋面防水修缮", "Roof repair", _B, _AG, _HW, "roofing", False, 7, 2, (_BLDG,)),
    PackageType("wall_anti_seepage", "外墙防渗", "Wall anti-seepage", _B, _AG, _HW, "facade", False, 6, 2, (_BLDG,)),
    PackageType("facade_renovation", "外立面改造", "Facade renovation", _I, _AG, _HW, "facade", False, 10, 3, (_BLDG,)),
    PackageType("elevator_installation", "加装电梯", "Elevator installation", _I, _AG, _HW, "elevator", False, 20, 0, (_BLDG,)),
    PackageType("fire_lane", "消防通道整治", "Fire lane clearing", _B, _AG, _HW, "roadworks", False, 4, 1, (_LANE, _YARD)),
    PackageType("barrier_free_access", "无障碍设施", "Barrier-free access", _B, _AG, _HW, "civil", False, 4, 1, (_BLDG, _YARD)),
    PackageType("road_paving", "道路铺装", "Paving", _I, _AG, _HW, "roadworks", False, 6, 2, (_LANE, _YARD)),
    PackageType("parking", "停车位改造", "Parking", _I, _AG, _HW, "roadworks", False, 5, 1, (_YARD, _LANE)),
    PackageType("greening", "绿化提升", "Greening", _I, _AG, _HW, "landscaping", False, 6, 1, (_YARD, _LANE)),
    PackageType("lighting", "照明改造", "Lighting", _I, _AG, _HW, "electrical", False, 3, 1, (_LANE, _YARD)),
    PackageType("security_cameras", "安防监控", "Security cameras", _I, _AG, _HW, "telecom", False, 3, 1, (_YARD, _LANE)),
    PackageType("public_facilities", "公共服务设施", "Public facilities", _I, _AG, _HW, "civil", False, 8, 2, (_YARD,)),
    PackageType("ebike_charging", "电动车充电设施", "E-bike charging", _I, _AG, _HW, "electrical", False, 3, 1, (_YARD,)),
    PackageType("community_canteen", "社区食堂", "Community canteen", _U, _AG, _HW, "fitout", False, 15, 0, (_YARD, _BLDG)),
    PackageType("elderly_care", "养老服务设施", "Elderly care", _U, _AG, _HW, "fitout", False, 12, 0, (_YARD, _BLDG)),
    PackageType("child_care", "托育服务设施", "Child care", _U, _AG, _HW, "fitout", False, 12, 0, (_YARD, _BLDG)),
    PackageType("culture_space", "文化活动空间", "Culture space", _U, _AG, _HW, "fitout", False, 10, 0, (_YARD, _BLDG)),
    PackageType("smart_community", "智慧社区系统", "Smart community systems", _U, _AG, _HW, "telecom", False, 6, 1, (_YARD, _LANE)),
)  # fmt: skip

PACKAGE_TYPES: dict[str, PackageType] = {t.code: t for t in _TYPES}

# Menu item code (renovation_common.contracts.survey.MENU_CATALOG) -> the packages it brings in.
MENU_TO_PACKAGES: dict[str, tuple[str, ...]] = {
    "structural_reinforcement": ("structural_reinforcement",),
    "water_pipe_renewal": ("water_main_renewal", "water_riser_renewal"),
    "power_cable_undergrounding": ("power_cable_undergrounding", "building_wiring_renewal"),
    "gas_pipe_renewal": ("gas_pipe_renewal", "indoor_gas_renewal"),
    "heating_pipe_renewal": ("heating_pipe_renewal",),
    "telecom_line_undergrounding": ("telecom_undergrounding", "building_telecom_fitout"),
    "rain_sewage_separation": ("rain_sewage_separation",),
    "fire_lane": ("fire_lane",),
    "barrier_free_access": ("barrier_free_access",),
    "roof_repair": ("roof_repair",),
    "wall_anti_seepage": ("wall_anti_seepage",),
    "elevator_installation": ("elevator_pit", "elevator_installation"),
    "parking": ("parking",),
    "greening": ("greening",),
    "lighting": ("lighting",),
    "security_cameras": ("security_cameras",),
    "public_facilities": ("public_facilities",),
    "ebike_charging": ("ebike_charging",),
    "road_paving": ("road_paving",),
    "facade_renovation": ("facade_renovation",),
    "community_canteen": ("community_canteen",),
    "elderly_care": ("elderly_care",),
    "child_care": ("child_care",),
    "culture_space": ("culture_space",),
    "smart_community": ("smart_community",),
}

# Finish-to-start links the catalog always adds between packages on the same face: (pred, succ, lag days).
DEFAULT_LINKS: tuple[tuple[str, str, int], ...] = (
    ("elevator_pit", "elevator_installation", 7),  # concrete curing before the shaft goes up
    ("structural_reinforcement", "facade_renovation", 0),
    ("structural_reinforcement", "elevator_installation", 0),
    ("roof_repair", "wall_anti_seepage", 0),
)

TRADES: tuple[str, ...] = tuple(sorted({t.trade for t in _TYPES}))
# the crews as a street office names them (charts, exports)
TRADE_NAMES_ZH: dict[str, str] = {
    "civil": "土建",
    "drainage": "排水",
    "electrical": "电力",
    "elevator": "电梯",
    "facade": "外立面",
    "fitout": "装饰装修",
    "gas": "燃气",
    "heating": "供暖",
    "landscaping": "绿化",
    "plumbing": "给水",
    "roadworks": "道路",
    "roofing": "屋面",
    "telecom": "通信",
}
assert set(TRADE_NAMES_ZH) == set(TRADES), "every trade has a Chinese name"


def trade_name(trade: str) -> str:
    """The Chinese name of a crew's trade (the code itself for a trade the catalog does not know)."""
    return TRADE_NAMES_ZH.get(trade, trade)


def package_type(code: str) -> PackageType:
    try:
        return PACKAGE_TYPES[code]
    except KeyError:
        raise UnknownPackage(code) from None


class UnknownPackage(ValueError):
    def __init__(self, code: str) -> None:
        super().__init__(f"unknown work package or menu item: {code}")
        self.code = code


def packages_for_menu(codes: list[str]) -> list[str]:
    """Menu item codes -> package codes, catalog order, without repeats; unknown codes raise ``UnknownPackage``."""
    wanted: set[str] = set()
    for code in codes:
        if code not in MENU_TO_PACKAGES:
            raise UnknownPackage(code)
        wanted.update(MENU_TO_PACKAGES[code])
    return [t.code for t in _TYPES if t.code in wanted]
