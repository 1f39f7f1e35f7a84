"""Read models keep the newest state (source_version), ranks apart from the registry, buildings (from households)
and lanes/courtyards (sites) of the survey as work faces; faces record where they come from.

Revision ID: 0004
Revises: 0003
Create Date: 2027-01-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("communities", sa.Column("household_count", sa.Integer(), server_default="0", nullable=False))
    op.add_column("communities", sa.Column("source_version", sa.BigInteger(), server_default="0", nullable=False))
    op.create_table(
        "community_ranks",
        sa.Column("community_id", sa.String(length=64), nullable=False),
        sa.Column("district_id", sa.String(length=64), nullable=False),
        sa.Column("priority_rank", sa.Integer(), nullable=False),
        sa.Column("ranking_id", sa.String(length=64), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("community_id", name=op.f("pk_community_ranks")),
    )
    op.execute(
        "insert into community_ranks (community_id, district_id, priority_rank, ranking_id, published_at) "
        "select community_id, district_id, priority_rank, ranking_id, updated_at from communities "
        "where priority_rank is not null and ranking_id is not null"
    )
    # a row only a ranking wrote (no registration) does not say where the community lies
    op.execute("delete from communities where street_id is null and name = ''")
    op.drop_column("communities", "priority_rank")
    op.drop_column("communities", "ranking_id")
    op.create_table(
        "households",
        sa.Column("household_id", sa.String(length=64), nullable=False),
        sa.Column("community_id", sa.String(length=64), nullable=False),
        sa.Column("building_id", sa.String(length=64), nullable=False),
        sa.Column("building_code", sa.String(length=20), nullable=False),
        sa.Column("source_version", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("household_id", name=op.f("pk_households")),
    )
    op.create_index(op.f("ix_households_community_id"), "households", ["community_id"], unique=False)
    op.create_table(
        "sites",
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("community_id", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("length_m", sa.Integer(), nullable=True),
        sa.Column("area_m2", sa.Numeric(12, 2), nullable=True),
        sa.Column("retired", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("source_version", sa.BigInteger(), server_default="0", nullable=False),
        sa.CheckConstraint("kind in ('lane', 'courtyard')", name=op.f("ck_sites_kind")),
        sa.PrimaryKeyConstraint("site_id", name=op.f("pk_sites")),
    )
    op.create_index(op.f("ix_sites_community_id"), "sites", ["community_id"], unique=False)
    op.alter_column("work_faces", "code", type_=sa.String(length=40), existing_type=sa.String(length=20))
    op.add_column("work_faces", sa.Column("source", sa.String(length=20), server_default="request", nullable=False))
    op.add_column("work_faces", sa.Column("source_id", sa.String(length=64), nullable=True))
    op.create_index("ix_projects_created_at_id", "projects", ["created_at", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_projects_created_at_id", table_name="projects")
    op.drop_column("work_faces", "source_id")
    op.drop_column("work_faces", "source")
    op.alter_column("work_faces", "code", type_=sa.String(length=20), existing_type=sa.String(length=40))
    op.drop_index(op.f("ix_sites_community_id"), table_name="sites")
    op.drop_table("sites")
    op.drop_index(op.f("ix_households_community_id"), table_name="households")
    op.drop_table("households")
    op.add_column("communities", sa.Column("ranking_id", sa.String(length=64), nullable=True))
    op.add_column("communities", sa.Column("priority_rank", sa.Integer(), nullable=True))
    op.execute(
        "update communities c set priority_rank = r.priority_rank, ranking_id = r.ranking_id "
        "from community_ranks r where r.community_id = c.community_id"
    )
    op.drop_table("community_ranks")
    op.drop_column("communities", "source_version")
    op.drop_column("communities", "household_count")
