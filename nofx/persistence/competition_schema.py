"""Tables of the arena (``nofx compete``; revision 0006), in the ledger's metadata.

``competitions``: one row per competition: ``competition_id``, ``name``, ``status`` (running | finished |
failed), ``created`` / ``started`` / ``finished`` (UTC), ``config_json`` (the whole competition config as
run), ``data_hash`` (SHA-256 of the bars replayed), ``code_version`` (``git describe`` or the package
version), ``runs``, ``cursor`` (last replay slice every trader finished), ``results_json`` (the last
scoring: leaderboard, intervals, pairwise tests; null until scored).

``competition_traders``: one row per trader and run: ``competition_id``, ``trader_id`` (its ledger in
``traders``/``orders``/``fills``/``equity_snapshots``, decisions in ``ai_decisions``), ``name``, ``kind``
(ai | baseline), ``run_index``, ``model``, ``seed``, ``temperature``, ``metrics_json`` (final metrics of
the last scoring), ``seen_hash`` (chained hash of the market data the trader was shown, step by step).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Float, ForeignKey, Index, Integer, String, Table, Text

from nofx.persistence.schema import ID, metadata

competitions = Table(
    "competitions", metadata,
    Column("competition_id", String(ID), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created", DateTime, nullable=False),
    Column("started", DateTime, nullable=True),
    Column("finished", DateTime, nullable=True),
    Column("config_json", Text, nullable=False),
    Column("data_hash", String(64), nullable=False),
    Column("code_version", String(64), nullable=False),
    Column("runs", Integer, nullable=False),
    Column("cursor", BigInteger, nullable=False),
    Column("results_json", Text, nullable=True),
)

competition_traders = Table(
    "competition_traders", metadata,
    Column("competition_id", String(ID), ForeignKey("competitions.competition_id", ondelete="CASCADE"),
           primary_key=True),
    Column("trader_id", String(ID), ForeignKey("traders.trader_id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("run_index", Integer, nullable=False),
    Column("model", String(128), nullable=True),
    Column("seed", BigInteger, nullable=True),
    Column("temperature", Float, nullable=True),
    Column("metrics_json", Text, nullable=True),
    Column("seen_hash", String(64), nullable=True),
    Index("ix_competition_traders_trader", "trader_id"),
)
