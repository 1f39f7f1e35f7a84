"""Emergency repairs reserve their fund and public-income shares, their household shares become dues, they can be
rejected or cancelled, and they say what kind of work they are (维修 / 更新 / 改造).

Expand only: new columns are nullable or have defaults (a repair approved before this revision has
``reserved = false`` and is paid the way it was approved); the widened check constraints accept every old row.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

REPAIR_STATUSES_OLD = "status IN ('requested','refused','approved','paid')"
REPAIR_STATUSES = "status IN ('requested','refused','approved','paid','rejected','cancelled')"
SCHEME_KINDS_OLD = "kind IN ('maintenance_fund','water_meter')"
SCHEME_KINDS = "kind IN ('maintenance_fund','water_meter','emergency_repair')"


def upgrade() -> None:
    op.add_column("emergency_repairs", sa.Column("kind", sa.String(length=20), server_default="repair", nullable=False))
    op.add_column("emergency_repairs", sa.Column("reserved", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column("emergency_repairs", sa.Column("dues_scheme_id", sa.UUID(), nullable=True))
    op.add_column("emergency_repairs", sa.Column("closed_by", sa.String(length=120), nullable=True))
    op.add_column("emergency_repairs", sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("emergency_repairs", sa.Column("close_reason", sa.String(length=500), nullable=True))
    op.create_foreign_key(
        op.f("fk_emergency_repairs_dues_scheme_id_contribution_schemes"),
        "emergency_repairs",
        "contribution_schemes",
        ["dues_scheme_id"],
        ["id"],
    )
    op.drop_constraint(op.f("ck_emergency_repairs_status_known"), "emergency_repairs", type_="check")
    op.create_check_constraint(op.f("ck_emergency_repairs_status_known"), "emergency_repairs", REPAIR_STATUSES)
    op.create_check_constraint(
        op.f("ck_emergency_repairs_kind_known"), "emergency_repairs", "kind IN ('repair','renewal','renovation')"
    )
    op.create_check_constraint(
        op.f("ck_emergency_repairs_closed"),
        "emergency_repairs",
        "status NOT IN ('rejected','cancelled') OR (closed_at IS NOT NULL AND closed_by IS NOT NULL)",
    )
    op.drop_constraint(op.f("ck_contribution_schemes_kind_known"), "contribution_schemes", type_="check")
    op.create_check_constraint(op.f("ck_contribution_schemes_kind_known"), "contribution_schemes", SCHEME_KINDS)
    op.add_column("dues", sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_dues_district_id_id", "dues", ["district_id", "id"], unique=False)
    op.create_index("ix_dues_community_id_id", "dues", ["community_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_dues_community_id_id", table_name="dues")
    op.drop_index("ix_dues_district_id_id", table_name="dues")
    op.drop_column("dues", "cancelled_at")
    op.drop_constraint(op.f("ck_contribution_schemes_kind_known"), "contribution_schemes", type_="check")
    op.create_check_constraint(op.f("ck_contribution_schemes_kind_known"), "contribution_schemes", SCHEME_KINDS_OLD)
    op.drop_constraint(op.f("ck_emergency_repairs_closed"), "emergency_repairs", type_="check")
    op.drop_constraint(op.f("ck_emergency_repairs_kind_known"), "emergency_repairs", type_="check")
    op.drop_constraint(op.f("ck_emergency_repairs_status_known"), "emergency_repairs", type_="check")
    op.create_check_constraint(op.f("ck_emergency_repairs_status_known"), "emergency_repairs", REPAIR_STATUSES_OLD)
    op.drop_constraint(
        op.f("fk_emergency_repairs_dues_scheme_id_contribution_schemes"), "emergency_repairs", type_="foreignkey"
    )
    for column in ("close_reason", "closed_at", "closed_by", "dues_scheme_id", "reserved", "kind"):
        op.drop_column("emergency_repairs", column)
