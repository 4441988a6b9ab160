"""AI traders' decision log: prompts stored once by hash, and one row per decision cycle (raw replies,
parsed decisions, risk outcome with the client order ids that link to orders and fills, latency, tokens,
cost, and the trader's memory after the cycle, from which a paper run resumes).

Revision ID: 0005_ai_decisions
Revises: 0004_trader_leases
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from nofx.persistence.types import Precise

revision = "0005_ai_decisions"
down_revision = "0004_trader_leases"
branch_labels = None
depends_on = None

ID = 64


def upgrade() -> None:
    op.create_table(
        "ai_prompts",
        sa.Column("prompt_hash", sa.String(64), primary_key=True),
        sa.Column("messages", sa.Text, nullable=False),
        sa.Column("created", sa.DateTime, nullable=False),
    )
    op.create_table(
        "ai_decisions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("trader_id", sa.String(ID), sa.ForeignKey("traders.trader_id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("cycle", sa.BigInteger, nullable=False),
        sa.Column("cursor", sa.BigInteger, nullable=False),
        sa.Column("ts", sa.DateTime, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("mode", sa.String(24), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("decisions", sa.Text, nullable=False),
        sa.Column("outcomes", sa.Text, nullable=False),
        sa.Column("calls", sa.Text, nullable=False),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("prompt_tokens", sa.BigInteger, nullable=False),
        sa.Column("completion_tokens", sa.BigInteger, nullable=False),
        sa.Column("cost", Precise(), nullable=False),
        sa.Column("memory", sa.Text, nullable=False),
        sa.UniqueConstraint("trader_id", "cycle", name="uq_ai_decisions_cycle"),
    )
    op.create_index("ix_ai_decisions_trader_ts", "ai_decisions", ["trader_id", "ts", "id"])


def downgrade() -> None:
    op.drop_index("ix_ai_decisions_trader_ts", table_name="ai_decisions")
    op.drop_table("ai_decisions")
    op.drop_table("ai_prompts")
