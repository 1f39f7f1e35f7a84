"""Registry rules: exclusive floor areas (exact, two decimals), household rows, care flags."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

MAX_AREA = Decimal("10000.00")
MAX_RESIDENTS = 30
CODE_RE = re.compile(r"^[\w\-./# ]{1,20}$")
PHONE_RE = re.compile(r"^\+?[0-9\- ]{5,20}$")
IMPORT_COLUMNS = (
    "building",
    "unit",
    "room",
    "floor_area_m2",
    "owner_name",
    "owner_phone",
    "resident_birth_years",
    "lives_alone",
    "needs_accompaniment",
)
REQUIRED_COLUMNS = ("building", "room", "floor_area_m2")


class RegistryError(ValueError):
    def __init__(self, message: str, *, code: str = "invalid_household", field_name: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.field_name = field_name


def parse_area(value: object) -> Decimal:
    """An exclusive floor area in m²: positive, at most 10,000, at most two decimals (never rounded silently)."""
    if isinstance(value, float):
        value = repr(value)  # openpyxl gives floats; their shortest repr is what the sheet showed
    try:
        area = Decimal(str(value).strip())
    except InvalidOperation:
        raise RegistryError(f"floor area {value!r} is not a number", field_name="floor_area_m2") from None
    if not area.is_finite() or area <= 0 or area > MAX_AREA:
        raise RegistryError("floor area must be > 0 and <= 10000 m²", field_name="floor_area_m2")
    if area != area.quantize(Decimal("0.01")):
        raise RegistryError("floor area has more than two decimals", field_name="floor_area_m2")
    return area.quantize(Decimal("0.01"))


@dataclass(frozen=True)
class ResidentSpec:
    birth_year: int
    lives_alone: bool = False
    needs_accompaniment: bool = False


@dataclass(frozen=True)
class HouseholdSpec:
    building: str
    unit: str
    room: str
    floor_area: Decimal
    owner_name: str | None = None
    owner_phone: str | None = None
    residents: tuple[ResidentSpec, ...] = field(default_factory=tuple)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.building, self.unit, self.room)


def elderly_living_alone(residents: Sequence[ResidentSpec], year: int, elderly_from: int = 60) -> bool:
    """An elderly resident (aged ``elderly_from`` or more in ``year``) who lives alone."""
    return any(r.lives_alone and year - r.birth_year >= elderly_from for r in residents)


def needs_accompaniment(residents: Sequence[ResidentSpec]) -> bool:
    return any(r.needs_accompaniment for r in residents)


def check_birth_year(year: int, current_year: int) -> int:
    if not (current_year - 125 <= year <= current_year):
        raise RegistryError(f"birth year {year} is not plausible", field_name="birth_year")
    return year


def _bool(value: object, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value if value is not None else "").strip().lower()
    if text in ("", "0", "no", "n", "false", "否"):
        return False
    if text in ("1", "yes", "y", "true", "是"):
        return True
    raise RegistryError(f"{name} must be yes/no", field_name=name)


def _text(row: Mapping[str, object], name: str, *, max_len: int, required: bool = False) -> str | None:
    raw = row.get(name)
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    text = "" if raw is None else str(raw).strip()
    if not text:
        if required:
            raise RegistryError(f"{name} is required", field_name=name)
        return None
    if len(text) > max_len:
        raise RegistryError(f"{name} is longer than {max_len} characters", field_name=name)
    return text


def parse_household_row(row: Mapping[str, object], current_year: int) -> HouseholdSpec:
    """One import row (column → cell) to a :class:`HouseholdSpec`; raises :class:`RegistryError`.

    ``resident_birth_years`` lists the residents' birth years separated by ``;``; ``lives_alone`` and
    ``needs_accompaniment`` apply to every resident listed in the row.
    """
    building = _text(row, "building", max_len=20, required=True) or ""
    room = _text(row, "room", max_len=20, required=True) or ""
    unit = _text(row, "unit", max_len=20) or ""
    for name, code in (("building", building), ("room", room), ("unit", unit)):
        if code and not CODE_RE.match(code):
            raise RegistryError(f"{name} has characters that are not allowed", field_name=name)
    if row.get("floor_area_m2") in (None, ""):
        raise RegistryError("floor_area_m2 is required", field_name="floor_area_m2")
    area = parse_area(row.get("floor_area_m2"))
    owner_name = _text(row, "owner_name", max_len=50)
    owner_phone = _text(row, "owner_phone", max_len=20)
    if owner_phone and not PHONE_RE.match(owner_phone):
        raise RegistryError("owner_phone is not a phone number", field_name="owner_phone")
    alone = _bool(row.get("lives_alone"), "lives_alone")
    accompany = _bool(row.get("needs_accompaniment"), "needs_accompaniment")
    years_text = _text(row, "resident_birth_years", max_len=400) or ""
    residents = []
    for part in (p.strip() for p in years_text.replace(",", ";").split(";")):
        if not part:
            continue
        if part.endswith(".0"):
            part = part[:-2]
        if not part.isdigit():
            raise RegistryError(f"birth year {part!r} is not a year", field_name="resident_birth_years")
        residents.append(ResidentSpec(check_birth_year(int(part), current_year), alone, accompany))
    if len(residents) > MAX_RESIDENTS:
        raise RegistryError(f"at most {MAX_RESIDENTS} residents", field_name="resident_birth_years")
    return HouseholdSpec(building, unit, room, area, owner_name, owner_phone, tuple(residents))


@dataclass(frozen=True)
class RowError:
    row: int  # 1-based data row number (the header is row 1 in a sheet, so sheet row = row + 1)
    code: str
    field: str | None
    message: str


def check_rows(rows: Sequence[Mapping[str, object]], current_year: int) -> tuple[list[HouseholdSpec], list[RowError]]:
    """Parse every row; duplicates inside the file are errors too. Returns (specs, errors)."""
    specs: list[HouseholdSpec] = []
    errors: list[RowError] = []
    first_seen: dict[tuple[str, str, str], int] = {}
    for i, row in enumerate(rows, start=1):
        try:
            spec = parse_household_row(row, current_year)
        except RegistryError as exc:
            errors.append(RowError(i, exc.code, exc.field_name, str(exc)))
            continue
        if spec.key in first_seen:
            errors.append(
                RowError(i, "duplicate_household", None, f"same building/unit/room as row {first_seen[spec.key]}")
            )
            continue
        first_seen[spec.key] = i
        specs.append(spec)
    return specs, errors


def building_name(code: str) -> str:
    """A building's name as people say it: ``3`` -> ``3号楼``; a code that is not a number is its own name
    (``A座``, ``东区2栋``). The registry records codes only; projects names its building faces the same way."""
    return f"{code}号楼" if code.isdigit() else code
