"""Properties of the shared lot grid (``nofx.markets.lots.LotGrid``) behind the A-share and HK rules."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from nofx.domain.enums import Side
from nofx.markets.lots import LotGrid

grids = st.sampled_from([LotGrid(100, 100), LotGrid(200, 1), LotGrid(100, 1), LotGrid(400, 400), LotGrid(50, 50)])
quantities = st.integers(min_value=0, max_value=100_000)


@settings(max_examples=200, deadline=None)
@given(grids, quantities)
def test_round_down_is_the_largest_valid_buy_not_above(grid, qty):
    r = grid.round_down(qty)
    assert 0 <= r <= qty
    if r:
        assert grid.error(Side.BUY, r, 0, False) is None
        assert grid.error(Side.BUY, r + grid.step, 0, False) is None
        assert r + grid.step > qty  # nothing larger on the grid fits
    else:
        assert qty < grid.minimum


@settings(max_examples=200, deadline=None)
@given(grids, st.integers(min_value=1, max_value=100_000))
def test_selling_the_whole_holding_is_always_valid(grid, holding):
    assert grid.error(Side.SELL, holding, holding, False) is None


@settings(max_examples=200, deadline=None)
@given(grids, st.integers(min_value=1, max_value=100_000), st.integers(min_value=1, max_value=100_000))
def test_valid_partial_sells_leave_a_sellable_rest(grid, holding, qty):
    """After any valid partial sell the rest can still be sold out: odd lots never get stranded
    in two pieces, because an order that leaves part of the odd remainder is refused."""
    if qty >= holding or grid.error(Side.SELL, qty, holding, False) is not None:
        return
    rest = holding - qty
    assert grid.odd_remainder(rest) in (0, grid.odd_remainder(holding), rest)


def test_sell_without_short_permission_is_refused():
    err = LotGrid(100, 100).error(Side.SELL, 300, 200, False, "not marginable")
    assert err is not None and "not marginable" in err
