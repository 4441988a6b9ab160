"""A real local mock model server (HTTP, OpenAI protocol) shared by the AI tests, and config helpers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nofx.ai.config import AIRunConfig
from nofx.ai.mock_server import MockServer, MockState


@pytest.fixture(scope="session")
def mock_llm():
    with MockServer(state=MockState(timeout_sleep=1.5, retry_after=0.05)) as srv:
        yield srv


def ai_config(url: str, tmp: Path, *, start: str = "2020-02-01", end: str = "2020-04-30",
              symbols: Any = ("600519.SH", "000001.SZ", "300750.SZ", "601318.SH", "000858.SZ", "600036.SH"),
              **trader: Any) -> AIRunConfig:
    t = {"id": "t-test", "base_url": url, "decision_every": 3, "cache": "off", "cache_dir": str(tmp / "cache"),
         "max_retries": 1, "backoff_s": 0.01, "timeout_s": 10, **trader}
    return AIRunConfig.model_validate({
        "trader": t, "data": {"symbols": list(symbols) if not isinstance(symbols, str) else symbols},
        "backtest": {"start": start, "end": end, "rules": "cn", "warmup_bars": 30}})


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ai_db_url(request, tmp_path) -> str:
    """A fresh ledger database: SQLite, and PostgreSQL when a server answers (skips otherwise)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    from tests.persistence.conftest import create_pg_database, drop_pg_database

    url = create_pg_database()
    request.addfinalizer(lambda: drop_pg_database(url))
    return url


def ledger_state(url: str, trader_id: str) -> dict:
    """Everything a run leaves in the ledger and the decision log, comparable across runs."""
    from nofx.persistence.decisions import DecisionLog
    from nofx.persistence.store import SqlLedgerStore

    with SqlLedgerStore(url) as s:
        orders = s.list_orders(trader_id, limit=10_000).items
        fills = s.all_fills(trader_id)
        rows = DecisionLog(s).rows(trader_id)
        return {
            "orders": [(o.order_id, o.client_order_id, o.symbol, o.side, o.quantity, o.status, o.filled_qty,
                        o.avg_fill_price, o.fees, o.reject_code) for o in orders],
            "fills": [(f.fill_id, f.order_id, f.quantity, f.price, f.fee, f.ts) for f in fills],
            "cash": s.cash(trader_id),
            "decisions": [(r.cycle, r.cursor, r.status, r.decisions, r.outcomes) for r in rows],
        }
