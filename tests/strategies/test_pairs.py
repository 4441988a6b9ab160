"""Pairs trading: signals, hedge-ratio sizing and, above all, shorting only where the rules allow it."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd
import pytest

from nofx.backtest.config import BacktestConfig
from nofx.backtest.runner import run_backtest
from nofx.data.bars import read_bars
from nofx.data.panel import BarPanel
from nofx.domain.enums import Side
from nofx.domain.errors import ConfigError
from nofx.strategies.base import StrategyContext
from nofx.strategies.pairs import PairsParams, PairsTrading
from nofx.strategies.registry import REGISTRY

Y, X, OTHER = "600000.SH", "600036.SH", "600016.SH"


def _marginable(tmp_path, *symbols: str) -> str:
    """A user marginable table (A-share shorting is opt-in: nothing is marginable without one)."""
    path = tmp_path / "marginable.csv"
    path.write_text("symbol,valid_from,valid_to,note\n" + "".join(f"{s},2018-01-01,,test\n" for s in symbols))
    return str(path)


def _run(bars: pd.DataFrame, table: str | None, **params):
    p = PairsParams(**{**PARAMS, **params}, marginable_tables=[table] if table else [])
    config = BacktestConfig(cash=1_000_000, rules="cn", rule_tables={"cn_marginable": table} if table else {})
    return run_backtest(bars, PairsTrading(p), config)


def _bars(seed: int = 4, days: int = 320) -> pd.DataFrame:
    """Y = 10 + 0.5 X + a fast mean-reverting spread, X a random walk, OTHER an unrelated walk."""
    rng = np.random.default_rng(seed)
    x = 30 + np.cumsum(rng.normal(0, 0.4, days))
    s = np.zeros(days)
    for t in range(1, days):
        s[t] = 0.6 * s[t - 1] + rng.normal(0, 0.5)
    y = 10 + 0.5 * x + s
    other = 20 + np.cumsum(rng.normal(0, 0.3, days))
    dates = pd.bdate_range("2019-01-02", periods=days)
    frames = []
    for sym, close in ((Y, y), (X, x), (OTHER, other)):
        close = np.round(close, 2)
        pre = np.r_[close[0], close[:-1]]
        frames.append(pd.DataFrame({
            "symbol": sym, "datetime": dates, "open": close, "high": close * 1.001, "low": close * 0.999,
            "close": close, "preclose": pre, "volume": 5e7, "amount": 5e7 * close, "trade_status": 1, "is_st": 0,
        }))
    return pd.concat(frames, ignore_index=True)


PARAMS = dict(formation_days=120, reform_every=1000, z_window=20, max_pairs=1)


def _net_positions(result) -> dict[str, list[int]]:
    held: dict[str, int] = defaultdict(int)
    path: dict[str, list[int]] = defaultdict(list)
    for f in sorted(result.trades, key=lambda f: f.ts):
        held[f.symbol] += f.quantity if f.side is Side.BUY else -f.quantity
        path[f.symbol].append(held[f.symbol])
    return path


def test_params_validated():
    assert REGISTRY.get("pairs") is PairsTrading
    with pytest.raises(ConfigError):
        REGISTRY.create("pairs", {"entry_z": 5.0, "stop_z": 4.0})
    with pytest.raises(ConfigError):
        REGISTRY.create("pairs", {"lookback": 10})


def test_trades_long_leg_alone_when_the_short_leg_is_not_marginable(tmp_path):
    result = _run(_bars(), _marginable(tmp_path, X))
    assert any(f"trading {Y}/{X}" in m for m in result.messages), result.messages[:3]
    alone = [m for m in result.messages if f"short sale of {Y} is not allowed" in m and f"long leg {X} alone" in m]
    assert alone, "the strategy never had to give up the short leg"
    pos = _net_positions(result)
    assert min(pos[Y]) >= 0, "opened a short in a stock that is not marginable"
    assert min(pos[X]) < 0, "never shorted the marginable leg"
    assert OTHER not in pos
    assert not result.rejections


def test_without_a_marginable_table_nothing_is_shorted():
    result = _run(_bars(), None)
    assert any("not allowed" in m for m in result.messages)
    assert all(min(path) >= 0 for path in _net_positions(result).values())
    assert result.trades and not result.rejections


def test_both_legs_sized_by_the_hedge_ratio_when_both_are_shortable(tmp_path):
    result = _run(_bars(), _marginable(tmp_path, X, Y))
    assert not any("not allowed" in m for m in result.messages)
    pos = _net_positions(result)
    assert min(pos[Y]) < 0 and min(pos[X]) < 0  # each leg shorted in its turn
    beta = float(next(m for m in result.messages if "beta" in m).split("beta ")[1].split(",")[0])
    assert beta == pytest.approx(0.5, abs=0.1)
    entries = [m for m in result.messages if "enter" in m and "short" in m and "long" in m]
    assert entries
    for m in entries:  # "... long Q1 S1, short Q2 S2": x quantity ~ beta * y quantity (in lots)
        legs = dict((s, int(q)) for q, s in
                    (part.split()[1:3] for part in m.split(": ")[-1].split(", ")))
        assert legs[X] == pytest.approx(beta * legs[Y], rel=0.15, abs=100)
    assert not result.rejections


def test_hk_designated_short_sell_rule(hk_daily_path, tmp_path):
    """On HK data the short leg is allowed exactly for designated securities: the bundled table has
    0700.HK but not 0002.HK, and a user table adds 0002.HK from its own start date."""
    df = read_bars(hk_daily_path, symbols=["0700.HK", "0002.HK"], start="2021-01-01", end="2021-03-31")
    ctx = StrategyContext(BarPanel.from_frame(df))
    bundled = PairsTrading(PairsParams(**PARAMS, rules="hk"))
    bundled.on_start(ctx)
    on = pd.Timestamp("2021-03-01").date()
    assert bundled.may_short("0700.HK", on)
    assert not bundled.may_short("0002.HK", on)
    table = tmp_path / "hk_short.csv"
    table.write_text("symbol,valid_from,valid_to,note\n0002.HK,2021-02-01,,test\n")
    extended = PairsTrading(PairsParams(**PARAMS, rules="hk", hk_short_tables=[str(table)]))
    extended.on_start(ctx)
    assert extended.may_short("0002.HK", on)
    assert not extended.may_short("0002.HK", pd.Timestamp("2021-01-15").date())


@pytest.mark.slow
def test_pairs_on_real_a_shares_never_shorts_a_non_marginable_stock(cn_daily_path, tmp_path):
    bars = read_bars(cn_daily_path, start="2019-01-01", end="2020-12-31")
    marginable = {"600519.SH", "601318.SH", "600036.SH", "601166.SH", "600030.SH", "000001.SZ", "000333.SZ",
                  "000858.SZ", "600000.SH", "601288.SH", "601398.SH", "600016.SH"}
    table = _marginable(tmp_path, *sorted(marginable))
    params = PairsParams(max_universe=60, max_pairs=4, reform_every=63, marginable_tables=[table])
    result = run_backtest(bars, PairsTrading(params),
                          BacktestConfig(cash=10_000_000, rules="cn", rule_tables={"cn_marginable": table}))
    for sym, path in _net_positions(result).items():
        if min(path) < 0:
            assert sym in marginable, sym
    assert any("screened" in m for m in result.messages)
    assert not [r for r in result.rejections if "short" in r.reason.lower()]
