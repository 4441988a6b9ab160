"""``nofx rl train`` / ``nofx rl eval`` end to end on a tiny budget, and the experiment file's checks."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from nofx.cli.rl import app
from nofx.domain.errors import ConfigError
from nofx.models.rl.config import load_rl_config

TOML = """
data = "{data}"
symbol = "600036.SH"
seed = 1
model = "{model}"

[periods]
train = {{ start = 2019-01-01, end = 2019-12-31 }}
validation = {{ start = 2020-01-01, end = 2020-06-30 }}
test = {{ start = {test_start}, end = 2020-12-31 }}

[env]
cash = 50000.0
episode_bars = 60

[dqn]
total_steps = 400
learning_starts = 100
buffer_size = 1000
target_update_interval = 100
eval_interval = 200
hidden = [16, 16]
"""


def write_config(tmp_path, data, test_start="2020-07-01"):
    path = tmp_path / "rl.toml"
    path.write_text(TOML.format(data=data, model=tmp_path / "agent.pt", test_start=test_start))
    return path


@pytest.mark.slow  # trains two agents (tiny budget) and runs a backtest: ~25 s on a busy 2-core machine
def test_train_then_eval_print_the_out_of_sample_table(tmp_path, cn_daily_path):
    cfg = write_config(tmp_path, cn_daily_path)
    runner = CliRunner()
    res = runner.invoke(app, ["train", "-c", str(cfg)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert (tmp_path / "agent.pt").exists() and (tmp_path / "agent.sb3.pt").exists()
    for name in ("nofx DQN", "SB3 DQN", "buy-and-hold"):
        assert name in res.output
    res = runner.invoke(app, ["eval", "-c", str(cfg)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "backtester" in res.output and "2020-07-01..2020-12-31" in res.output


def test_overlapping_periods_are_refused(tmp_path, cn_daily_path):
    cfg = write_config(tmp_path, cn_daily_path, test_start="2020-06-01")
    with pytest.raises(ConfigError, match="disjoint"):
        load_rl_config(cfg)


def test_bad_config_exits_with_one_line(tmp_path, cn_daily_path):
    cfg = write_config(tmp_path, cn_daily_path, test_start="2020-06-01")
    res = CliRunner().invoke(app, ["eval", "-c", str(cfg)])
    assert res.exit_code == 2
    assert "CONFIG_ERROR" in res.output and "disjoint" in res.output
    assert "Traceback" not in res.output
