"""``nofx compete`` from the command line (subprocess, the mock server it starts itself, the bundled data):
the README's command on a short period, re-scoring, resume of a finished run, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NOFX = [sys.executable, "-m", "nofx.cli.main"]


def _example(tmp: Path, end: str = "2020-04-30") -> Path:
    text = (REPO / "examples" / "competition.toml").read_text()
    text = text.replace('cache_dir = ".nofx/ai_cache"', f'cache_dir = "{tmp / "cache"}"')
    path = tmp / "c.toml"
    path.write_text(text.replace("end = 2021-12-31", f"end = {end}"))
    return path


@pytest.mark.slow
def test_readme_command_short_version(tmp_path: Path) -> None:
    """The README's arena command (3 AI traders on the mock server, one a role chain, 3 baselines,
    --runs 3) on four months: leaderboard, significance table, JSON, HTML, re-score, resume of a
    finished run."""
    cfg, db = _example(tmp_path), f"sqlite:///{tmp_path / 'a.db'}"
    out = subprocess.run(NOFX + ["compete", "--config", str(cfg), "--runs", "3", "--mock", "--db", db, "--json",
                                 str(tmp_path / "a.json"), "--report", str(tmp_path / "a.html"), "--no-live"],
                         capture_output=True, text=True, timeout=600, cwd=REPO)
    assert out.returncode == 0, out.stderr
    for name in ("momentum", "contrarian", "committee", "dual_ma", "buy_and_hold", "multi_factor"):
        assert name in out.stdout
    assert "pairwise differences of daily returns" in out.stdout and "Diebold-Mariano" in out.stdout
    doc = json.loads((tmp_path / "a.json").read_text())
    rows = {r["name"]: r for r in doc["leaderboard"]}
    assert len(rows) == 6 and rows["momentum"]["runs"] == 3 and rows["dual_ma"]["runs"] == 1
    assert rows["momentum"]["return_ci"]["low"] is not None and rows["committee"]["tokens"] > 0
    assert len(doc["significance"]["pairs"]) == 15 and "Holm" in doc["significance"]["test"]
    committee = [t for t in doc["traders"] if t["name"] == "committee"]
    assert len(committee) == 3 and committee[0]["decisions"]["calls"] >= 3 * committee[0]["decisions"]["cycles"]
    page = (tmp_path / "a.html").read_text()
    for text in ("Leaderboard", "Equity", "Drawdown", "Pairwise significance", "Decisions per trader",
                 "cut or refused, why", "What produced this result", doc["competition"]["data_hash"]):
        assert text in page
    # re-score a sub-period from the ledgers alone
    out = subprocess.run(NOFX + ["compete", "--rescore", "demo", "--start", "2020-03-01", "--end", "2020-04-30",
                                 "--rank-by", "sharpe", "--db", db, "--json", str(tmp_path / "r.json")],
                         capture_output=True, text=True, timeout=300, cwd=REPO)
    assert out.returncode == 0, out.stderr
    re = json.loads((tmp_path / "r.json").read_text())
    assert re["period"] == {"start": "2020-03-01", "end": "2020-04-30"} and re["rank_by"] == "sharpe"
    assert {t["trader_id"] for t in re["traders"]} == {t["trader_id"] for t in doc["traders"]}
    # resuming a finished competition calls no model and changes nothing
    out = subprocess.run(NOFX + ["compete", "--config", str(cfg), "--runs", "3", "--db", db, "--resume",
                                 "--json", str(tmp_path / "b.json"), "--no-live"],
                         capture_output=True, text=True, timeout=300, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert json.loads((tmp_path / "b.json").read_text())["leaderboard"] == doc["leaderboard"]


@pytest.mark.parametrize("edit, args, expect", [
    (lambda t: t.replace('name = "contrarian"', 'name = "momentum"'), [], "used twice"),
    (lambda t: t.replace('name = "momentum"', 'name = "momentum"\nid = "x"'), [], "derived"),
    (lambda t: t.replace('strategy = "dual_ma"', 'strategy = "nope"'), ["--mock"], "nope"),
    (lambda t: t, ["--runs", "0"], "--runs"),
    (lambda t: t, ["--resume"], "no competition to resume"),
    (lambda t: t, ["--start", "2020-01-01"], "--rescore"),
])
def test_bad_input_is_one_line_exit_2(tmp_path: Path, nofx_cli, edit, args, expect) -> None:
    cfg = _example(tmp_path)
    cfg.write_text(edit(cfg.read_text()))
    line = nofx_cli("compete", "--config", str(cfg), "--db", f"sqlite:///{tmp_path / 'x.db'}", "--no-live",
                    *args).error_line()
    assert expect in line


def test_rescore_of_an_unknown_competition_is_exit_2(tmp_path: Path, nofx_cli) -> None:
    from nofx.persistence.store import SqlLedgerStore

    url = f"sqlite:///{tmp_path / 'x.db'}"
    SqlLedgerStore(url).close()  # a ledger that exists, without that competition
    line = nofx_cli("compete", "--rescore", "nope", "--db", url).error_line()
    assert "no such competition" in line
