"""Run configs: the shipped backtest examples validate; bad files say what and where."""

from __future__ import annotations

from pathlib import Path

import pytest

from nofx.backtest.run_config import load_run_config
from nofx.domain.errors import ConfigError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize("name,strategy", [("multi_factor.toml", "multi_factor"), ("pairs.toml", "pairs"),
                                           ("rl_dqn_backtest.toml", "rl_dqn")])
def test_backtest_examples_validate(name, strategy):
    cfg = load_run_config(EXAMPLES / name)
    assert cfg.strategy is not None and cfg.strategy.name == strategy
    assert cfg.backtest.start is not None and cfg.backtest.end is not None


def test_unknown_section_and_bad_value_are_named(tmp_path):
    bad = tmp_path / "x.toml"
    bad.write_text("[backtest]\ncash = -5\n")
    with pytest.raises(ConfigError, match="cash"):
        load_run_config(bad)
    bad.write_text("[bakctest]\ncash = 5\n")
    with pytest.raises(ConfigError, match="bakctest"):
        load_run_config(bad)
    bad.write_text("[backtest\n")
    with pytest.raises(ConfigError, match="cannot parse"):
        load_run_config(bad)
