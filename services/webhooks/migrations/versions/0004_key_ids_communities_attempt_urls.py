"""Key ids of the sealed signing secrets (the re-seal job after a key rotation), the communities read model (scope
of community filters from the platform's records), attempt URLs without their query strings.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    # NULL: sealed before key ids were kept; the re-seal job opens it with the key ring and records the key.
    op.add_column("subscriptions", sa.Column("secret_key_id", sa.String(16)))
    op.add_column("subscriptions", sa.Column("previous_secret_key_id", sa.String(16)))
    op.create_table(
        "communities",
        sa.Column("community_id", sa.String(64), nullable=False),
        sa.Column("district_id", sa.String(64), nullable=False),
        sa.Column("street_id", sa.String(64)),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("community_id", name=op.f("pk_communities")),
    )
    op.create_index(op.f("ix_communities_district_id"), "communities", ["district_id"])
    # The attempt log kept full URLs, query strings (and the tokens they often carry) included: drop them.
    op.execute(
        "update delivery_attempts set url = split_part(split_part(url, '#', 1), '?', 1) "
        "where url like '%?%' or url like '%#%'"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_communities_district_id"), table_name="communities")
    op.drop_table("communities")
    op.drop_column("subscriptions", "previous_secret_key_id")
    op.drop_column("subscriptions", "secret_key_id")
