"""Alarms that clear themselves and an audit of the lifecycle: ``alarms.normal_since``, the per-kind quiet times
in ``rule_settings``, and ``alarm_transitions``.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("alarms", sa.Column("normal_since", sa.DateTime(timezone=True)))
    op.create_index(
        "ix_alarms_normal_since",
        "alarms",
        ["normal_since"],
        postgresql_where=sa.text("normal_since is not null and status <> 'cleared'"),
    )
    quiet_times = (("gas_auto_clear_s", "600"), ("smoke_auto_clear_s", "600"), ("water_leak_auto_clear_s", "1800"))
    for column, default in quiet_times:
        op.add_column("rule_settings", sa.Column(column, sa.Integer, nullable=False, server_default=default))
    op.create_check_constraint(
        op.f("ck_rule_settings_auto_clear_range"),
        "rule_settings",
        "gas_auto_clear_s between 0 and 86400 and smoke_auto_clear_s between 0 and 86400"
        " and water_leak_auto_clear_s between 0 and 86400",
    )
    op.create_table(
        "alarm_transitions",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("alarm_id", UUID(as_uuid=True), nullable=False),
        sa.Column("from_status", sa.String(15), nullable=False),
        sa.Column("to_status", sa.String(15), nullable=False),
        sa.Column("by", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["alarm_id"], ["alarms.id"], name=op.f("fk_alarm_transitions_alarm_id_alarms"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm_transitions")),
    )
    op.create_index("ix_alarm_transitions_alarm", "alarm_transitions", ["alarm_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_alarm_transitions_alarm", table_name="alarm_transitions")
    op.drop_table("alarm_transitions")
    op.drop_constraint(op.f("ck_rule_settings_auto_clear_range"), "rule_settings", type_="check")
    for column in ("gas_auto_clear_s", "smoke_auto_clear_s", "water_leak_auto_clear_s"):
        op.drop_column("rule_settings", column)
    op.drop_index("ix_alarms_normal_since", table_name="alarms")
    op.drop_column("alarms", "normal_since")
