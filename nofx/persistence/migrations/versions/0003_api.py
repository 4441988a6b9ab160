"""Tables of the HTTP API: users, refresh_tokens, api_keys, api_traders, backtests.

Revision ID: 0003_api
Revises: 0002_daily_stats
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_api"
down_revision = "0002_daily_stats"
branch_labels = None
depends_on = None

ID = 64


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("user_id", sa.String(ID), primary_key=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("is_admin", sa.Boolean, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("created", sa.DateTime, nullable=False),
    )
    op.create_table(
        "refresh_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(ID), sa.ForeignKey("users.user_id", ondelete="CASCADE"), nullable=False),
        sa.Column("family", sa.String(ID), nullable=False),
        sa.Column("expires", sa.DateTime, nullable=False),
        sa.Column("revoked", sa.Boolean, nullable=False),
        sa.Column("created", sa.DateTime, nullable=False),
    )
    op.create_index("ix_refresh_tokens_family", "refresh_tokens", ["family"])
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(ID), primary_key=True),
        sa.Column("user_id", sa.String(ID), sa.ForeignKey("users.user_id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("revoked", sa.Boolean, nullable=False),
        sa.Column("created", sa.DateTime, nullable=False),
        sa.Column("last_used", sa.DateTime, nullable=True),
    )
    op.create_index("ix_api_keys_user", "api_keys", ["user_id"])
    op.create_table(
        "api_traders",
        sa.Column("trader_id", sa.String(ID), primary_key=True),
        sa.Column("owner_id", sa.String(ID), sa.ForeignKey("users.user_id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("config_json", sa.Text, nullable=False),
        sa.Column("desired", sa.String(16), nullable=False),
        sa.Column("created", sa.DateTime, nullable=False),
        sa.Column("updated", sa.DateTime, nullable=False),
    )
    op.create_index("ix_api_traders_owner", "api_traders", ["owner_id", "created"])
    op.create_table(
        "backtests",
        sa.Column("backtest_id", sa.String(ID), primary_key=True),
        sa.Column("owner_id", sa.String(ID), sa.ForeignKey("users.user_id", ondelete="CASCADE"), nullable=False),
        sa.Column("config_json", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("progress", sa.Float, nullable=False),
        sa.Column("metrics_json", sa.Text, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("report_path", sa.Text, nullable=True),
        sa.Column("created", sa.DateTime, nullable=False),
        sa.Column("finished", sa.DateTime, nullable=True),
    )
    op.create_index("ix_backtests_owner", "backtests", ["owner_id", "created"])


def downgrade() -> None:
    for name in ("backtests", "api_traders", "api_keys", "refresh_tokens", "users"):
        op.drop_table(name)
