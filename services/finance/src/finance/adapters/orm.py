"""Tables of the finance database (SQLAlchemy Core; SQL lives only in adapters).

Integrity lives here: a check constraint keeps every non-negative account at or above zero, unique keys make
transfer ids, payments, dues and repair requests idempotent, and a pending transfer can be resolved once.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID

from renovation_common.db import define_infrastructure_tables, new_metadata

metadata = new_metadata()
infra = define_infrastructure_tables(metadata)


def _id(name: str = "id") -> sa.Column[object]:
    return sa.Column(name, UUID(as_uuid=True), primary_key=True)


def _ref(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.String(64), nullable=nullable)


def _created() -> sa.Column[object]:
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())


def _fen(name: str, nullable: bool = False, default: str | None = None) -> sa.Column[object]:
    return sa.Column(name, sa.BigInteger, nullable=nullable, server_default=default)


# ---------------------------------------------------------------------------------------------- ledger
accounts = sa.Table(
    "accounts",
    metadata,
    _id(),
    sa.Column("code", sa.String(200), unique=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("allow_negative", sa.Boolean, nullable=False),
    _ref("district_id"),
    _ref("street_id"),
    _ref("community_id"),
    _ref("household_id"),
    _ref("project_id"),
    _fen("debits_posted", default="0"),
    _fen("credits_posted", default="0"),
    _fen("debits_pending", default="0"),
    _fen("credits_pending", default="0"),
    _created(),
    sa.CheckConstraint(
        "debits_posted >= 0 AND credits_posted >= 0 AND debits_pending >= 0 AND credits_pending >= 0",
        name="counters_non_negative",
    ),
    sa.CheckConstraint(
        "allow_negative OR credits_posted - debits_posted - debits_pending >= 0",
        name="no_overdraft",
    ),
    sa.CheckConstraint(
        "kind IN ('government','external','fund_source','project','community_public_income','household',"
        "'contribution_pool','repair')",
        name="kind_known",
    ),
)
sa.Index("ix_accounts_scope", accounts.c.district_id, accounts.c.community_id)

transfers = sa.Table(
    "transfers",
    metadata,
    _id(),
    sa.Column("seq", sa.BigInteger, sa.Identity(), nullable=False, unique=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("debit_account_id", UUID(as_uuid=True), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("credit_account_id", UUID(as_uuid=True), sa.ForeignKey("accounts.id"), nullable=False),
    _fen("amount_fen"),
    sa.Column("pending_id", UUID(as_uuid=True), sa.ForeignKey("transfers.id")),
    sa.Column("group_id", UUID(as_uuid=True)),
    sa.Column("code", sa.String(60), nullable=False),
    sa.Column("reference", sa.String(200)),
    sa.Column("memo", sa.String(500)),
    sa.Column("body_hash", sa.String(64), nullable=False),
    _created(),
    sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
    sa.CheckConstraint("debit_account_id <> credit_account_id", name="distinct_accounts"),
    sa.CheckConstraint("kind IN ('posted','pending','post_pending','void_pending')", name="kind_known"),
    sa.CheckConstraint(
        "(kind IN ('post_pending','void_pending')) = (pending_id IS NOT NULL)", name="pending_id_for_resolutions"
    ),
)
# A pending transfer is resolved (posted or voided) at most once.
sa.Index(
    "uq_transfers_pending_id", transfers.c.pending_id, unique=True, postgresql_where=transfers.c.pending_id.isnot(None)
)
sa.Index("ix_transfers_group_id", transfers.c.group_id)
sa.Index("ix_transfers_reference", transfers.c.reference)

entries = sa.Table(
    "entries",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("transfer_id", UUID(as_uuid=True), sa.ForeignKey("transfers.id"), nullable=False),
    sa.Column("account_id", UUID(as_uuid=True), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("side", sa.String(6), nullable=False),
    _fen("posted_delta_fen"),
    _fen("pending_delta_fen"),
    _fen("balance_after_fen"),
    _fen("available_after_fen"),
    _created(),
    sa.UniqueConstraint("transfer_id", "account_id"),
    sa.CheckConstraint("side IN ('debit','credit')", name="side_known"),
)
sa.Index("ix_entries_account_id_id", entries.c.account_id, entries.c.id)

# ---------------------------------------------------------------------------------------------- read models
communities = sa.Table(
    "communities",
    metadata,
    sa.Column("community_id", sa.String(64), primary_key=True),
    _ref("district_id", nullable=False),
    _ref("street_id"),
    sa.Column("name", sa.String(200), nullable=False, server_default=""),
    sa.Column("delivered_year", sa.Integer),
    sa.Column("maintenance_fund_established", sa.Boolean, nullable=False),
    # the survey community's version this row reflects: an older event never overwrites it
    sa.Column("source_version", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

households = sa.Table(
    "households",
    metadata,
    sa.Column("household_id", sa.String(64), primary_key=True),
    _ref("community_id", nullable=False),
    _ref("district_id", nullable=False),
    _ref("street_id"),
    _ref("building_id", nullable=False),
    sa.Column("building_code", sa.String(64), nullable=False, server_default=""),
    sa.Column("floor_area_m2", sa.Numeric(10, 2), nullable=False),
    sa.Column("delivered_year", sa.Integer),
    sa.Column("maintenance_fund_established", sa.Boolean, nullable=False),
    # the survey household's version this row reflects: a stale floor area never wins over a newer one
    sa.Column("source_version", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.CheckConstraint("floor_area_m2 > 0", name="area_positive"),
)
sa.Index("ix_households_community_id", households.c.community_id, households.c.building_id)

projects = sa.Table(
    "projects",
    metadata,
    sa.Column("project_id", sa.String(64), primary_key=True),
    _ref("community_id", nullable=False),
    _ref("district_id", nullable=False),
    _ref("street_id"),
    sa.Column("name", sa.String(200), nullable=False, server_default=""),
    sa.Column("account_id", UUID(as_uuid=True), sa.ForeignKey("accounts.id")),
    _created(),
)

# ---------------------------------------------------------------------------------------------- funding plans
funding_plans = sa.Table(
    "funding_plans",
    metadata,
    _id(),
    sa.Column("project_id", sa.String(64), sa.ForeignKey("projects.project_id"), nullable=False, unique=True),
    _ref("community_id", nullable=False),
    _ref("district_id", nullable=False),
    _ref("street_id"),
    sa.Column("status", sa.String(20), nullable=False),
    _fen("total_fen"),
    sa.Column("created_by", sa.String(120), nullable=False),
    sa.Column("approved_by", sa.String(120)),
    sa.Column("approved_at", sa.DateTime(timezone=True)),
    _created(),
    sa.CheckConstraint("status IN ('draft','approved')", name="status_known"),
    sa.CheckConstraint("total_fen > 0", name="total_positive"),
)

funding_plan_lines = sa.Table(
    "funding_plan_lines",
    metadata,
    sa.Column("plan_id", UUID(as_uuid=True), sa.ForeignKey("funding_plans.id"), primary_key=True),
    sa.Column("source", sa.String(40), primary_key=True),
    _fen("planned_fen"),
    sa.Column("account_id", UUID(as_uuid=True), sa.ForeignKey("accounts.id")),
    sa.CheckConstraint("planned_fen > 0", name="planned_positive"),
)

funding_milestones = sa.Table(
    "funding_milestones",
    metadata,
    sa.Column("plan_id", UUID(as_uuid=True), sa.ForeignKey("funding_plans.id"), primary_key=True),
    sa.Column("code", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, server_default=""),
    _fen("amount_fen"),
    _fen("disbursed_fen", default="0"),
    sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
    sa.CheckConstraint("disbursed_fen >= 0 AND disbursed_fen <= amount_fen", name="not_overdrawn"),
)

disbursements = sa.Table(
    "disbursements",
    metadata,
    _id(),
    sa.Column("plan_id", UUID(as_uuid=True), sa.ForeignKey("funding_plans.id"), nullable=False),
    sa.Column("milestone_code", sa.String(64), nullable=False),
    sa.Column("source", sa.String(40), nullable=False),
    _fen("amount_fen"),
    sa.Column("transfer_id", UUID(as_uuid=True), sa.ForeignKey("transfers.id"), nullable=False),
    sa.Column("created_by", sa.String(120), nullable=False),
    _created(),
    sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
)
sa.Index("ix_disbursements_plan_id", disbursements.c.plan_id)

# ---------------------------------------------------------------------------------------------- contributions
contribution_schemes = sa.Table(
    "contribution_schemes",
    metadata,
    _id(),
    _ref("community_id", nullable=False),
    _ref("district_id", nullable=False),
    _ref("street_id"),
    sa.Column("kind", sa.String(30), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("rate_fen_per_m2", sa.BigInteger),
    sa.Column("amount_fen_per_household", sa.BigInteger),
    sa.Column("pool_account_id", UUID(as_uuid=True), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("created_by", sa.String(120), nullable=False),
    _created(),
    sa.CheckConstraint("kind IN ('maintenance_fund','water_meter','emergency_repair')", name="kind_known"),
    sa.CheckConstraint("kind <> 'maintenance_fund' OR rate_fen_per_m2 >= 500", name="maintenance_rate_minimum"),
)
sa.Index("ix_contribution_schemes_community_id", contribution_schemes.c.community_id)

dues = sa.Table(
    "dues",
    metadata,
    _id(),
    sa.Column("scheme_id", UUID(as_uuid=True), sa.ForeignKey("contribution_schemes.id"), nullable=False),
    _ref("household_id", nullable=False),
    _ref("community_id", nullable=False),
    _ref("district_id", nullable=False),
    _ref("street_id"),
    _ref("building_id", nullable=False),
    sa.Column("floor_area_m2", sa.Numeric(10, 2), nullable=False),
    _fen("amount_fen"),
    _fen("paid_fen", default="0"),
    # a due of an emergency repair that was cancelled before anything was paid: nothing more is accepted on it
    sa.Column("cancelled_at", sa.DateTime(timezone=True)),
    _created(),
    sa.UniqueConstraint("scheme_id", "household_id"),
    sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
    sa.CheckConstraint("paid_fen >= 0 AND paid_fen <= amount_fen", name="not_overpaid"),
)
sa.Index("ix_dues_household_id", dues.c.household_id)
sa.Index("ix_dues_district_id_id", dues.c.district_id, dues.c.id)
sa.Index("ix_dues_community_id_id", dues.c.community_id, dues.c.id)

# A resident's intent to pay a due through a provider: it never moves money. ``expired`` is derived from
# ``expires_at`` when read (no sweeper); ``succeeded`` is set in the transaction that posts the provider's payment.
payment_intents = sa.Table(
    "payment_intents",
    metadata,
    _id(),
    sa.Column("due_id", UUID(as_uuid=True), sa.ForeignKey("dues.id"), nullable=False),
    _ref("household_id", nullable=False),
    _ref("community_id", nullable=False),
    _ref("district_id", nullable=False),
    _ref("street_id"),
    _fen("amount_fen"),
    sa.Column("method", sa.String(30), nullable=False),
    sa.Column("provider", sa.String(40), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_by", sa.String(120), nullable=False),
    sa.Column("payment_id", UUID(as_uuid=True)),
    sa.Column("provider_txn_id", sa.String(64)),
    sa.Column("paid_at", sa.DateTime(timezone=True)),
    _created(),
    sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
    sa.CheckConstraint("method IN ('wechat_pay','alipay','unionpay','bank_transfer')", name="method_known"),
    sa.CheckConstraint("status IN ('pending','succeeded')", name="status_known"),
    sa.CheckConstraint(
        "status <> 'succeeded' OR (payment_id IS NOT NULL AND provider_txn_id IS NOT NULL AND paid_at IS NOT NULL)",
        name="succeeded_with_payment",
    ),
)
sa.Index("ix_payment_intents_due_id", payment_intents.c.due_id, payment_intents.c.id)

# A posted payment and its proof: a staff receipt (number unique per community) or a provider's signed callback
# (transaction id unique per provider; an intent paid once). The unique constraints are the idempotency guarantee.
# ``source`` defaults to 'legacy' and ``community_id`` may be null only for legacy rows (expand/contract: a pod of
# the release before, still running during a rollout, writes such rows; a later migration can make them strict).
payments = sa.Table(
    "payments",
    metadata,
    _id(),
    sa.Column("due_id", UUID(as_uuid=True), sa.ForeignKey("dues.id"), nullable=False),
    _ref("community_id"),
    _fen("amount_fen"),
    sa.Column("transfer_group_id", UUID(as_uuid=True), nullable=False),
    sa.Column("paid_by", sa.String(120), nullable=False),
    sa.Column("source", sa.String(20), nullable=False, server_default="legacy"),
    sa.Column("method", sa.String(30)),
    sa.Column("receipt_number", sa.String(64)),
    sa.Column("received_at", sa.DateTime(timezone=True)),
    sa.Column("provider", sa.String(40)),
    sa.Column("provider_txn_id", sa.String(64)),
    sa.Column("intent_id", UUID(as_uuid=True), sa.ForeignKey("payment_intents.id")),
    _created(),
    sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
    sa.CheckConstraint("source IN ('receipt','provider','legacy')", name="source_known"),
    sa.CheckConstraint("source = 'legacy' OR community_id IS NOT NULL", name="community_known"),
    sa.CheckConstraint(
        "source <> 'receipt' OR (receipt_number IS NOT NULL AND method IS NOT NULL AND received_at IS NOT NULL)",
        name="receipt_proof",
    ),
    sa.CheckConstraint(
        "source <> 'provider' OR (provider IS NOT NULL AND provider_txn_id IS NOT NULL AND intent_id IS NOT NULL)",
        name="provider_proof",
    ),
    sa.UniqueConstraint("community_id", "receipt_number"),
    sa.UniqueConstraint("provider", "provider_txn_id"),
    sa.UniqueConstraint("intent_id"),
)
sa.Index("ix_payments_due_id", payments.c.due_id)

# ---------------------------------------------------------------------------------------------- emergency repairs
emergency_repairs = sa.Table(
    "emergency_repairs",
    metadata,
    _id(),
    sa.Column("origin", sa.String(30), nullable=False),
    # what the work is (the seed: 紧急维修、更新、改造 of common parts and shared facilities)
    sa.Column("kind", sa.String(20), nullable=False, server_default="repair"),
    _ref("community_id", nullable=False),
    _ref("district_id", nullable=False),
    _ref("street_id"),
    sa.Column("building_ids", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
    sa.Column("location", sa.String(200), nullable=False, server_default=""),
    sa.Column("description", sa.String(2000), nullable=False, server_default=""),
    _ref("alarm_id"),
    sa.Column("estimated_cost_fen", sa.BigInteger),
    sa.Column("eligible", sa.Boolean, nullable=False),
    sa.Column("refusal_reason", sa.String(60)),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("approved_cost_fen", sa.BigInteger),
    sa.Column("government_fen", sa.BigInteger),
    sa.Column("owners_fen", sa.BigInteger),
    sa.Column("public_income_fen", sa.BigInteger),
    sa.Column("households_fen", sa.BigInteger),
    sa.Column("use_public_income", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("requested_by", sa.String(120), nullable=False),
    sa.Column("approved_by", sa.String(120)),
    sa.Column("approved_at", sa.DateTime(timezone=True)),
    sa.Column("paid_at", sa.DateTime(timezone=True)),
    sa.Column("transfer_group_id", UUID(as_uuid=True)),
    # approved with its fund and public-income shares held as pending transfers (False: approved before 0006)
    sa.Column("reserved", sa.Boolean, nullable=False, server_default=sa.false()),
    # the contribution scheme whose dues are the households' shares (kind emergency_repair)
    sa.Column("dues_scheme_id", UUID(as_uuid=True), sa.ForeignKey("contribution_schemes.id")),
    sa.Column("closed_by", sa.String(120)),
    sa.Column("closed_at", sa.DateTime(timezone=True)),
    sa.Column("close_reason", sa.String(500)),
    _created(),
    sa.CheckConstraint(
        "status IN ('requested','refused','approved','paid','rejected','cancelled')", name="status_known"
    ),
    sa.CheckConstraint("kind IN ('repair','renewal','renovation')", name="kind_known"),
    sa.CheckConstraint(
        "status NOT IN ('rejected','cancelled') OR (closed_at IS NOT NULL AND closed_by IS NOT NULL)", name="closed"
    ),
    sa.CheckConstraint("eligible OR status = 'refused'", name="refused_when_ineligible"),
    sa.CheckConstraint(
        "status NOT IN ('approved','paid') OR (approved_cost_fen > 0 AND government_fen + owners_fen = "
        "approved_cost_fen AND public_income_fen + households_fen = owners_fen AND public_income_fen >= 0 "
        "AND households_fen >= 0 AND government_fen >= 0)",
        name="split_exact",
    ),
    sa.CheckConstraint("status <> 'paid' OR (paid_at IS NOT NULL AND transfer_group_id IS NOT NULL)", name="paid"),
)
sa.Index("ix_emergency_repairs_district_paid", emergency_repairs.c.district_id, emergency_repairs.c.paid_at)
sa.Index("ix_emergency_repairs_community_id", emergency_repairs.c.community_id)

repair_household_shares = sa.Table(
    "repair_household_shares",
    metadata,
    sa.Column("request_id", UUID(as_uuid=True), sa.ForeignKey("emergency_repairs.id"), primary_key=True),
    sa.Column("household_id", sa.String(64), primary_key=True),
    sa.Column("floor_area_m2", sa.Numeric(10, 2), nullable=False),
    _fen("amount_fen"),
    sa.CheckConstraint("amount_fen >= 0", name="amount_non_negative"),
)

# ---------------------------------------------------------------------------------------------- payback
payback_analyses = sa.Table(
    "payback_analyses",
    metadata,
    _id(),
    sa.Column("title", sa.String(200), nullable=False),
    _ref("district_id"),
    _ref("community_id"),
    sa.Column("created_by", sa.String(120), nullable=False),
    sa.Column("input", JSONB, nullable=False),
    sa.Column("result", JSONB, nullable=False),
    _created(),
)
