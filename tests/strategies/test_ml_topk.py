"""TopkDropout selection and the ml_topk strategy in a costed backtest."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from nofx.backtest.config import BacktestConfig
from nofx.data.panel import BarPanel
from nofx.domain.errors import ConfigError
from nofx.markets.rulebook import build_rulebook
from nofx.strategies.ml_topk import MLTopKParams, MLTopKStrategy, align_scores, topk_dropout


def test_first_day_buys_the_topk():
    s = np.array([0.1, 0.9, 0.5, np.nan, 0.7, 0.3])
    held = np.zeros(6, bool)
    ok = np.ones(6, bool)
    sell, buy = topk_dropout(s, held, ok, ok, topk=3, n_drop=1)
    assert sell.tolist() == [] and buy.tolist() == [1, 4, 2]


def test_drops_at_most_n_drop_worst_and_replaces_them():
    s = np.array([0.1, 0.9, 0.5, 0.2, 0.7, 0.3, 0.8])
    held = np.array([1, 0, 1, 1, 0, 1, 0], bool)  # held: 0 (0.1), 2 (0.5), 3 (0.2), 5 (0.3)
    ok = np.ones(7, bool)
    sell, buy = topk_dropout(s, held, ok, ok, topk=4, n_drop=2)
    assert sorted(sell.tolist()) == [0, 3]  # the two worst held names
    assert buy.tolist() == [1, 6]  # the two best non-held names


def test_unsellable_and_suspended_names_are_respected():
    s = np.array([0.1, 0.9, 0.5, 0.2, 0.7, 0.3, 0.8])
    held = np.array([1, 0, 1, 1, 0, 1, 0], bool)
    buyable = np.array([1, 0, 1, 1, 1, 1, 1], bool)  # 1 is suspended today
    sellable = np.array([0, 1, 1, 1, 1, 1, 1], bool)  # 0 was bought today (T+1)
    sell, buy = topk_dropout(s, held, buyable, sellable, topk=4, n_drop=2)
    assert 0 not in sell.tolist() and 1 not in buy.tolist()
    assert len(buy) == len(sell)  # the book stays at top-k


def test_nan_scores_are_never_bought():
    s = np.array([np.nan, np.nan, 0.1])
    sell, buy = topk_dropout(s, np.zeros(3, bool), np.ones(3, bool), np.ones(3, bool), topk=2, n_drop=1)
    assert buy.tolist() == [2]


def test_needs_a_model_or_predictions():
    with pytest.raises(ConfigError):
        MLTopKStrategy(MLTopKParams())


def test_align_scores_places_each_score_on_its_row():
    df = pd.DataFrame({"symbol": ["600000.SH", "600001.SH"] * 2,
                       "datetime": pd.to_datetime(["2020-01-02", "2020-01-02", "2020-01-03", "2020-01-03"]),
                       "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": 1.0})
    panel = BarPanel.from_frame(df)
    sc = pd.DataFrame({"datetime": pd.to_datetime(["2020-01-03", "2020-01-05"]), "symbol": ["600001.SH", "600000.SH"],
                       "score": [2.0, 3.0]})
    a = align_scores(sc, panel)
    assert a[1, 1] == 2.0 and np.isnan(a[0]).all() and np.isnan(a[1, 0])


class _EmptyBook:
    """A PortfolioView with cash only."""

    cash = Decimal("1000000")

    def equity(self) -> float:
        return 1_000_000.0

    def quantity(self, symbol: str) -> int:
        return 0

    def sellable(self, symbol: str) -> int:
        return 0

    def positions(self) -> dict:
        return {}


def test_on_slice_skips_suspended_and_unscored_names():
    from nofx.strategies.base import MarketView, StrategyContext

    syms = ["600000.SH", "600001.SH", "600002.SH", "600003.SH"]
    df = pd.DataFrame({"symbol": syms, "datetime": pd.Timestamp("2020-01-02"), "open": 10.0, "high": 10.0,
                       "low": 10.0, "close": 10.0, "volume": [100.0, 0.0, 100.0, 100.0],
                       "trade_status": [1, 0, 1, 1]})
    panel = BarPanel.from_frame(df)
    scores = pd.DataFrame({"datetime": pd.Timestamp("2020-01-02"), "symbol": syms[:3], "score": [0.1, 0.9, 0.5]})
    strat = MLTopKStrategy(MLTopKParams(model="unused", topk=3, n_drop=1), scores=scores)
    ctx = StrategyContext(panel)
    strat.on_start(ctx)
    view = MarketView(panel, ctx.features, rules=build_rulebook("cn"))  # the run hands its rule book
    view.index = 0
    orders = strat.on_slice(view, _EmptyBook())
    # 600001 is suspended, 600003 has no score: only the other two are bought, best first, whole lots
    assert [o.symbol for o in orders] == ["600002.SH", "600000.SH"]
    assert all(o.side.value == "buy" and o.quantity % 100 == 0 and o.quantity > 0 for o in orders)


def test_backtest_holds_at_most_topk_and_trades_lots():
    from nofx.backtest.runner import run_backtest
    from tests.models.conftest import synthetic_bars

    f = synthetic_bars(n_stocks=12, n_days=120, seed=4)
    rng = np.random.default_rng(0)
    scores = f[["datetime", "symbol"]].assign(score=rng.normal(size=len(f)))
    strat = MLTopKStrategy(MLTopKParams(model="unused", topk=5, n_drop=2), scores=scores)
    res = run_backtest(f, strat, BacktestConfig(rules="cn", fees="default"))
    assert res.trades and all(t.quantity % 100 == 0 for t in res.trades if t.side.value == "buy")
    held: dict[str, int] = {}
    by_day: dict = {}
    for t in res.trades:
        held[t.symbol] = held.get(t.symbol, 0) + (t.quantity if t.side.value == "buy" else -t.quantity)
        by_day[pd.Timestamp(t.ts).date()] = sum(1 for q in held.values() if q > 0)
    # a sell that the venue refuses (the stock is suspended at the next open) leaves one name too many
    # until the next rotation; otherwise the book never exceeds top-k
    failed = sorted(pd.Timestamp(r.ts).date() for r in res.rejections if r.side == "sell")
    for day, n_held in by_day.items():
        assert n_held <= 5 + sum(1 for d in failed if d <= day), day
    assert res.metrics["fees_paid"] > 0
