"""The RL environment: gymnasium's checker, the observation layout, and the market rules at the open
(T+1, lots, price limits, fees) on controlled bars and on real A-share bars."""

from __future__ import annotations

from datetime import date, time
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
import pytest
from gymnasium.utils.env_checker import check_env

from nofx.domain.enums import Side
from nofx.domain.fills import FeeBreakdown
from nofx.domain.instruments import Instrument
from nofx.markets.base import MarketRules, PriceLimits
from nofx.models.rl.env import EnvConfig, TradingEnv
from nofx.models.rl.market import StockSeries, minimum_lot
from nofx.models.rl.observation import MARKET_FEATURES, OBS_NAMES, OBS_SIZE, market_features

CENT = Decimal("0.01")


class ToyAShareRules(MarketRules):
    """A-share-like rules written out in the test, independent of nofx.markets.cn: lots of 100,
    +-10% band on preclose, T+1, 0.025% commission with a 5 CNY minimum, 0.1% stamp duty on sells."""

    name = "toy"

    def round_buy_quantity(self, inst: Instrument, on: date, quantity: int) -> int:
        return max(0, quantity // 100 * 100)

    def quantity_error(self, inst, on, side, quantity, holding):
        if quantity <= 0:
            return "quantity must be positive"
        if side is Side.SELL and quantity == holding:
            return None
        return None if quantity % 100 == 0 else "not a multiple of 100"

    def price_limits(self, inst, on, preclose, is_st, days_listed):
        return PriceLimits((preclose * Decimal("0.9")).quantize(CENT, ROUND_HALF_UP),
                           (preclose * Decimal("1.1")).quantize(CENT, ROUND_HALF_UP))

    def tick_size(self, inst, on, price):
        return CENT

    def sell_locked_until_next_day(self, inst, on):
        return True

    def sessions(self, inst, on):
        return ((time(9, 30), time(11, 30)), (time(13, 0), time(15, 0)))

    def calendar_name(self, inst):
        return "XSHG"

    def fees(self, inst, on, side, quantity, price):
        notional = price * quantity
        commission = max(Decimal(5), (notional * Decimal("0.00025")).quantize(CENT, ROUND_HALF_UP))
        stamp = (notional * Decimal("0.001")).quantize(CENT, ROUND_HALF_UP) if side is Side.SELL else Decimal(0)
        return FeeBreakdown(commission=commission, stamp_duty=stamp)


def daily_bars(closes, opens=None, start="2020-01-01", symbol="600000.SH", preclose=None, volume=None):
    n = len(closes)
    closes = np.asarray(closes, dtype=float)
    opens = closes.copy() if opens is None else np.asarray(opens, dtype=float)
    pre = np.r_[closes[0], closes[:-1]] if preclose is None else np.asarray(preclose, dtype=float)
    return pd.DataFrame({
        "symbol": symbol,
        "datetime": pd.bdate_range(start, periods=n),
        "open": opens, "high": np.maximum(opens, closes) * 1.01, "low": np.minimum(opens, closes) * 0.99,
        "close": closes, "volume": np.full(n, 1e6) if volume is None else volume, "amount": closes * 1e6,
        "preclose": pre, "trade_status": 1, "is_st": 0,
    })


def flat_env(n=60, price=10.0, cash=100_000.0, **kw):
    bars = daily_bars(np.full(n, price), **kw)
    return TradingEnv.from_bars(bars, "600000.SH", ToyAShareRules(),
                                config=EnvConfig(cash=cash, episode_bars=None, random_start=False))


def test_env_passes_gymnasium_checker():
    rng = np.random.default_rng(1)
    closes = 10 * np.exp(np.cumsum(rng.normal(0, 0.02, 300)))
    env = TradingEnv.from_bars(daily_bars(closes), "600000.SH", ToyAShareRules(),
                               config=EnvConfig(episode_bars=50))
    check_env(env, skip_render_check=True)
    obs, _ = env.reset(seed=3)
    assert obs.shape == (OBS_SIZE,) == (20,) and obs.dtype == np.float32
    assert len(OBS_NAMES) == OBS_SIZE and OBS_NAMES[-2:] == ("position", "cash")


def test_buy_is_whole_lots_at_next_open_with_fees():
    env = flat_env()
    env.reset()
    t = env.index
    _, _, _, _, info = env.step(2)  # buy 2 lots
    assert env.index == t + 1
    assert info["traded"] == 200 and info["price"] == 10.0
    assert info["fee"] == 5.0  # 0.025% of 2000 is 0.50: the 5 CNY minimum applies
    assert info["cash"] == pytest.approx(100_000 - 2000 - 5)
    assert env.lot == 100


def test_reward_is_log_equity_change_minus_costs_and_risk():
    env = flat_env()
    cfg = env.config
    env.reset()
    _, reward, _, _, info = env.step(1)
    e0, e1 = cfg.cash, info["equity"]
    r = np.log(e1 / e0)
    expected = cfg.reward_scale * (r - cfg.cost_weight * info["fee"] / e0 - cfg.risk_weight * r * r)
    assert reward == pytest.approx(expected)
    assert reward < 0  # flat price: only the fee moved equity


def test_no_buy_when_open_at_upper_limit_and_no_sell_at_lower_limit():
    closes = np.full(60, 10.0)
    opens = closes.copy()
    bars = daily_bars(closes, opens)
    env = TradingEnv.from_bars(bars, "600000.SH", ToyAShareRules(),
                               config=EnvConfig(episode_bars=None, random_start=False))
    first, _ = env.period
    # open of the next bar at the +10% limit: the buy is refused
    bars.loc[first + 1, ["open", "high"]] = 11.0
    # later, after buying, a bar opening at the -10% limit refuses the sell
    bars.loc[first + 3, ["open", "low"]] = 9.0
    env = TradingEnv.from_bars(bars, "600000.SH", ToyAShareRules(),
                               config=EnvConfig(episode_bars=None, random_start=False))
    env.reset()
    _, _, _, _, info = env.step(1)
    assert info["traded"] == 0 and "upper" in info["refused"]
    _, _, _, _, info = env.step(1)
    assert info["traded"] == 100
    _, _, _, _, info = env.step(3)
    assert info["traded"] == 0 and "lower" in info["refused"]
    _, _, _, _, info = env.step(3)
    assert info["traded"] == -100


def test_suspended_bar_refuses_orders():
    bars = daily_bars(np.full(60, 10.0))
    env = TradingEnv.from_bars(bars, "600000.SH", ToyAShareRules(), config=EnvConfig(episode_bars=None))
    first, _ = env.period
    bars.loc[first + 1, "trade_status"] = 0
    bars.loc[first + 1, "volume"] = 0
    env = TradingEnv.from_bars(bars, "600000.SH", ToyAShareRules(),
                               config=EnvConfig(episode_bars=None, random_start=False))
    env.reset()
    _, _, _, _, info = env.step(2)
    assert info["traded"] == 0 and info["refused"] == "suspended"


def test_t_plus_one_blocks_same_day_sell_on_intraday_bars():
    # 4 intraday bars a day: a buy filled on a date cannot be sold on that date, only the next one
    ts = pd.date_range("2025-01-02 09:45", periods=4, freq="15min")
    days = [ts + pd.Timedelta(days=d) for d in range(20)]
    stamps = pd.DatetimeIndex(np.concatenate([d.to_numpy() for d in days]))
    n = len(stamps)
    bars = pd.DataFrame({"symbol": "600000.SH", "datetime": stamps, "open": 10.0, "high": 10.1, "low": 9.9,
                         "close": 10.0, "volume": 1e5, "amount": 1e6})
    env = TradingEnv.from_bars(bars, "600000.SH", ToyAShareRules(),
                               config=EnvConfig(episode_bars=None, random_start=False))
    env.reset(options={"start_index": 40})  # bar 40 is the first bar of day 10
    _, _, _, _, info = env.step(1)  # fills at bar 41 (day 10)
    assert info["traded"] == 100
    _, _, _, _, info = env.step(3)  # bar 42, same day
    assert info["traded"] == 0 and "T+1" in info["refused"]
    env.step(0)  # bar 43, same day
    _, _, _, _, info = env.step(3)  # bar 44: next day
    assert info["traded"] == -100


def test_buys_shrink_to_cash_and_sells_never_exceed_holding():
    env = flat_env(price=10.0, cash=1_500.0)
    env.reset()
    _, _, _, _, info = env.step(2)  # 2 lots cost 2005 > 1500: one lot
    assert info["traded"] == 100
    _, _, _, _, info = env.step(2)  # 1 lot costs 1005 > 495 cash left
    assert info["traded"] == 0 and "cash" in info["refused"]
    _, _, _, _, info = env.step(4)
    assert info["traded"] == -100
    _, _, _, _, info = env.step(3)
    assert info["traded"] == 0 and info["refused"] == "no holding"


def test_market_features_are_causal_and_ignore_ex_rights_gaps():
    rng = np.random.default_rng(5)
    closes = 10 * np.exp(np.cumsum(rng.normal(0, 0.02, 120)))
    bars = daily_bars(closes)
    full = market_features(bars.close, bars.high, bars.low, bars.preclose)
    cut = market_features(bars.close[:80], bars.high[:80], bars.low[:80], bars.preclose[:80])
    np.testing.assert_allclose(full[:80], cut, equal_nan=True)
    assert full.shape == (120, len(MARKET_FEATURES))
    # a dividend: preclose below the previous close removes the gap from the price window
    closes2 = closes.copy()
    closes2[60:] *= 0.9
    pre = np.r_[closes2[0], closes2[:-1]]
    pre[60] = closes2[59] * 0.9  # the exchange's ex-rights reference price
    adj = market_features(closes2, closes2, closes2, pre)
    np.testing.assert_allclose(adj[70, :10], full[70, :10], atol=1e-12)


def test_minimum_lot_follows_rules():
    assert minimum_lot(ToyAShareRules(), StockSeries.from_bars(daily_bars(np.full(5, 10.0)), "600000.SH",
                                                               ToyAShareRules()).inst, date(2020, 1, 2)) == 100


def test_holding_through_a_real_ex_dividend_date_gets_the_dividend(cn_daily_path):
    # 600519.SH went ex-dividend CNY 14.54 on 2019-06-28 (raw cn_daily prices): the environment books it
    # as the backtest does, so equity does not fall by the ex-date's price gap
    from datetime import date

    from nofx.data.bars import read_bars
    from nofx.markets.cn import ChinaRules

    bars = read_bars(cn_daily_path, symbols=["600519.SH"], start="2019-01-01", end="2019-07-31")
    env = TradingEnv.from_bars(bars, "600519.SH", ChinaRules(), start=date(2019, 6, 20),
                               config=EnvConfig(episode_bars=None, random_start=False))
    env.reset()
    env.step(1)  # buy one lot
    s = env.series
    ex = int(np.flatnonzero(np.asarray(s.dates) == date(2019, 6, 28))[0])
    while env.index < ex - 1:
        env.step(0)
    before = env.account.equity(float(s.close[ex - 1]))
    _, _, _, _, info = env.step(0)
    assert env.index == ex
    assert info["equity"] - before == pytest.approx(100 * (s.close[ex] - s.close[ex - 1]) + 1454.0, abs=0.01)
    assert info["cash"] == pytest.approx(env.account.cash) and s.actions[ex] == (14.54, 1.0)
    from nofx.markets.rulebook import build_rulebook

    assert StockSeries.from_bars(bars, "600519.SH", build_rulebook("none")).actions == {}  # as the backtest
    assert StockSeries.from_bars(bars, "600519.SH", ChinaRules(), prices="adjusted").actions == {}


def test_fills_on_adjusted_hk_bars_are_on_the_spread_table(hk_daily_path):
    """hk_daily is back-adjusted by its source, so its opens are not exchange prices: the environment
    books each fill at the nearest tick of the spread table, as the backtester's venues do."""
    from nofx.data.bars import read_bars
    from nofx.domain.instruments import parse_symbol
    from nofx.markets.hk import HongKongRules
    from nofx.models.rl.market import Account

    rules = HongKongRules()
    bars = read_bars(hk_daily_path, symbols=["0700.HK", "0005.HK"], start="2021-01-01", end="2021-03-31")
    for sym in ("0700.HK", "0005.HK"):
        series = StockSeries.from_bars(bars, sym, rules)
        acc = Account(10_000_000.0)
        inst = parse_symbol(sym)
        off_grid = 0
        for i in range(1, 40, 2):
            on = series.dates[i]
            off_grid += not rules.price_on_tick(inst, on, Decimal(repr(round(float(series.open[i]), 6))))
            out = acc.buy(rules, series, i, 400, 100) if i % 4 == 1 else acc.sell(rules, series, i, 400, 100)
            if out.quantity:
                px = Decimal(repr(out.price))
                assert rules.price_on_tick(inst, on, px), (sym, on, out.price)
                assert abs(out.price - float(series.open[i])) <= float(rules.tick_size(inst, on, px)) / 2 + 1e-9
        assert off_grid > 10  # the raw opens were off the grid
