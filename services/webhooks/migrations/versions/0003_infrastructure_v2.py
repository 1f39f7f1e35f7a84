"""Infrastructure tables, version 2: periodic-job leases, idempotency records claimed in the effect's transaction,
retention indexes (renovation_common.migrations.upgrade_infrastructure_v2).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from renovation_common.migrations import downgrade_infrastructure_v2, upgrade_infrastructure_v2

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    upgrade_infrastructure_v2()


def downgrade() -> None:
    downgrade_infrastructure_v2()
