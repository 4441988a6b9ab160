"""Tables of the HTTP API: users, refresh tokens, API keys, user-owned traders and backtests.

They share the ledger's ``metadata`` (one database, one Alembic history: revision 0003 creates them). A
trader's ``trader_id`` is also its ledger trader id once it has been started (the ledger's ``traders``
row is created by the paper session, so deleting an API trader never rewrites ledger history).
Secrets are never stored: passwords as argon2 hashes, refresh tokens and API keys as SHA-256 digests of
high-entropy random strings (a slow hash buys nothing for 256-bit secrets and would cost every request).
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Float, ForeignKey, Index, String, Table, Text

from nofx.persistence.schema import ID, metadata

users = Table(
    "users", metadata,
    Column("user_id", String(ID), primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created", DateTime, nullable=False),
)

refresh_tokens = Table(
    "refresh_tokens", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", String(ID), ForeignKey("users.user_id", ondelete="CASCADE"), nullable=False),
    # a rotated token's family: reuse of a revoked member revokes the whole family (stolen-token signal)
    Column("family", String(ID), nullable=False),
    Column("expires", DateTime, nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
    Column("created", DateTime, nullable=False),
    Index("ix_refresh_tokens_family", "family"),
)

api_keys = Table(
    "api_keys", metadata,
    Column("key_id", String(ID), primary_key=True),
    Column("user_id", String(ID), ForeignKey("users.user_id", ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("prefix", String(16), nullable=False),  # shown in listings so a user can tell keys apart
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("revoked", Boolean, nullable=False, default=False),
    Column("created", DateTime, nullable=False),
    Column("last_used", DateTime, nullable=True),
    Index("ix_api_keys_user", "user_id"),
)

api_traders = Table(
    "api_traders", metadata,
    Column("trader_id", String(ID), primary_key=True),
    Column("owner_id", String(ID), ForeignKey("users.user_id", ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("kind", String(16), nullable=False),  # "strategy" | "ai"
    Column("config_json", Text, nullable=False),
    # the desired state: "running" traders are resumed from their ledger when the server starts
    Column("desired", String(16), nullable=False),
    Column("created", DateTime, nullable=False),
    Column("updated", DateTime, nullable=False),
    Index("ix_api_traders_owner", "owner_id", "created"),
)

backtests = Table(
    "backtests", metadata,
    Column("backtest_id", String(ID), primary_key=True),
    Column("owner_id", String(ID), ForeignKey("users.user_id", ondelete="CASCADE"), nullable=False),
    Column("config_json", Text, nullable=False),
    Column("status", String(16), nullable=False),  # queued | running | done | failed
    Column("progress", Float, nullable=False, default=0.0),
    Column("metrics_json", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("report_path", Text, nullable=True),
    Column("created", DateTime, nullable=False),
    Column("finished", DateTime, nullable=True),
    Index("ix_backtests_owner", "owner_id", "created"),
)

__all__ = ["users", "refresh_tokens", "api_keys", "api_traders", "backtests"]
