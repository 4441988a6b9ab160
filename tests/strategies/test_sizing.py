"""Strategies size by the rule book and never send (or resend) what the rules refuse (issue 8 item 8).

Real bundled A-shares, STAR stocks among them (688981.SH, 688599.SH, 688111.SH: at least 200 shares a buy,
then steps of 1). Before, ``ml_topk`` sent 100-share STAR buys every day and got 92 RISK_INVALID_LOT
refusals on this slice (183 with the README's trained model).
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from nofx.backtest.config import BacktestConfig
from nofx.backtest.runner import run_backtest
from nofx.data.bars import read_bars
from nofx.data.bundled import bundled_bars_path
from nofx.domain.enums import Side
from nofx.engine.risk import RiskConfig
from nofx.markets.rulebook import build_rulebook
from nofx.strategies.buy_and_hold import BuyAndHold, BuyAndHoldParams
from nofx.strategies.dual_ma import DualMAParams, DualMovingAverage
from nofx.strategies.ml_topk import PERIODS_ATTR, MLTopKParams, MLTopKStrategy, write_predictions
from nofx.strategies.sizing import buy_quantity, sell_quantity

DAY = date(2021, 6, 1)
CN = build_rulebook("auto")


@pytest.fixture(scope="module")
def bundled() -> pd.DataFrame:
    return read_bars(bundled_bars_path(), start="2021-01-01", end="2021-12-31")


@pytest.fixture(scope="module")
def momentum(bundled) -> pd.DataFrame:
    """A causal score (20-day return) for every bundled stock: ml_topk's input, as from `model predict`."""
    df = bundled.sort_values(["symbol", "datetime"])
    df = df.assign(score=df.groupby("symbol")["close"].pct_change(20))
    return df[["datetime", "symbol", "score"]].dropna().reset_index(drop=True)


def _codes(result) -> list[str]:
    return [r.code for r in result.rejections]


def test_ml_topk_sizes_star_buys_by_the_rules_and_warns_about_topk(bundled, momentum):
    strat = MLTopKStrategy(MLTopKParams(topk=50, n_drop=5), scores=momentum)
    res = run_backtest(bundled, strat, BacktestConfig(rules="cn", benchmark="000300.SH"))
    assert "RISK_INVALID_LOT" not in _codes(res)
    star = [f for f in res.trades if f.symbol.startswith("688")]
    assert star and all(f.quantity >= 200 for f in star)
    assert any(f.quantity % 100 for f in star)  # steps of 1 above 200, not 100-share lots
    assert any("topk=50 exceeds the 32 stocks" in w for w in strat.warnings)


def test_ml_topk_warns_when_the_test_period_is_in_sample(bundled, momentum, tmp_path):
    preds = momentum.copy()
    preds.attrs[PERIODS_ATTR] = {"train": "2019-01-01:2020-12-31", "valid": "2021-01-01:2021-06-30"}
    path = tmp_path / "preds.parquet"
    write_predictions(preds, path)
    strat = MLTopKStrategy(MLTopKParams(preds=str(path), topk=10, n_drop=2))
    run_backtest(bundled, strat, BacktestConfig(rules="cn"), symbols=sorted(set(momentum["symbol"])))
    assert any("validation period 2021-01-01..2021-06-30" in w and "in-sample" in w for w in strat.warnings)
    out_of_sample = MLTopKStrategy(MLTopKParams(preds=str(path), topk=10, n_drop=2))
    later = bundled[bundled["datetime"] >= "2021-07-01"]
    run_backtest(later, out_of_sample, BacktestConfig(rules="cn"), symbols=sorted(set(momentum["symbol"])))
    assert not out_of_sample.warnings


def test_dual_ma_fixed_size_below_the_star_minimum_sends_nothing(bundled):
    res = run_backtest(bundled, DualMovingAverage(DualMAParams(fast=5, slow=20, size=100)),
                       BacktestConfig(rules="cn"), symbols=["688981.SH", "600036.SH"])
    assert "RISK_INVALID_LOT" not in _codes(res)
    assert {f.symbol for f in res.trades} == {"600036.SH"}


def test_buy_and_hold_uses_star_steps_of_one(bundled):
    res = run_backtest(bundled, BuyAndHold(BuyAndHoldParams(percent=0.98)),
                       BacktestConfig(rules="cn", cash=100_000), symbols=["688981.SH"])
    (fill,) = res.trades
    assert fill.quantity >= 200 and fill.quantity % 100 != 0 and not res.rejections


def test_an_order_refused_for_good_is_not_resent(bundled):
    """A 1,000-share Moutai buy is over the trader's max order value: refused once, never again."""
    cfg = BacktestConfig(rules="cn")
    risk = RiskConfig(max_order_value=500_000)
    res = run_backtest(bundled, DualMovingAverage(DualMAParams(fast=5, slow=20, size=1000)), cfg,
                       symbols=["600519.SH"], risk=risk)
    assert _codes(res) == ["RISK_MAX_ORDER_VALUE"]
    strat = DualMovingAverage(DualMAParams(fast=5, slow=20, size=1000))
    run_backtest(bundled, strat, cfg, symbols=["600519.SH"], risk=risk)
    assert sum("refused before for good [RISK_MAX_ORDER_VALUE]" in m for m in strat.messages) >= 2


@pytest.mark.parametrize("symbol, value, price, expected", [
    ("600036.SH", 25_000, 40.0, 600),  # main board: whole 100-share lots
    ("688981.SH", 30_000, 100.0, 300),  # STAR: 200 minimum, then steps of 1
    ("688981.SH", 25_050, 100.0, 250),
    ("688981.SH", 15_000, 100.0, 0),  # below the 200-share minimum: nothing
    ("0700.HK", 100_000, 300.0, 300),  # HK board lot of 0700.HK: 100
    ("0005.HK", 100_000, 60.0, 1600),  # 0005.HK: 400
])
def test_buy_quantity_follows_each_instruments_lot_rules(symbol, value, price, expected):
    assert buy_quantity(CN, symbol, DAY, value, price) == expected


def test_odd_lots_are_sold_only_to_sell_out():
    assert sell_quantity(CN, "600036.SH", DAY, 120, 250) == 100
    assert sell_quantity(CN, "600036.SH", DAY, 250, 250) == 250  # the odd 50 go with the rest
    assert sell_quantity(CN, "600036.SH", DAY, 400, 250) == 250
    assert sell_quantity(CN, "688981.SH", DAY, 150, 350) == 0  # a STAR sell below 200 that leaves shares
    err = CN.quantity_error
    from nofx.domain.instruments import parse_symbol
    for q, holding in ((120, 250), (250, 250), (150, 350)):
        got = sell_quantity(CN, "600036.SH" if holding == 250 else "688981.SH", DAY, q, holding)
        if got:
            assert err(parse_symbol("600036.SH" if holding == 250 else "688981.SH"), DAY, Side.SELL, got,
                       holding) is None
