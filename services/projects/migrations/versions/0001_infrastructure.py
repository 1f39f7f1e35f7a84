"""Messaging and idempotency tables: outbox, inbox, dead letters, idempotency keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

from renovation_common.migrations import create_infrastructure_tables_v1, drop_infrastructure_tables_v1

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_infrastructure_tables_v1()


def downgrade() -> None:
    drop_infrastructure_tables_v1()
