"""``nofx ai paper`` on the shipped example trader, killed with SIGKILL mid-run and resumed: the ledger and
the decision log equal an uninterrupted run's (slow: a real subprocess against the real mock server)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nofx.ai.paper import run_ai_paper
from nofx.persistence.ledger_check import check_ledger
from nofx.persistence.store import SqlLedgerStore
from tests.ai.conftest import ledger_state

REPO = Path(__file__).resolve().parents[2]


def _write_config(path: Path, url: str, trader: str, cache: Path) -> None:
    """The shipped example trader (the README's run), pointed at the test's mock server and cache."""
    text = (REPO / "examples" / "ai_trader.toml").read_text()
    text = text.replace('id = "ai-momentum"', f'id = "{trader}"')
    text = text.replace('base_url = "http://127.0.0.1:8765/v1"', f'base_url = "{url}"')
    text = text.replace('cache_dir = ".nofx/ai_cache"', f'cache_dir = "{cache}"')
    path.write_text(text)


@pytest.mark.slow
def test_sigkill_and_resume_give_the_uninterrupted_ledger(mock_llm, tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'l.db'}"
    cache = tmp_path / "cache"
    _write_config(tmp_path / "a.toml", mock_llm.url, "ai-a", cache)
    _write_config(tmp_path / "b.toml", mock_llm.url, "ai-b", cache)
    from nofx.ai.config import load_ai_config

    with SqlLedgerStore(url) as store:
        run_ai_paper(load_ai_config(tmp_path / "a.toml"), store, progress=False)
    proc = subprocess.Popen([sys.executable, "-m", "nofx.cli.main", "ai", "paper", "--config", str(tmp_path / "b.toml"),
                             "--db", url, "--no-progress"], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    killed_at = 0
    while time.monotonic() < deadline and proc.poll() is None:
        with SqlLedgerStore(url) as s, s._read() as conn:
            n = conn.exec_driver_sql("SELECT COUNT(*) FROM ai_decisions WHERE trader_id = 'ai-b'").scalar()
        if n >= 40:
            os.kill(proc.pid, signal.SIGKILL)
            killed_at = n
            break
        time.sleep(0.05)
    proc.wait(timeout=30)
    assert killed_at, "the run finished before it could be killed"
    out = subprocess.run([sys.executable, "-m", "nofx.cli.main", "ai", "paper", "--resume", "--trader", "ai-b",
                          "--db", url, "--no-progress"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "resumed ai-b" in out.stdout
    a = json.loads(json.dumps(ledger_state(url, "ai-a"), default=str))
    b = json.loads(json.dumps(ledger_state(url, "ai-b"), default=str).replace("ai-b", "ai-a"))
    assert a == b
    with SqlLedgerStore(url) as store:
        assert check_ledger(store, "ai-b") == []
