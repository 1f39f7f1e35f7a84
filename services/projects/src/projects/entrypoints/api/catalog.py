"""Route of the work-package catalog."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from projects.entrypoints.api.dependencies import ANYONE
from projects.entrypoints.api.schemas import CatalogRead, PackageTypeRead
from projects.service_layer.catalog import catalog
from renovation_common.auth import Principal, authorize

router = APIRouter(tags=["catalog"])


@router.get(
    "/v1/catalog/work-packages",
    operation_id="listWorkPackageTypes",
    response_model=CatalogRead,
    summary="The work-package catalog and which packages each menu item brings in",
)
async def list_work_package_types(_: Annotated[Principal, authorize(*ANYONE)]) -> CatalogRead:
    """Every work package (工作包): layer (underground first), kind (special works before hardware), trade, whether
    it excavates (one dig window per face), default duration rule and the face kinds it goes on; and the mapping
    from the survey's menu items (菜单项) to packages."""
    c = catalog()
    return CatalogRead(
        packages=[
            PackageTypeRead(
                code=e.package.code,
                name_zh=e.package.name_zh,
                name_en=e.package.name_en,
                category=e.package.category,
                layer=e.package.layer,
                kind=e.package.kind,
                trade=e.package.trade,
                excavates=e.package.excavates,
                base_days=e.package.base_days,
                days_per_size=e.package.days_per_size,
                face_kinds=list(e.package.face_kinds),
                menu_items=e.menu_items,
            )
            for e in c.packages
        ],
        menu_to_packages=c.menu_to_packages,
        trades=c.trades,
    )
