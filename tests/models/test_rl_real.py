"""The RL environment on real bars under nofx's real market rules (``build_rulebook``)."""

from __future__ import annotations

from datetime import date

import pytest
from gymnasium.utils.env_checker import check_env

from nofx.data.bars import read_bars
from nofx.markets.rulebook import build_rulebook
from nofx.models.rl.env import EnvConfig, TradingEnv
from nofx.models.rl.market import StockSeries
from nofx.models.rl.observation import OBS_SIZE

WHOLE = EnvConfig(cash=100_000.0, episode_bars=None, random_start=False)


def _env(path, symbol, start=None, end=None, config=WHOLE):
    bars = read_bars(path, symbols=[symbol])
    rules = build_rulebook("auto")
    return TradingEnv(StockSeries.from_bars(bars, symbol, rules), rules, start, end, config)


def test_checker_passes_on_real_bars(cn_daily_path):
    env = _env(cn_daily_path, "600036.SH", date(2017, 1, 1), date(2019, 12, 31), EnvConfig(episode_bars=120))
    check_env(env, skip_render_check=True)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (OBS_SIZE,) and env.observation_space.contains(obs)
    assert env.lot == 100


def test_buy_refused_on_a_real_one_price_limit_up_open(cn_daily_path):
    # 601865.SH opened at its +10% limit on 2019-02-18 (a run of one-price limit-up days after its IPO)
    env = _env(cn_daily_path, "601865.SH", date(2019, 2, 15), date(2019, 6, 30))
    s = env.series
    i = s.dates.index(date(2019, 2, 15))
    env.reset(options={"start_index": i})
    _, _, _, _, info = env.step(1)
    assert s.dates[env.index] == date(2019, 2, 18)
    assert info["traded"] == 0 and "upper" in info["refused"]


def test_sell_refused_on_real_limit_down_opens(cn_daily_path):
    # 603032.SH opened at its -10% limit on 2018-04-02, 04-03 and 04-04
    env = _env(cn_daily_path, "603032.SH", date(2018, 1, 1), date(2018, 6, 30))
    s = env.series
    i = s.dates.index(date(2018, 3, 29))
    env.reset(options={"start_index": i})
    _, _, _, _, info = env.step(2)  # buys at the open of 2018-03-30
    assert info["traded"] == 200
    for day in (date(2018, 4, 2), date(2018, 4, 3), date(2018, 4, 4)):
        _, _, _, _, info = env.step(4)
        assert s.dates[env.index] == day
        assert info["traded"] == 0 and "lower" in info["refused"]
    _, _, _, _, info = env.step(4)  # 2018-04-09 opened at the limit too; then it trades
    while info["traded"] == 0:
        _, _, _, _, info = env.step(4)
    assert info["traded"] == -200


def test_t_plus_one_on_real_15_minute_bars(cn_15min_path):
    env = _env(cn_15min_path, "600000.SH")
    s = env.series
    day2 = [k for k, d in enumerate(s.dates) if d == s.dates[0]][-1] + 1  # first bar of the 2nd day
    env.reset(options={"start_index": day2 + 15})
    _, _, _, _, info = env.step(1)  # fills at the first bar of the 3rd day
    assert info["traded"] == 100
    bought_on = s.dates[env.index]
    _, _, _, _, info = env.step(3)
    assert s.dates[env.index] == bought_on
    assert info["traded"] == 0 and "T+1" in info["refused"]
    while s.dates[env.index + 1] == bought_on:
        env.step(0)
    _, _, _, _, info = env.step(3)  # next day's first bar: sellable
    assert info["traded"] == -100


def test_fees_come_from_the_market_rules(cn_daily_path):
    from decimal import Decimal

    from nofx.domain.enums import Side

    env = _env(cn_daily_path, "600036.SH", date(2021, 1, 1), date(2021, 12, 31))
    env.reset()
    _, _, _, _, info = env.step(2)
    s = env.series
    expected = env.rules.fees(s.inst, s.dates[env.index], Side.BUY, 200, Decimal(repr(info["price"]))).total
    assert info["fee"] == pytest.approx(float(expected), abs=1e-9)
    assert info["cash"] == pytest.approx(100_000 - 200 * info["price"] - info["fee"], abs=1e-6)


@pytest.mark.parametrize(("symbol", "lot"), [("0700.HK", 100), ("0005.HK", 400), ("0857.HK", 2000)])
def test_hk_actions_trade_board_lots_without_t_plus_one(hk_daily_path, symbol, lot):
    env = _env(hk_daily_path, symbol, config=EnvConfig(cash=1_000_000.0, episode_bars=None, random_start=False))
    assert env.lot == lot
    env.reset()
    _, _, _, _, info = env.step(2)
    assert info["traded"] == 2 * lot
    _, _, _, _, info = env.step(3)  # HK is T+0: sellable at once (daily bars: next day anyway)
    assert info["traded"] == -lot
