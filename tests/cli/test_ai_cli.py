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
