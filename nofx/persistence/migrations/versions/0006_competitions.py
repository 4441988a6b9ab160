"""The arena's tables: competitions (config, data hash, code version, status, times, results) and their
traders (one ledger each; name, kind, run, model, seed, temperature, final metrics). See
``nofx.persistence.competition_schema``.

Revision ID: 0006_competitions
Revises: 0005_ai_decisions
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_competitions"
down_revision = "0005_ai_decisions"
branch_labels = None
depends_on = None

ID = 64


def upgrade() -> None:
    op.create_table(
        "competitions",
        sa.Column("competition_id", sa.String(ID), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created", sa.DateTime, nullable=False),
        sa.Column("started", sa.DateTime, nullable=True),
        sa.Column("finished", sa.DateTime, nullable=True),
        sa.Column("config_json", sa.Text, nullable=False),
        sa.Column("data_hash", sa.String(64), nullable=False),
        sa.Column("code_version", sa.String(64), nullable=False),
        sa.Column("runs", sa.Integer, nullable=False),
        sa.Column("cursor", sa.BigInteger, nullable=False),
        sa.Column("results_json", sa.Text, nullable=True),
    )
    op.create_table(
        "competition_traders",
        sa.Column("competition_id", sa.String(ID),
                  sa.ForeignKey("competitions.competition_id", ondelete="CASCADE"), primary_key=True),
        sa.Column("trader_id", sa.String(ID), sa.ForeignKey("traders.trader_id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("run_index", sa.Integer, nullable=False),
        sa.Column("model", sa.String(128), nullable=True),
        sa.Column("seed", sa.BigInteger, nullable=True),
        sa.Column("temperature", sa.Float, nullable=True),
        sa.Column("metrics_json", sa.Text, nullable=True),
        sa.Column("seen_hash", sa.String(64), nullable=True),
    )
    op.create_index("ix_competition_traders_trader", "competition_traders", ["trader_id"])


def downgrade() -> None:
    op.drop_index("ix_competition_traders_trader", table_name="competition_traders")
    op.drop_table("competition_traders")
    op.drop_table("competitions")
