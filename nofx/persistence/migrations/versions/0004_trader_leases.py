"""Per-trader leases: the row a running process holds so that no second process writes the same trader.

Revision ID: 0004_trader_leases
Revises: 0003_api
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_trader_leases"
down_revision = "0003_api"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # No foreign key to traders: the lease is taken before a new trader's row exists (two processes
    # starting the same new trader must not both create it).
    op.create_table(
        "trader_leases",
        sa.Column("trader_id", sa.String(64), primary_key=True),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("since", sa.DateTime, nullable=False),
        sa.Column("heartbeat", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("trader_leases")
