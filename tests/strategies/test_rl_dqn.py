"""The ``rl_dqn`` strategy: the agent's observation in the backtester is the environment's, and its
trades through the normal order path reproduce the environment's equity curve exactly."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
import torch

from nofx.backtest.config import BacktestConfig
from nofx.backtest.runner import run_backtest
from nofx.data.bars import read_bars
from nofx.data.panel import BarPanel
from nofx.domain.errors import ConfigError
from nofx.features.causality import assert_causal
from nofx.markets.rulebook import build_rulebook
from nofx.models.rl.dqn import DQNAgent, DQNConfig
from nofx.models.rl.env import EnvConfig, TradingEnv
from nofx.models.rl.evaluate import run_policy
from nofx.models.rl.market import StockSeries
from nofx.models.rl.observation import MARKET_FEATURES, OBS_SIZE, finite_features
from nofx.strategies.base import StrategyContext
from nofx.strategies.registry import REGISTRY
from nofx.strategies.rl_dqn import FEATURE_PREFIX, RLDQNStrategy, _feature_column

SYMBOL = "600036.SH"


@pytest.fixture(scope="module")
def bars(cn_daily_path):
    return read_bars(cn_daily_path, symbols=[SYMBOL], end="2021-06-30")


def contrarian_agent() -> DQNAgent:
    """An agent with hand-set weights that trades most days: buy a lot after a down close, sell one
    after an up close (Q of hold is a small constant). Trained agents on a short budget often just
    hold, which would make the comparison below vacuous."""
    agent = DQNAgent(OBS_SIZE, 5, DQNConfig(hidden=(4, 4)), seed=0, metadata={"lot": 100})
    win_1 = MARKET_FEATURES.index("win_1")  # log(P[t-1] / P[t]) > 0 after a down close
    with torch.no_grad():
        for p in agent.q.parameters():
            p.zero_()
        first, _, second, _, out = agent.q.net
        first.weight[0, win_1], first.weight[1, win_1] = 1.0, -1.0
        second.weight[0, 0], second.weight[1, 1] = 1.0, 1.0
        out.weight[1, 0], out.weight[3, 1] = 1.0, 1.0
        out.bias[0] = 0.002
    return agent


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("rl") / "agent.pt"
    contrarian_agent().save(path)
    return path


def test_registered_features_are_the_environment_features_and_causal(bars, model_path):
    panel = BarPanel.from_frame(bars)
    ctx = StrategyContext(panel)
    RLDQNStrategy(RLDQNStrategy.Params(model=str(model_path))).on_start(ctx)
    series = StockSeries.from_bars(bars, SYMBOL, build_rulebook("auto"))
    got = np.column_stack([ctx.features[FEATURE_PREFIX + n][:, 0] for n in MARKET_FEATURES])
    np.testing.assert_array_equal(finite_features(got), series.features)
    assert_causal(lambda p: _feature_column(p, MARKET_FEATURES.index("macd_hist")), panel, n_checks=3)


def test_backtest_reproduces_the_environment_exactly(bars, model_path):
    rules = build_rulebook("auto")
    series = StockSeries.from_bars(bars, SYMBOL, rules)
    env = TradingEnv(series, rules, date(2021, 1, 1), date(2021, 6, 30),
                     EnvConfig(cash=50_000, episode_bars=None, random_start=False))
    agent = DQNAgent.load(model_path)
    run = run_policy(env, agent.act)
    assert run.n_trades >= 5 and len(set(run.actions.tolist())) >= 2  # a test that trades, not a no-op

    strategy = REGISTRY.create("rl_dqn", {"model": str(model_path), "trade_from": "2021-01-01"})
    res = run_backtest(bars, strategy, BacktestConfig(start=series.dates[0], end=date(2021, 6, 30), cash=50_000),
                       symbols=[SYMBOL])
    eq = res.equity["equity"]
    eq = eq[eq.index >= run.equity.index[0]]
    assert len(res.trades) == run.n_trades
    np.testing.assert_allclose(eq.to_numpy(), run.equity.to_numpy(), rtol=0, atol=1e-6)
    assert all(f.quantity in (100, 200) or f.side.value == "sell" for f in res.trades)


def test_missing_model_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        REGISTRY.create("rl_dqn", {"model": str(tmp_path / "nope.pt")})
