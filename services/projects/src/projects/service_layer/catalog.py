"""The work-package catalog and the menu mapping, as published to clients (no records involved)."""

from __future__ import annotations

from dataclasses import dataclass

from projects.domain.catalog import MENU_TO_PACKAGES, PACKAGE_TYPES, TRADES, PackageType


@dataclass(frozen=True)
class CatalogEntry:
    package: PackageType
    menu_items: list[str]


@dataclass(frozen=True)
class Catalog:
    packages: list[CatalogEntry]
    menu_to_packages: dict[str, list[str]]
    trades: list[str]


def catalog() -> Catalog:
    items_for: dict[str, list[str]] = {}
    for item, codes in MENU_TO_PACKAGES.items():
        for c in codes:
            items_for.setdefault(c, []).append(item)
    return Catalog(
        packages=[CatalogEntry(t, sorted(items_for.get(t.code, []))) for t in PACKAGE_TYPES.values()],
        menu_to_packages={k: list(v) for k, v in MENU_TO_PACKAGES.items()},
        trades=list(TRADES),
    )
