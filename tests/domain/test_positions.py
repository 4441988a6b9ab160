"""Average cost through partial sells, realised PnL, T+1 locks, splits."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nofx.domain.enums import Side
from nofx.domain.errors import OrderError
from nofx.domain.fills import Fill
from nofx.domain.positions import Position

D = Decimal


def fill(side, qty, px, day=1):
    return Fill("f", "o", "600519.SH", side, qty, D(px), D(0), datetime(2021, 3, day, 10))


def test_average_cost_stays_correct_through_partial_sells():
    p = Position("600519.SH")
    p.apply_fill(fill(Side.BUY, 100, "10"), lock_until_next_day=False)
    p.apply_fill(fill(Side.BUY, 300, "14"), lock_until_next_day=False)
    assert p.avg_cost == D("13")
    p.apply_fill(fill(Side.SELL, 100, "15"), lock_until_next_day=False)
    assert p.avg_cost == D("13") and p.quantity == 300 and p.realised_pnl == D("200")
    p.apply_fill(fill(Side.SELL, 300, "12"), lock_until_next_day=False)
    assert p.quantity == 0 and p.realised_pnl == D("-100") and p.avg_cost == 0


def test_t1_lock_and_unlock():
    p = Position("600519.SH")
    p.apply_fill(fill(Side.BUY, 100, "10", day=1), lock_until_next_day=True)
    assert p.sellable == 0
    with pytest.raises(OrderError):
        p.apply_fill(fill(Side.SELL, 100, "10", day=1), lock_until_next_day=True)
    p.unlock_before(date(2021, 3, 2))
    assert p.sellable == 100


def test_split_keeps_cost_basis():
    p = Position("600519.SH")
    p.apply_fill(fill(Side.BUY, 300, "20"), lock_until_next_day=False)
    p.apply_split(D("1.5"))
    # the average is kept to the ledger's 12 places (13.333333333333), so the basis is off by < qty/2e12
    assert p.quantity == 450 and p.avg_cost == D("13.333333333333")
    assert abs(p.cost_basis - D("6000")) <= 450 * D("0.5e-12")


@given(st.lists(st.tuples(st.booleans(), st.integers(1, 50), st.integers(100, 10_000)), max_size=30))
def test_cost_basis_plus_realised_matches_cash_flows(trades):
    p = Position("600519.SH")
    spent = D(0)
    bound = D(0)  # each new average is rounded to 12 places: the basis moves by at most qty * 0.5e-12
    for is_buy, lots, cents in trades:
        qty, px = lots * 100, D(cents) / 100
        if not is_buy:
            qty = min(qty, p.quantity)
            if qty == 0:
                continue
        p.apply_fill(fill(Side.BUY if is_buy else Side.SELL, qty, px), lock_until_next_day=False)
        spent += px * qty if is_buy else -px * qty
        if is_buy:
            bound += p.quantity * D("0.5e-12")
    # money in = value still held at cost - realised PnL, up to the averages' rounding (far below a cent)
    assert abs(spent - (p.cost_basis - p.realised_pnl)) <= bound


def test_account_snapshot_shows_frozen_cash_and_pnl():
    from nofx.engine.portfolio import Portfolio

    pf = Portfolio(D("100000"))
    pf.apply_fill(fill(Side.BUY, 300, "20", day=1), lock_until_next_day=True)
    pf.reserved_cash = D("1000")
    snap = pf.snapshot(datetime(2021, 3, 1, 15), {"600519.SH": D("21")})
    assert snap.cash == D("94000") and snap.available_cash == D("93000")
    (p,) = snap.positions
    assert (p.quantity, p.sellable, p.avg_cost, p.unrealised_pnl) == (300, 0, D("20"), D("300"))


def test_bar_validation():
    from nofx.domain.errors import DataError
    from nofx.domain.market_data import Bar

    Bar("600519.SH", datetime(2021, 3, 1), D(10), D(11), D(9), D(10.5), 100)
    with pytest.raises(DataError, match="OHLC"):
        Bar("600519.SH", datetime(2021, 3, 1), D(10), D(9.5), D(9), D(10.5), 100)
