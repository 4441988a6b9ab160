"""Prices the exchange cannot print: every limit price reaching a venue lies on the instrument's tick grid
for that date (risk refuses the rest with RISK_OFF_TICK; a venue refuses any that get past it with
VENUE_OFF_TICK), and the fill prices the simulated venues produce lie on it too. Real bars: cn_daily
(unadjusted, on the grid) and hk_daily (adjusted by the source, so its prices are NOT on the grid)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from nofx.backtest.config import BacktestConfig
from nofx.backtest.runner import run_backtest
from nofx.data.bars import read_bars
from nofx.domain.enums import OrderType, Side
from nofx.domain.events import OrderAccepted, OrderSubmitted
from nofx.domain.instruments import parse_symbol
from nofx.domain.orders import OrderRequest
from nofx.engine.bar_exchange import BarExchange
from nofx.engine.clock import SimClock
from nofx.engine.kernel import TradingEngine
from nofx.engine.market_data import prepare_market
from nofx.engine.matching import BarQuote
from nofx.engine.portfolio import Portfolio
from nofx.engine.risk import RiskEngine
from nofx.engine.router import Router, SplitConfig
from nofx.live.paper import PaperSession
from nofx.markets.rulebook import build_rulebook
from nofx.persistence.store import SqlLedgerStore
from tests.backtest.scripted import Scripted
from tests.engine.harness import make_engine

D = Decimal
HK_SYMBOLS = ["0857.HK", "1810.HK", "0005.HK", "3690.HK", "0388.HK", "0700.HK"]


@pytest.fixture(scope="module")
def cn_bars(cn_daily_path):
    return read_bars(cn_daily_path, symbols=["000001.SZ", "600519.SH", "300750.SZ", "688981.SH"],
                     start="2017-10-01", end="2020-12-31")


@pytest.fixture(scope="module")
def hk_bars(hk_daily_path):
    return read_bars(hk_daily_path, symbols=HK_SYMBOLS, start="2020-12-01", end="2022-03-31")


def limit(sym, side, qty, price):
    return OrderRequest(sym, side, qty, OrderType.LIMIT, D(price))


def run(bars, script, symbols, **cfg):
    s = Scripted(script)
    cfg.setdefault("cash", 10_000_000)
    return run_backtest(bars, s, BacktestConfig(**cfg), symbols=symbols), s


def _day_before(bars, day):
    days = np.unique(bars["datetime"].to_numpy(dtype="datetime64[D]"))
    return str(days[days < np.datetime64(day)][-1])


# (symbol, side, off-grid price, on-grid price, the day the price is inside the bar's range below the open)
CN_CASES = [
    ("000001.SZ", Side.BUY, "12.345", "12.34", "2017-11-10"),  # the example: old code filled at 12.345
    ("600519.SH", Side.BUY, "1800.005", "1800.00", "2020-09-02"),
    ("300750.SZ", Side.BUY, "150.005", "150.00", "2020-02-14"),  # ChiNext
    ("688981.SH", Side.BUY, "55.555", "55.55", "2020-09-09"),  # STAR
]


@pytest.mark.parametrize("sym,side,off,on,day", CN_CASES)
def test_off_grid_a_share_limit_is_refused_and_the_grid_price_fills(cn_bars, sym, side, off, on, day):
    qty = 200 if sym.startswith("688") else 100
    before = _day_before(cn_bars, day)
    r, _ = run(cn_bars, {before: [limit(sym, side, qty, off)]}, [sym], start=before, end=day)
    assert r.trades == []
    assert [x.code for x in r.rejections] == ["RISK_OFF_TICK"]
    assert f"price {off} is not on {sym}'s tick grid (step 0.01" in r.rejections[0].reason
    r, _ = run(cn_bars, {before: [limit(sym, side, qty, on)]}, [sym], start=before, end=day)
    assert [(t.quantity, t.price) for t in r.trades] == [(qty, D(on))]


def test_off_grid_a_share_sell_is_refused(cn_bars):
    # STAR: bought 2020-09-07, a sell at 55.555 decided on 09-08 would have met 09-09's range
    r, _ = run(cn_bars, {"2020-09-04": [OrderRequest("688981.SH", Side.BUY, 200)],
                         "2020-09-08": [limit("688981.SH", Side.SELL, 200, "55.555")]},
               ["688981.SH"], start="2020-09-01", end="2020-09-10")
    assert [t.side for t in r.trades] == [Side.BUY]
    assert [x.code for x in r.rejections] == ["RISK_OFF_TICK"]


# (symbol, off-grid buy limit above the market, the on-grid price next to it, band tick)
HK_CASES = [
    ("0857.HK", "1.705", "1.70", "0.01", "2021-01-04"),
    ("1810.HK", "19.61", "19.62", "0.02", "2021-11-26"),
    ("0005.HK", "61.23", "61.25", "0.05", "2021-01-04"),  # the example
    ("3690.HK", "195.05", "195.10", "0.10", "2022-02-21"),
    ("0388.HK", "395.10", "395.20", "0.20", "2021-01-04"),
    ("0700.HK", "540.30", "540.50", "0.50", "2021-01-06"),
]


@pytest.mark.parametrize("sym,off,on,tick,day", HK_CASES)
def test_hk_limit_off_the_spread_table_is_refused_in_every_band(hk_bars, sym, off, on, tick, day):
    rules = build_rulebook("hk")
    inst = parse_symbol(sym)
    lot = rules.rules_for(inst).board_lot(inst, pd.Timestamp(day).date())
    before = _day_before(hk_bars, day)
    r, _ = run(hk_bars, {before: [limit(sym, Side.BUY, lot, off)]}, [sym], start=before, end=day, rules="hk",
               corporate_actions=False)
    assert r.trades == [] and [x.code for x in r.rejections] == ["RISK_OFF_TICK"]
    assert f"(step {tick} at that price" in r.rejections[0].reason
    r, _ = run(hk_bars, {before: [limit(sym, Side.BUY, lot, on)]}, [sym], start=before, end=day, rules="hk",
               corporate_actions=False)
    (fill,) = r.trades
    # the adjusted open is not an exchange price: the fill is booked at the nearest tick of it
    op = float(hk_bars.loc[(hk_bars.symbol == sym) & (hk_bars.datetime == day), "open"].iloc[0])
    assert fill.price % rules.tick_size(inst, fill.ts.date(), fill.price) == 0
    assert abs(float(fill.price) - op) <= float(rules.tick_size(inst, fill.ts.date(), fill.price)) / 2 + 1e-9


def _assert_on_grid(fills, rules):
    assert fills
    for f in fills:
        inst = parse_symbol(f.symbol)
        assert rules.price_on_tick(inst, f.ts.date(), f.price), (f.symbol, f.ts, f.price)


def test_every_hk_fill_on_adjusted_bars_is_on_the_grid_backtest_and_paper(hk_bars, tmp_path):
    import nofx.strategies.builtin  # noqa: F401  (registers the strategies)
    from nofx.strategies.registry import REGISTRY

    rules = build_rulebook("hk")
    cfg = BacktestConfig(start="2021-01-01", end="2022-03-31", cash=10_000_000, rules="hk", corporate_actions=False)
    for fill in ("next_open", "close"):
        strat = REGISTRY.create("dual_ma", {"fast": 3, "slow": 10, "target_percent": 0.1})
        r = run_backtest(hk_bars, strat, cfg.model_copy(update={"fill": fill}), symbols=HK_SYMBOLS)
        assert len(r.trades) > 50
        _assert_on_grid(r.trades, rules)
    with SqlLedgerStore(f"sqlite:///{tmp_path / 'hk.db'}") as store:
        strat = REGISTRY.create("dual_ma", {"fast": 3, "slow": 10, "target_percent": 0.1})
        PaperSession(hk_bars, strat, cfg, store, "hk", symbols=HK_SYMBOLS, corporate_actions=False).run(progress=False)
        _assert_on_grid(list(store.all_fills("hk")), rules)


def test_twap_children_of_an_off_grid_parent_never_reach_the_venue():
    eng, venue, _ = make_engine(split=SplitConfig(twap_slices=3, twap_window_seconds=60))
    order = eng.submit(limit("000001.SZ", Side.BUY, 900, "20.005"))
    assert order.status.value == "rejected" and eng.rejections[-1].code == "RISK_OFF_TICK"
    assert eng.oms.children(order.order_id) == [] and venue.resting("000001.SZ") == 0
    order = eng.submit(limit("000001.SZ", Side.BUY, 900, "20.01"))
    kids = eng.oms.children(order.order_id)
    assert len(kids) == 3 and {k.limit_price for k in kids} == {D("20.01")}


def test_amend_to_an_off_grid_price_is_refused():
    from nofx.domain.errors import OrderError

    eng, _, _ = make_engine()
    order = eng.submit(limit("0700.HK", Side.BUY, 100, "499.00"))
    with pytest.raises(OrderError, match="not on 0700.HK's tick grid"):
        eng.amend(order.order_id, limit_price=D("499.10"))  # 200-500 band: 0.20 steps
    eng.amend(order.order_id, limit_price=D("499.20"))
    assert order.limit_price == D("499.20")


def _stored_off_grid_order(sym: str, price: str, ts: datetime):
    """An accepted order as a ledger written before the tick rule holds it: put back on the venue at
    restart (``restore_open_orders``), it never met pre-trade risk."""
    req = OrderRequest(sym, Side.BUY, 100, OrderType.LIMIT, D(price), client_order_id="old-1")
    return [OrderSubmitted(ts, "t-O1", "t", req), OrderAccepted(ts, "t-O1")]


def test_order_book_venue_refuses_an_off_grid_price_that_skipped_risk():
    eng, venue, market = make_engine()
    eng.rebuild(_stored_off_grid_order("000001.SZ", "20.005", market.t))
    eng.restore_open_orders()
    assert venue.resting("000001.SZ") == 1
    bar = BarQuote(19.9, 20.1, 19.8, 20.0, 1e6, 1.0, 18.0, 22.0)
    venue.on_bar("000001.SZ", market.t + timedelta(minutes=1), bar, day_end=False)
    assert eng.fills == [] and [r.code for r in eng.rejections] == ["VENUE_OFF_TICK"]


def _bar_engine(bars):
    """Kernel + bar exchange over ``bars`` with the limit bands the runner would compute."""
    market = prepare_market(bars, BacktestConfig(rules="cn"))
    clock = SimClock(market.panel, market.lower, market.upper, exec_offset=1)
    exchange = BarExchange(market.panel, market.lower, market.upper, market.rulebook)
    eng = TradingEngine("t", Portfolio(D("1000000")), market.rulebook, market.fee_model, RiskEngine(),
                        Router(exchange), clock)
    exchange.listener = eng
    clock.index = 0
    return eng, exchange, clock


def test_bar_exchange_refuses_an_off_grid_price_that_skipped_risk(cn_bars):
    bars = cn_bars[(cn_bars.symbol == "000001.SZ") & (cn_bars.datetime >= "2017-11-09")
                   & (cn_bars.datetime <= "2017-11-10")]
    eng, exchange, clock = _bar_engine(bars)
    eng.rebuild(_stored_off_grid_order("000001.SZ", "12.345", clock.now()))
    eng.restore_open_orders()
    clock.index = 1
    exchange.match(1, True)
    assert eng.fills == [] and [r.code for r in eng.rejections] == ["VENUE_OFF_TICK"]


def test_market_order_protection_price_and_fill_of_a_fund_are_on_the_fund_tick():
    # no fund in the shared data: three days of an ETF written out by hand, prices on the 0.001 grid
    bars = pd.DataFrame({
        "symbol": ["510300.SH"] * 3,
        "datetime": pd.to_datetime(["2021-06-01", "2021-06-02", "2021-06-03"]),
        "open": [4.100, 4.130, 4.201], "high": [4.150, 4.160, 4.222], "low": [4.090, 4.111, 4.180],
        "close": [4.123, 4.150, 4.211], "volume": [1e7, 1e7, 1e7], "preclose": [4.080, 4.123, 4.150],
    })
    eng, exchange, clock = _bar_engine(bars)
    order = eng.submit(OrderRequest("510300.SH", Side.BUY, 1000))
    # the protection price is the next day's limit-up, 4.123 * 1.1 = 4.5353, on the 0.001 fund grid
    assert order.status.value == "accepted" and order.limit_price == D("4.535")
    clock.index = 1
    exchange.match(1, True)
    assert [(f.quantity, f.price) for f in eng.fills] == [(1000, D("4.130"))]
