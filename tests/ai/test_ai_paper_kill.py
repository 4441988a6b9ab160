"""The README's AI trader (``examples/ai_trader.toml``) through the real CLI in real processes:

1. ``nofx ai backtest`` (fills the reply cache);
2. ``nofx ai paper`` uninterrupted (its own database);
3. ``nofx ai paper`` killed with SIGKILL mid-run, then ``nofx ai paper --resume`` (another database).

The killed-and-resumed ledger equals the uninterrupted one in every column of every table (the decision
log included: both runs answer every prompt from the cache, so latencies, attempts and token counts are
deterministic; only ``traders.created``, a wall-clock stamp, is left out). Both paper runs ask exactly the
backtest's prompts (no model call), and their fills equal the backtest's: same day, symbol, side,
quantity and price for each. Only the order of fills within one slice differs: the backtest's bar
exchange matches orders in submission order, the paper venue sweeps its resting orders symbol by symbol,
so order and fill ids are numbered differently; the multiset of fills per day is compared.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from nofx.persistence.decisions import DecisionLog
from nofx.persistence.ledger_check import check_ledger
from nofx.persistence.store import SqlLedgerStore
from tests.live.ledger_tables import first_difference, stored_tables

REPO = Path(__file__).resolve().parents[2]
TRADER = "ai-momentum"


def _write_config(path: Path, url: str, cache: Path) -> None:
    """The shipped example trader (the README's run), pointed at the test's mock server and cache."""
    text = (REPO / "examples" / "ai_trader.toml").read_text()
    text = text.replace('base_url = "http://127.0.0.1:8765/v1"', f'base_url = "{url}"')
    text = text.replace('cache_dir = ".nofx/ai_cache"', f'cache_dir = "{cache}"')
    path.write_text(text)


def _nofx(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    out = subprocess.run([sys.executable, "-m", "nofx.cli.main", *args], cwd=REPO, capture_output=True, text=True,
                         timeout=timeout)
    assert out.returncode == 0, out.stderr[-2000:]
    return out


def _decisions(url: str) -> int:
    with SqlLedgerStore(url) as s, s._read() as conn:
        return conn.exec_driver_sql(f"SELECT COUNT(*) FROM ai_decisions WHERE trader_id = '{TRADER}'").scalar()


def _fills(url: str) -> Counter:
    with SqlLedgerStore(url) as s:
        return Counter((pd.Timestamp(f.ts).date().isoformat(), f.symbol, f.side.value, f.quantity,
                        Decimal(f.price).normalize()) for f in s.all_fills(TRADER))


@pytest.mark.slow
def test_killed_paper_run_equals_uninterrupted_and_the_backtest(mock_llm, tmp_path) -> None:
    cfg = tmp_path / "trader.toml"
    _write_config(cfg, mock_llm.url, tmp_path / "cache")
    bt = _nofx("ai", "backtest", "--config", str(cfg), "--json", str(tmp_path / "bt.json"), "--no-progress")
    doc = json.loads((tmp_path / "bt.json").read_text())
    assert doc["usage"]["calls"] > 50, bt.stdout

    whole, killed = f"sqlite:///{tmp_path / 'whole.db'}", f"sqlite:///{tmp_path / 'killed.db'}"
    out = _nofx("ai", "paper", "--config", str(cfg), "--db", whole, "--no-progress")
    assert "model calls 0," in out.stdout, "the paper run asks exactly the backtest's prompts"

    proc = subprocess.Popen([sys.executable, "-m", "nofx.cli.main", "ai", "paper", "--config", str(cfg),
                             "--db", killed, "--no-progress"], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    killed_at = 0
    while time.monotonic() < deadline and proc.poll() is None:
        if Path(tmp_path / "killed.db").exists() and (n := _decisions(killed)) >= 40:
            os.kill(proc.pid, signal.SIGKILL)
            killed_at = n
            break
        time.sleep(0.05)
    proc.wait(timeout=30)
    assert killed_at and proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    out = _nofx("ai", "paper", "--resume", "--trader", TRADER, "--db", killed, "--no-progress")
    assert f"resumed {TRADER}" in out.stdout and "model calls 0," in out.stdout

    a, b = stored_tables(whole), stored_tables(killed)
    assert {"orders", "fills", "ai_decisions", "ai_prompts", "equity_snapshots"} <= set(a)
    assert len(a["ai_decisions"]) == len(doc["decisions"]) > killed_at
    diff = first_difference(b, a)
    assert diff is None, diff
    with SqlLedgerStore(killed) as store:
        assert check_ledger(store, TRADER) == []
        rows = DecisionLog(store).rows(TRADER)
        assert all(c["cached"] for r in rows for c in r.calls)

    # the paper fills are the backtest's
    expected = Counter((pd.Timestamp(t["datetime"]).date().isoformat(), t["symbol"], t["side"], t["quantity"],
                        Decimal(repr(t["price"])).normalize()) for t in doc["trades"])
    assert _fills(whole) == expected
    assert sum(expected.values()) > 100
