"""Run-offs of design-scheme votes (决选): a group's decision (pending → awaiting_runoff ⇄ runoff_open → decided)
and its run-off votes, each its own scheme_vote consultation. Groups of rounds decided before this migration are
marked decided at their round's decision time (their event was published then). Expand-only.

Revision ID: 0011
Revises: 0008 (other branches may add 0009/0010; the chain is fixed when they are merged)
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011"
down_revision = "0009"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
UUID = postgresql.UUID(as_uuid=True)


def upgrade() -> None:
    op.add_column(
        "scheme_groups", sa.Column("decision", sa.String(length=20), server_default="pending", nullable=False)
    )
    op.add_column("scheme_groups", sa.Column("decided_at", TS, nullable=True))
    op.execute(
        "UPDATE scheme_groups g SET decision = 'decided', decided_at = r.decided_at FROM scheme_rounds r "
        "WHERE r.id = g.round_id AND r.state = 'decided'"
    )
    op.create_check_constraint(
        op.f("ck_scheme_groups_decision_known"),
        "scheme_groups",
        "decision IN ('pending','awaiting_runoff','runoff_open','decided')",
    )
    op.create_check_constraint(
        op.f("ck_scheme_groups_decided_when"), "scheme_groups", "(decision = 'decided') = (decided_at IS NOT NULL)"
    )
    op.create_table(
        "scheme_runoffs",
        sa.Column("id", UUID, nullable=False),
        sa.Column("round_id", UUID, nullable=False),
        sa.Column("group_id", UUID, nullable=False),
        sa.Column("number", sa.SmallInteger(), nullable=False),
        sa.Column("consultation_id", UUID, nullable=False),
        sa.Column("candidates", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("counted_at", TS, nullable=True),
        sa.CheckConstraint("number BETWEEN 1 AND 2", name=op.f("ck_scheme_runoffs_runoff_limit")),
        sa.CheckConstraint("(result IS NULL) = (counted_at IS NULL)", name=op.f("ck_scheme_runoffs_counted_when")),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["scheme_rounds.id"],
            name=op.f("fk_scheme_runoffs_round_id_scheme_rounds"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["scheme_groups.id"],
            name=op.f("fk_scheme_runoffs_group_id_scheme_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["consultation_id"],
            ["consultations.id"],
            name=op.f("fk_scheme_runoffs_consultation_id_consultations"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheme_runoffs")),
        sa.UniqueConstraint("consultation_id", name=op.f("uq_scheme_runoffs_consultation_id")),
        sa.UniqueConstraint("group_id", "number", name=op.f("uq_scheme_runoffs_group_id_number")),
    )
    op.create_index(op.f("ix_scheme_runoffs_round_id"), "scheme_runoffs", ["round_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_scheme_runoffs_round_id"), table_name="scheme_runoffs")
    op.drop_table("scheme_runoffs")
    op.drop_constraint(op.f("ck_scheme_groups_decided_when"), "scheme_groups", type_="check")
    op.drop_constraint(op.f("ck_scheme_groups_decision_known"), "scheme_groups", type_="check")
    op.drop_column("scheme_groups", "decided_at")
    op.drop_column("scheme_groups", "decision")
