"""Arena tests: the real local mock model server (HTTP, OpenAI protocol), real ledger databases, the bundled
bars. ``competition(...)`` builds a small competition config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nofx.arena.config import CompetitionConfig, competition_from_mapping
from tests.ai.conftest import mock_llm  # noqa: F401  (shared fixture)

SYMBOLS = ("600519.SH", "000001.SZ", "300750.SZ", "601318.SH", "000858.SZ", "600036.SH")


def competition(url: str, tmp: Path, *, ai: list[dict[str, Any]] | None = None,
                baselines: list[dict[str, Any]] | None = None, cid: str = "t", runs: int = 1,
                start: str = "2020-02-03", end: str = "2020-03-31", **comp: Any) -> CompetitionConfig:
    defaults = {"base_url": url, "model": "mock-momentum", "decision_every": 3, "cache_dir": str(tmp / "cache"),
                "max_retries": 1, "backoff_s": 0.01, "timeout_s": 10, "temperature": 0.7, "seed": 3,
                "prices": {"mock-momentum": {"input_per_mtok": 2, "output_per_mtok": 8}}}
    return competition_from_mapping({
        "competition": {"id": cid, "runs": runs, "bootstrap": 200, **comp},
        "ai_defaults": defaults,
        "ai": ai if ai is not None else [{"name": "mom"}, {"name": "con", "style": "contrarian: buy oversold"}],
        "baselines": baselines if baselines is not None else [{"name": "dma", "strategy": "dual_ma"},
                                                              {"name": "bh", "strategy": "buy_and_hold"}],
        "data": {"symbols": list(SYMBOLS)},
        "backtest": {"start": start, "end": end, "rules": "cn", "warmup_bars": 30, "benchmark": "000300.SH"},
    })


def arena_state(url: str, competition_id: str) -> dict[str, dict]:
    """Every trader's ledger and decision log of a competition, keyed by trader id."""
    from nofx.persistence.competitions import CompetitionStore
    from nofx.persistence.store import SqlLedgerStore
    from tests.ai.conftest import ledger_state

    with SqlLedgerStore(url) as s:
        ids = [t.trader_id for t in CompetitionStore(s).traders(competition_id)]
    out = {}
    for tid in ids:
        st = ledger_state(url, tid)
        with SqlLedgerStore(url) as s:
            from nofx.persistence.competitions import equity_curve

            st["equity"] = [(str(ts), str(eq), cur) for ts, eq, cur in equity_curve(s, tid)]
        out[tid] = st
    return out


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.slow])])
def arena_db_url(request, tmp_path) -> str:
    """A fresh ledger database: SQLite; PostgreSQL (slow-marked: a competition there takes > 10 s)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'arena.db'}"
    from tests.persistence.conftest import create_pg_database, drop_pg_database

    url = create_pg_database()
    request.addfinalizer(lambda: drop_pg_database(url))
    return url
