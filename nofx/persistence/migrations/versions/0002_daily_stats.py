"""Per-fill realised PnL and the daily_trading_stats view.

PostgreSQL gets a MATERIALIZED VIEW with a UNIQUE index on (trader_id, day), which is what
``REFRESH MATERIALIZED VIEW CONCURRENTLY`` requires (readers are never blocked by a refresh).
SQLite has no materialized views; it gets a plain view over the same query (always current; its
money sums go through REAL there, so exact figures come from ``nofx.persistence.daily_stats``).

Revision ID: 0002_daily_stats
Revises: 0001_initial
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from nofx.persistence.types import Money

revision = "0002_daily_stats"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

_PG_VIEW = """
CREATE MATERIALIZED VIEW daily_trading_stats AS
SELECT f.trader_id AS trader_id,
       CAST(f.ts AS DATE) AS day,
       COUNT(*) AS trade_count,
       SUM(f.quantity) AS volume,
       SUM(f.price * f.quantity) AS turnover,
       SUM(f.fee) AS fees,
       COALESCE(SUM(f.realised_pnl), 0) AS realised_pnl
FROM fills AS f
GROUP BY f.trader_id, CAST(f.ts AS DATE)
WITH DATA
"""

_SQLITE_VIEW = """
CREATE VIEW daily_trading_stats AS
SELECT f.trader_id AS trader_id,
       date(f.ts) AS day,
       COUNT(*) AS trade_count,
       SUM(f.quantity) AS volume,
       SUM(CAST(f.price AS REAL) * f.quantity) AS turnover,
       SUM(CAST(f.fee AS REAL)) AS fees,
       COALESCE(SUM(CAST(f.realised_pnl AS REAL)), 0) AS realised_pnl
FROM fills AS f
GROUP BY f.trader_id, date(f.ts)
"""


def upgrade() -> None:
    op.add_column("fills", sa.Column("realised_pnl", Money(strict=False), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_VIEW)
        op.execute("CREATE UNIQUE INDEX ux_daily_trading_stats ON daily_trading_stats (trader_id, day)")
    else:
        op.execute(_SQLITE_VIEW)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP MATERIALIZED VIEW IF EXISTS daily_trading_stats")
    else:
        op.execute("DROP VIEW IF EXISTS daily_trading_stats")
    with op.batch_alter_table("fills") as batch:
        batch.drop_column("realised_pnl")
