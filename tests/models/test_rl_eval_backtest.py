"""`nofx rl eval` and `nofx backtest --strategy rl_dqn` run one engine and give one answer (issue 9:
+2.55% / -16.69% in rl eval against +4.55% / -15.00% in the backtester for the same agent and trades:
the environment books no dividends)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from nofx.models.rl.config import load_rl_config
from nofx.models.rl.dqn import DQNAgent
from nofx.models.rl.env import ACTIONS
from nofx.models.rl.observation import OBS_SIZE

TOML = """
data = "{data}"
symbol = "600036.SH"
seed = 3
model = "{model}"

[periods]
train = {{ start = 2018-01-01, end = 2019-06-30 }}
validation = {{ start = 2019-07-01, end = 2019-12-31 }}
test = {{ start = 2020-01-01, end = 2020-12-31 }}

[env]
cash = 50000.0
"""


def nofx(*args: str) -> str:
    r = subprocess.run([sys.executable, "-m", "nofx.cli.main", *args], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return r.stdout


def _pct(text: str) -> float:
    return float(text.replace("%", "").replace(",", ""))


@pytest.mark.slow  # rl eval (three backtests) and a backtest in fresh processes: ~40 s, more on a busy machine
def test_rl_eval_reports_what_the_backtester_runs(tmp_path, cn_daily_path):
    config = tmp_path / "rl.toml"
    model = tmp_path / "agent.pt"
    config.write_text(TOML.format(data=cn_daily_path, model=model))
    cfg = load_rl_config(config)
    # an untrained agent (seeded weights) is still a deterministic policy that trades
    DQNAgent(OBS_SIZE, len(ACTIONS), cfg.dqn, seed=3, metadata={"lot": 100, "symbol": "600036.SH"}).save(model)

    ev = nofx("rl", "eval", "-c", str(config))
    row = next(ln for ln in ev.splitlines() if "nofx DQN " in ln and "│" in ln)
    cells = [c.strip() for c in row.split("│")[1:-1]]
    ret, _, dd, trades, fees, _ = cells[1:]

    bt = nofx("backtest", "--strategy", "rl_dqn", "--data", str(cn_daily_path), "--symbols", "600036.SH",
              "--start", "2020-01-01", "--end", "2020-12-31", "--cash", "50000", "--rules", cfg.rules,
              "--config", str(_backtest_toml(tmp_path, cn_daily_path, model)), "--no-progress")
    metric = {m.group(1).strip(): m.group(2).strip()
              for m in re.finditer(r"│ ([^│]+?)\s+│\s+([^│]+?) │", bt)}
    assert int(trades) > 0, ev
    assert _pct(ret) == pytest.approx(_pct(metric["Total return"]), abs=0.005)
    assert _pct(dd) == pytest.approx(_pct(metric["Max drawdown"]), abs=0.005)
    assert int(trades) == int(metric["Fills"].replace(",", ""))
    assert float(fees.replace(",", "")) == pytest.approx(float(metric["Fees paid"].replace(",", "")), abs=0.005)


def _backtest_toml(tmp_path, data, model):
    path = tmp_path / "bt.toml"
    path.write_text(f'[data]\npath = "{data}"\nsymbols = ["600036.SH"]\n[backtest]\nstart = 2020-01-01\n'
                    f'end = 2020-12-31\ncash = 50000\nwarmup_bars = 60\n[strategy]\nname = "rl_dqn"\n'
                    f'[strategy.params]\nmodel = "{model}"\n')
    return path
