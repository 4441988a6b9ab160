"""Table definitions used by the store's Core queries (the migrations create the same tables).

Per-trader keys: order and fill ids are only required to be unique within a trader, since engines
number them per run. Indexes serve keyset pagination: (trader_id, ts, id) in the listing order.
"""

from __future__ import annotations

from sqlalchemy import (
                        JSON,
                        BigInteger,
                        Column,
                        DateTime,
                        Float,
                        ForeignKey,
                        Index,
                        Integer,
                        MetaData,
                        String,
                        Table,
                        Text,
                        UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB

from nofx.persistence.errors import InvalidTraderIdError
from nofx.persistence.types import Money, Precise

metadata = MetaData()

# SQLite only auto-increments an "INTEGER PRIMARY KEY"; PostgreSQL gets a BIGINT identity.
SeqType = BigInteger().with_variant(Integer(), "sqlite")
JsonType = JSON().with_variant(JSONB(), "postgresql")

ID = 64  # length of trader / order / fill id columns


def check_trader_id(trader_id: str) -> str:
    """``trader_id`` if every backend can store it unchanged: 1 to :data:`ID` printable characters, no
    space at either end. PostgreSQL would refuse a longer id, SQLite would silently keep it: the same limit
    on both. Raises :class:`InvalidTraderIdError`."""
    if not trader_id or trader_id != trader_id.strip():
        raise InvalidTraderIdError("trader id must be non-empty, without spaces at either end",
                                   trader=repr(trader_id))
    if len(trader_id) > ID:
        raise InvalidTraderIdError(f"trader id is longer than {ID} characters", trader=trader_id[:ID] + "...",
                                   length=len(trader_id))
    if not trader_id.isprintable():
        raise InvalidTraderIdError("trader id holds control characters", trader=repr(trader_id))
    return trader_id


traders = Table(
    "traders", metadata,
    Column("trader_id", String(ID), primary_key=True),
    Column("market", String(8), nullable=False),
    Column("initial_cash", Money(), nullable=False),
    Column("config_json", Text, nullable=False),
    Column("created", DateTime, nullable=False),
)

accounts = Table(
    "accounts", metadata,
    Column("trader_id", String(ID), ForeignKey("traders.trader_id", ondelete="CASCADE"), primary_key=True),
    Column("cash", Money(), nullable=False),
    Column("updated", DateTime, nullable=False),
)

orders = Table(
    "orders", metadata,
    Column("trader_id", String(ID), ForeignKey("traders.trader_id", ondelete="CASCADE"), primary_key=True),
    Column("order_id", String(ID), primary_key=True),
    Column("symbol", String(16), nullable=False),
    Column("side", String(8), nullable=False),
    Column("order_type", String(16), nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("limit_price", Money(), nullable=True),
    Column("tif", String(8), nullable=False),
    Column("client_order_id", String(ID), nullable=True),
    Column("tag", Text, nullable=False, default=""),
    Column("status", String(24), nullable=False),
    Column("filled_qty", BigInteger, nullable=False),
    Column("avg_fill_price", Precise(), nullable=False),
    Column("fees", Money(), nullable=False),
    Column("reject_code", String(64), nullable=False, default=""),
    Column("reject_reason", Text, nullable=False, default=""),
    Column("parent_id", String(ID), nullable=True),
    Column("created", DateTime, nullable=False),
    Column("updated", DateTime, nullable=False),
    Column("last_seq", BigInteger, nullable=False),
    UniqueConstraint("trader_id", "client_order_id", name="uq_orders_client_order_id"),
    Index("ix_orders_keyset", "trader_id", "created", "order_id"),
)

order_events = Table(
    "order_events", metadata,
    Column("seq", SeqType, primary_key=True, autoincrement=True),
    Column("trader_id", String(ID), ForeignKey("traders.trader_id", ondelete="CASCADE"), nullable=False),
    Column("order_id", String(ID), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("ts", DateTime, nullable=False),
    Column("payload", JsonType, nullable=False),
    Index("ix_order_events_trader_seq", "trader_id", "seq"),
    Index("ix_order_events_order", "trader_id", "order_id", "seq"),
)

fills = Table(
    "fills", metadata,
    Column("trader_id", String(ID), ForeignKey("traders.trader_id", ondelete="CASCADE"), primary_key=True),
    Column("fill_id", String(ID), primary_key=True),
    Column("order_id", String(ID), nullable=False),
    Column("symbol", String(16), nullable=False),
    Column("side", String(8), nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("price", Money(), nullable=False),
    Column("fee", Money(), nullable=False),
    Column("ts", DateTime, nullable=False),
    Column("seq", BigInteger, nullable=True),  # the OrderFilled event's seq; NULL for bulk-loaded history
    Column("realised_pnl", Money(strict=False), nullable=True),  # added by revision 0002
    Index("ix_fills_keyset", "trader_id", "ts", "fill_id"),
    Index("ix_fills_order", "trader_id", "order_id"),
    Index("ix_fills_symbol", "trader_id", "symbol", "ts"),
)

positions = Table(
    "positions", metadata,
    Column("trader_id", String(ID), ForeignKey("traders.trader_id", ondelete="CASCADE"), primary_key=True),
    Column("symbol", String(16), primary_key=True),
    Column("quantity", BigInteger, nullable=False),
    Column("avg_cost", Precise(), nullable=False),
    Column("realised_pnl", Precise(), nullable=False),
    Column("updated", DateTime, nullable=False),
)

equity_snapshots = Table(
    "equity_snapshots", metadata,
    Column("id", SeqType, primary_key=True, autoincrement=True),
    Column("trader_id", String(ID), ForeignKey("traders.trader_id", ondelete="CASCADE"), nullable=False),
    Column("ts", DateTime, nullable=False),
    Column("equity", Money(strict=False), nullable=False),
    Column("cash", Money(), nullable=False),
    Column("cursor", BigInteger, nullable=False),
    Column("event_seq", BigInteger, nullable=False),  # last order_events.seq of the trader when taken
    Index("ix_equity_snapshots_trader", "trader_id", "id"),
)

# One row per trader while a process runs it (see nofx.persistence.lease); times are UTC.
trader_leases = Table(
    "trader_leases", metadata,
    Column("trader_id", String(ID), primary_key=True),
    Column("owner", String(64), nullable=False),  # a random token of the holding lease object
    Column("pid", Integer, nullable=False),
    Column("host", String(255), nullable=False),
    Column("since", DateTime, nullable=False),
    Column("heartbeat", DateTime, nullable=False),
)

# AI traders' decision log (revision 0005): prompts once by hash, one row per decision cycle
ai_prompts = Table(
    "ai_prompts", metadata,
    Column("prompt_hash", String(64), primary_key=True),
    Column("messages", Text, nullable=False),
    Column("created", DateTime, nullable=False),
)

ai_decisions = Table(
    "ai_decisions", metadata,
    Column("id", SeqType, primary_key=True, autoincrement=True),
    Column("trader_id", String(ID), ForeignKey("traders.trader_id", ondelete="CASCADE"), nullable=False),
    Column("cycle", BigInteger, nullable=False),
    Column("cursor", BigInteger, nullable=False),  # clock slice of the cycle
    Column("ts", DateTime, nullable=False),
    Column("status", String(16), nullable=False),  # ok | repaired | failed
    Column("mode", String(24), nullable=False),  # normal | reduce_only | paused_daily_loss
    Column("error", Text, nullable=True),
    Column("model", String(128), nullable=False),
    Column("decisions", Text, nullable=False),  # JSON: as the model gave them
    Column("outcomes", Text, nullable=False),  # JSON: limits' verdicts and client order ids
    Column("calls", Text, nullable=False),  # JSON: per call role, prompt hash, raw reply, latency, tokens, cost
    Column("latency_ms", Float, nullable=False),
    Column("prompt_tokens", BigInteger, nullable=False),
    Column("completion_tokens", BigInteger, nullable=False),
    Column("cost", Precise(), nullable=False),
    Column("memory", Text, nullable=False),  # JSON: the trader's memory after the cycle (resume)
    UniqueConstraint("trader_id", "cycle", name="uq_ai_decisions_cycle"),
    Index("ix_ai_decisions_trader_ts", "trader_id", "ts", "id"),
)

# The HTTP API's tables live in the same metadata (one schema, one migration history).
from nofx.persistence import api_schema as _api_schema  # noqa: E402,F401  (registers its tables)
from nofx.persistence import competition_schema as _competition_schema  # noqa: E402,F401  (the arena's tables)
