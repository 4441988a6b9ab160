"""Property tests: any random order sequence keeps the ledger sound under A-share rules."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from nofx.backtest.config import BacktestConfig
from nofx.backtest.runner import run_backtest
from nofx.data.bars import read_bars
from nofx.data.bundled import bundled_bars_path
from nofx.domain.enums import Side
from nofx.domain.instruments import parse_symbol
from nofx.markets.fees import CN_DEFAULT_COMMISSION
from nofx.markets.rulebook import build_rulebook
from nofx.domain.orders import OrderRequest
from tests.backtest.scripted import Scripted

SYMBOLS = ["600519.SH", "000001.SZ", "688981.SH", "300750.SZ", "000792.SZ"]


@pytest.fixture(scope="module")
def bars():
    return read_bars(bundled_bars_path(), symbols=SYMBOLS, start="2020-05-06", end="2020-08-31")  # 2 ex-dates


order_st = st.tuples(
    st.integers(min_value=0, max_value=78),  # slice
    st.sampled_from(SYMBOLS),
    st.sampled_from([Side.BUY, Side.SELL]),
    st.integers(min_value=1, max_value=3000),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(orders=st.lists(order_st, min_size=1, max_size=40), fill=st.sampled_from(["next_open", "close"]),
       cash=st.sampled_from([50_000, 300_000, 2_000_000]),
       basis=st.sampled_from(["per_order", "per_fill"]), participation=st.sampled_from([0.25, 0.0005]),
       investor=st.sampled_from(["individual", "institution"]))
def test_random_orders_keep_the_ledger_sound(bars, orders, fill, cash, basis, participation, investor):
    days = sorted(bars["datetime"].unique())
    script: dict = defaultdict(list)
    for k, sym, side, qty in orders:
        script[pd.Timestamp(days[k])].append(OrderRequest(sym, side, qty))
    cfg = BacktestConfig(cash=cash, fill=fill, commission_min_basis=basis, participation=participation,
                         investor=investor)
    r = run_backtest(bars, Scripted(dict(script)), cfg, symbols=SYMBOLS)
    _fees_follow_the_commission_basis(r.trades, basis)
    _dividend_tax_is_fifo_by_holding_period(r, investor)
    event(f"dividend tax deducted: {bool(r.dividend_tax_events)}")

    # cash never negative
    assert (r.equity["cash"] >= 0).all()
    # positions are the sum of fills (and splits: none in this window) and never short
    pos: dict[str, int] = defaultdict(int)
    bought_on: dict[tuple[str, object], int] = defaultdict(int)
    cash_calc = Decimal(cash)
    for f in r.trades:
        if f.side is Side.BUY:
            pos[f.symbol] += f.quantity
            bought_on[(f.symbol, f.ts.date())] += f.quantity
            cash_calc -= f.price * f.quantity + f.fee
            # lots: A-share buys in 100s; STAR 200 minimum then steps of 1
            if f.symbol.startswith("688"):
                assert f.quantity >= 200
            else:
                assert f.quantity % 100 == 0
        else:
            # T+1: never sell shares bought the same day
            assert f.quantity <= pos[f.symbol] - bought_on[(f.symbol, f.ts.date())]
            pos[f.symbol] -= f.quantity
            cash_calc += f.price * f.quantity - f.fee
        assert pos[f.symbol] >= 0
        assert f.fee >= 0 and f.fee == f.fee.quantize(Decimal("0.01"))
    # cash + positions at cost - fees reconciles exactly with the fills
    assert r.final_cash == cash_calc + r.dividends - r.dividend_tax
    assert Decimal(str(r.equity["cash"].iloc[-1])) == r.final_cash.quantize(Decimal("0.01"))


_RULES = build_rulebook("cn")


def _fees_follow_the_commission_basis(trades, basis: str) -> None:
    """Statutory fees are charged per fill; the commission once per order-day (``per_order``: the
    fills of an order on a day sum to one ``max(rate x turnover, minimum)``) or per fill."""
    statutory: dict = defaultdict(Decimal)
    turnover: dict = defaultdict(Decimal)
    paid: dict = defaultdict(Decimal)
    for f in trades:
        one = _RULES.fees(parse_symbol(f.symbol), f.ts.date(), f.side, f.quantity, f.price)
        key = (f.order_id, f.ts.date()) if basis == "per_order" else f.fill_id
        statutory[key] += one.total - one.commission
        turnover[key] += f.price * f.quantity
        paid[key] += f.fee
    for key, fee in paid.items():
        assert fee == CN_DEFAULT_COMMISSION.charge(turnover[key]) + statutory[key], key


def _dividend_tax_is_fifo_by_holding_period(r, investor: str) -> None:
    """An independent FIFO per-share recomputation of Caishui [2015] No. 101 (every holding here is
    under a year: 20% within one month of purchase, else 10%), compared to the cent with each deduction."""
    lots: dict[str, list[list]] = defaultdict(list)  # symbol -> [[bought, qty, [cash per share...]]]
    events = sorted([(f.ts, 1, f) for f in r.trades] + [(a.ts, 0, a) for a in r.corporate_actions],
                    key=lambda x: (x[0], x[1]))
    expected: list = []
    for _, _, e in events:
        if not hasattr(e, "side"):  # a dividend: every lot held gets it
            for lot in lots[e.symbol]:
                lot[2].append(e.cash_per_share)
            continue
        if e.side is Side.BUY:
            lots[e.symbol].append([e.ts.date(), e.quantity, []])
            continue
        left, tax = e.quantity, Decimal(0)
        while left:
            lot = lots[e.symbol][0]
            n = min(left, lot[1])
            within_month = pd.Timestamp(e.ts.date()) <= pd.Timestamp(lot[0]) + pd.DateOffset(months=1)
            tax += sum(lot[2], Decimal(0)) * n * (Decimal("0.2") if within_month else Decimal("0.1"))
            lot[1] -= n
            left -= n
            if lot[1] == 0:
                lots[e.symbol].pop(0)
        if tax and investor == "individual":
            expected.append((e.fill_id, tax.quantize(Decimal("0.01"))))
    assert [(t.fill_id, t.amount) for t in r.dividend_tax_events] == expected
