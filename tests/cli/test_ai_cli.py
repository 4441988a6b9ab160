"""``nofx ai backtest`` / ``nofx ai serve-mock`` from the command line (subprocess, real mock server)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NOFX = [sys.executable, "-m", "nofx.cli.main"]


def test_ai_backtest_cli_writes_json_and_report(tmp_path: Path) -> None:
    cfg = tmp_path / "t.toml"
    text = (REPO / "examples" / "ai_trader.toml").read_text()
    cfg.write_text(text.replace('cache_dir = ".nofx/ai_cache"', f'cache_dir = "{tmp_path / "cache"}"'))
    out = subprocess.run(NOFX + ["ai", "backtest", "--config", str(cfg), "--mock", "--start", "2020-01-01",
                                 "--end", "2020-06-30", "--json", str(tmp_path / "o.json"), "--report",
                                 str(tmp_path / "o.html"), "--no-progress"],
                         capture_output=True, text=True, timeout=300, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert "cycles" in out.stdout and "model calls" in out.stdout
    doc = json.loads((tmp_path / "o.json").read_text())
    assert doc["decisions"] and doc["trades"] and doc["trader"]["model"] == "mock-momentum"
    page = (tmp_path / "o.html").read_text()
    assert "Decisions" in page and "momentum:" in page  # the model's reasoning is in the report


def test_bad_ai_config_is_one_line_exit_2(tmp_path: Path) -> None:
    cfg = tmp_path / "t.toml"
    cfg.write_text('[trader]\nbase_url = "ftp://x"\n')
    out = subprocess.run(NOFX + ["ai", "backtest", "--config", str(cfg)], capture_output=True, text=True,
                         timeout=120, cwd=REPO)
    assert out.returncode == 2 and "base_url" in out.stderr and "Traceback" not in out.stderr
    out = subprocess.run(NOFX + ["ai", "serve-mock", "--script", "nonsense"], capture_output=True, text=True,
                         timeout=120, cwd=REPO)
    assert out.returncode == 2 and "nonsense" in out.stderr and "Traceback" not in out.stderr


def test_decisions_cli_prints_the_log_joined_to_the_ledger(tmp_path: Path) -> None:
    # an AI paper run's decision log, read back by `nofx decisions` in another process
    from nofx.ai.mock_server import MockServer
    from nofx.ai.paper import run_ai_paper
    from nofx.persistence.store import SqlLedgerStore
    from tests.ai.conftest import ai_config

    url = f"sqlite:///{tmp_path / 'l.db'}"
    with MockServer() as srv, SqlLedgerStore(url) as store:
        res = run_ai_paper(ai_config(srv.url, tmp_path, start="2020-02-01", end="2020-03-31"), store, progress=False)
    out = subprocess.run(NOFX + ["decisions", "--trader", "t-test", "--db", url, "--json", "--limit", "1000"],
                         capture_output=True, text=True, timeout=120, cwd=REPO)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [r["cycle"] for r in rows] == list(range(1, res.cycles + 1))
    sent = [o for r in rows for o in r["outcomes"] if o.get("order")]
    assert sent and all(o["engine"] and o["engine"]["status"] for o in sent), "each sent order joined to the ledger"
    assert all(r["calls"] and r["calls"][0]["prompt_hash"] for r in rows)
    table = subprocess.run(NOFX + ["decisions", "--trader", "t-test", "--db", url], capture_output=True, text=True,
                           timeout=120, cwd=REPO)
    assert table.returncode == 0 and "decisions of t-test" in table.stdout
    missing = subprocess.run(NOFX + ["decisions", "--trader", "nobody", "--db", url], capture_output=True, text=True,
                             timeout=120, cwd=REPO)
    assert missing.returncode == 2 and "nobody" in missing.stderr and "Traceback" not in missing.stderr


def test_ai_backtest_against_an_endpoint_nobody_serves_is_exit_2(nofx_cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Every cycle failed to reach the model: the run traded nothing the model decided and must say so
    (it printed a full metrics table and exited 0)."""
    import socket

    with socket.socket() as s:  # a loopback port with no listener: connection refused at once
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "ai.json"
    r = nofx_cli("ai", "backtest", "--config", "examples/ai_trader.toml", "--no-progress", "--start", "2020-01-01",
                 "--end", "2020-01-10", "--base-url", f"http://127.0.0.1:{port}/v1", "--json", str(out))
    line = r.error_line()
    assert "no cycle got a usable reply" in line and f"127.0.0.1:{port}" in line
    assert out.exists()  # the held cycles are still written for the user to read
