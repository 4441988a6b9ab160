"""Initial ledger schema: traders, accounts, orders, order_events, fills, positions, equity_snapshots.

Revision ID: 0001_initial
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from nofx.persistence.types import Money, Precise

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

ID = 64


def _seq() -> sa.types.TypeEngine:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "traders",
        sa.Column("trader_id", sa.String(ID), primary_key=True),
        sa.Column("market", sa.String(8), nullable=False),
        sa.Column("initial_cash", Money(), nullable=False),
        sa.Column("config_json", sa.Text, nullable=False),
        sa.Column("created", sa.DateTime, nullable=False),
    )
    op.create_table(
        "accounts",
        sa.Column("trader_id", sa.String(ID), sa.ForeignKey("traders.trader_id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("cash", Money(), nullable=False),
        sa.Column("updated", sa.DateTime, nullable=False),
    )
    op.create_table(
        "orders",
        sa.Column("trader_id", sa.String(ID), sa.ForeignKey("traders.trader_id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("order_id", sa.String(ID), primary_key=True),
        sa.Column("symbol", sa.String(16), nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("order_type", sa.String(16), nullable=False),
        sa.Column("quantity", sa.BigInteger, nullable=False),
        sa.Column("limit_price", Money(), nullable=True),
        sa.Column("tif", sa.String(8), nullable=False),
        sa.Column("client_order_id", sa.String(ID), nullable=True),
        sa.Column("tag", sa.Text, nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("filled_qty", sa.BigInteger, nullable=False),
        sa.Column("avg_fill_price", Precise(), nullable=False),
        sa.Column("fees", Money(), nullable=False),
        sa.Column("reject_code", sa.String(64), nullable=False),
        sa.Column("reject_reason", sa.Text, nullable=False),
        sa.Column("parent_id", sa.String(ID), nullable=True),
        sa.Column("created", sa.DateTime, nullable=False),
        sa.Column("updated", sa.DateTime, nullable=False),
        sa.Column("last_seq", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("trader_id", "client_order_id", name="uq_orders_client_order_id"),
    )
    op.create_index("ix_orders_keyset", "orders", ["trader_id", "created", "order_id"])
    op.create_table(
        "order_events",
        sa.Column("seq", _seq(), primary_key=True, autoincrement=True),
        sa.Column("trader_id", sa.String(ID), sa.ForeignKey("traders.trader_id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("order_id", sa.String(ID), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("ts", sa.DateTime, nullable=False),
        sa.Column("payload", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
    )
    op.create_index("ix_order_events_trader_seq", "order_events", ["trader_id", "seq"])
    op.create_index("ix_order_events_order", "order_events", ["trader_id", "order_id", "seq"])
    op.create_table(
        "fills",
        sa.Column("trader_id", sa.String(ID), sa.ForeignKey("traders.trader_id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("fill_id", sa.String(ID), primary_key=True),
        sa.Column("order_id", sa.String(ID), nullable=False),
        sa.Column("symbol", sa.String(16), nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("quantity", sa.BigInteger, nullable=False),
        sa.Column("price", Money(), nullable=False),
        sa.Column("fee", Money(), nullable=False),
        sa.Column("ts", sa.DateTime, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_fills_keyset", "fills", ["trader_id", "ts", "fill_id"])
    op.create_index("ix_fills_order", "fills", ["trader_id", "order_id"])
    op.create_index("ix_fills_symbol", "fills", ["trader_id", "symbol", "ts"])
    op.create_table(
        "positions",
        sa.Column("trader_id", sa.String(ID), sa.ForeignKey("traders.trader_id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("symbol", sa.String(16), primary_key=True),
        sa.Column("quantity", sa.BigInteger, nullable=False),
        sa.Column("avg_cost", Precise(), nullable=False),
        sa.Column("realised_pnl", Precise(), nullable=False),
        sa.Column("updated", sa.DateTime, nullable=False),
    )
    op.create_table(
        "equity_snapshots",
        sa.Column("id", _seq(), primary_key=True, autoincrement=True),
        sa.Column("trader_id", sa.String(ID), sa.ForeignKey("traders.trader_id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("ts", sa.DateTime, nullable=False),
        sa.Column("equity", Money(strict=False), nullable=False),
        sa.Column("cash", Money(), nullable=False),
        sa.Column("cursor", sa.BigInteger, nullable=False),
        sa.Column("event_seq", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_equity_snapshots_trader", "equity_snapshots", ["trader_id", "id"])


def downgrade() -> None:
    for table in ("equity_snapshots", "positions", "fills", "order_events", "orders", "accounts", "traders"):
        op.drop_table(table)
