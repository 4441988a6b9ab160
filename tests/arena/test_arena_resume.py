"""Resume: a competition stopped midway continues from its ledgers and reply cache to exactly the
uninterrupted result (in process here; with a real SIGKILL of a real process in the slow test)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nofx.arena.competition import run_competition
from nofx.domain.errors import ConfigError
from nofx.persistence.competitions import CompetitionStore
from nofx.persistence.ledger_check import check_ledger
from nofx.persistence.store import SqlLedgerStore
from tests.arena.conftest import arena_state, competition

REPO = Path(__file__).resolve().parents[2]


BASELINES = [{"name": "dma", "strategy": "dual_ma"}, {"name": "bh", "strategy": "buy_and_hold"},
             {"name": "mf", "strategy": "multi_factor", "params": {"top_n": 3, "rebalance": "weekly"}}]


def test_stopped_then_resumed_equals_uninterrupted(mock_llm, tmp_path, arena_db_url) -> None:
    """multi_factor keeps state of its own (targets, pending buys): the resume rebuilds it."""
    ref_url = f"sqlite:///{tmp_path / 'ref.db'}"
    cfg_ref = competition(mock_llm.url, tmp_path / "ref", baselines=BASELINES)
    with SqlLedgerStore(ref_url) as store:
        ref = run_competition(cfg_ref, store, live=False)
    cfg = competition(mock_llm.url, tmp_path / "cut", baselines=BASELINES)
    with SqlLedgerStore(arena_db_url) as store:
        part = run_competition(cfg, store, live=False, stop_after=17)
        assert not part.finished
        assert CompetitionStore(store).get("t").status == "running"
        with pytest.raises(ConfigError, match="already exists"):
            run_competition(cfg, store, live=False)
        changed = cfg.model_copy(update={"competition": cfg.competition.model_copy(update={"runs": 2})})
        with pytest.raises(ConfigError, match="config differs"):
            run_competition(changed, store, resume=True, live=False)
        done = run_competition(cfg, store, resume=True, live=False)
        assert done.finished and done.resumed
        rec = CompetitionStore(store).get("t")
        assert rec.status == "finished" and rec.finished is not None
        for s in done.outcome.seats:
            assert check_ledger(store, s.trader_id) == []
    assert arena_state(arena_db_url, "t") == arena_state(ref_url, "t")
    assert done.board.rows == ref.board.rows
    assert [s.seen_chain.hexdigest() for s in done.outcome.seats] == \
        [s.seen_chain.hexdigest() for s in ref.outcome.seats]


def _config_file(path: Path, url: str, cache: Path) -> Path:
    text = (REPO / "examples" / "competition.toml").read_text()
    text = text.replace('base_url = "http://127.0.0.1:8765/v1"', f'base_url = "{url}"')
    text = text.replace('cache_dir = ".nofx/ai_cache"', f'cache_dir = "{cache}"')
    text = text.replace("end = 2021-12-31", "end = 2020-09-30")
    path.write_text(text)
    return path


@pytest.mark.slow
def test_sigkill_midway_and_resume_give_the_uninterrupted_result(mock_llm, tmp_path) -> None:
    """The shipped example competition (3 AI traders incl. a role chain, 3 baselines), killed with SIGKILL
    by another process while it runs, then ``nofx compete --resume``: every trader's orders, fills, cash,
    equity snapshots and decision log equal an uninterrupted run's."""
    ref_url, url = f"sqlite:///{tmp_path / 'ref.db'}", f"sqlite:///{tmp_path / 'kill.db'}"
    cfg_ref = _config_file(tmp_path / "ref.toml", mock_llm.url, tmp_path / "cache_ref")
    cfg = _config_file(tmp_path / "kill.toml", mock_llm.url, tmp_path / "cache_kill")
    cli = [sys.executable, "-m", "nofx.cli.main", "compete", "--no-live"]
    out = subprocess.run(cli + ["--config", str(cfg_ref), "--db", ref_url], cwd=REPO, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    proc = subprocess.Popen(cli + ["--config", str(cfg), "--db", url], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    killed_at = 0
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with SqlLedgerStore(url) as s, s._read() as conn:
                n = conn.exec_driver_sql("SELECT COUNT(*) FROM ai_decisions").scalar()
        except Exception:  # noqa: BLE001 - the database may not exist yet
            n = 0
        if n >= 40:
            os.kill(proc.pid, signal.SIGKILL)
            killed_at = n
            break
        time.sleep(0.05)
    proc.wait(timeout=30)
    assert killed_at, "the run finished before it could be killed"
    assert proc.returncode == -signal.SIGKILL
    with SqlLedgerStore(url) as s:
        assert CompetitionStore(s).get("demo").status == "running"
    out = subprocess.run(cli + ["--config", str(cfg), "--db", url, "--resume", "--json", str(tmp_path / "r.json")],
                         cwd=REPO, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "resumed" in out.stdout
    assert arena_state(url, "demo") == arena_state(ref_url, "demo")
    with SqlLedgerStore(url) as s:
        for t in CompetitionStore(s).traders("demo"):
            assert check_ledger(s, t.trader_id) == []
    res = json.loads((tmp_path / "r.json").read_text())
    assert res["competition"]["status"] == "finished"
