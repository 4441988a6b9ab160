"""A-share rules: lots and odd-lot sells, price limits and their effective dates, fees to the cent,
shorting from the marginable table, and the fixed facts (T+1, tick, sessions, calendar)."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal as D
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nofx.domain.enums import Side
from nofx.domain.errors import ConfigError, OrderError
from nofx.domain.fills import FeeBreakdown
from nofx.domain.instruments import parse_symbol
from nofx.markets.base import PriceLimits
from nofx.markets.cn import ChinaRules
from nofx.markets.fees import CommissionConfig
from nofx.markets.tables import RuleNotFoundError

RULES = ChinaRules()
MAIN = parse_symbol("600519.SH")
SZ_MAIN = parse_symbol("000001.SZ")
CHINEXT = parse_symbol("300750.SZ")
STAR = parse_symbol("688981.SH")
BSE = parse_symbol("830799.BJ")
INDEX = parse_symbol("000300.SH")
D19 = date(2019, 9, 2)


# --- lots -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("inst", "qty", "ok"),
    [
        (MAIN, 100, True), (MAIN, 1000, True), (MAIN, 150, False), (MAIN, 50, False),
        (STAR, 199, False), (STAR, 200, True), (STAR, 201, True), (STAR, 1234, True),
        (BSE, 99, False), (BSE, 100, True), (BSE, 101, True),
        (CHINEXT, 100, True), (CHINEXT, 101, False),
    ],
)
def test_buy_lot_sizes(inst, qty, ok):
    on = date(2022, 3, 1)
    err = RULES.quantity_error(inst, on, Side.BUY, qty, 0)
    assert (err is None) == ok
    if not ok:
        assert str(qty) in err


@pytest.mark.parametrize(
    ("inst", "qty", "expected"),
    [(MAIN, 99, 0), (MAIN, 250, 200), (MAIN, 100, 100), (STAR, 199, 0), (STAR, 201, 201), (BSE, 157, 157)],
)
def test_round_buy_quantity(inst, qty, expected):
    assert RULES.round_buy_quantity(inst, date(2022, 3, 1), qty) == expected


def test_star_lots_start_with_the_star_market():
    with pytest.raises(RuleNotFoundError, match="star"):
        RULES.quantity_error(STAR, date(2019, 7, 21), Side.BUY, 200, 0)
    assert RULES.quantity_error(STAR, date(2019, 7, 22), Side.BUY, 200, 0) is None
    with pytest.raises(RuleNotFoundError, match="bse"):
        RULES.quantity_error(BSE, date(2021, 11, 14), Side.BUY, 100, 0)
    assert RULES.quantity_error(BSE, date(2021, 11, 15), Side.BUY, 101, 0) is None


@pytest.mark.parametrize(
    ("inst", "holding", "qty", "ok"),
    [
        # 100-share lots, holding 250 (odd remainder 50): the remainder may go, but only all of it at once
        (MAIN, 250, 50, True), (MAIN, 250, 150, True), (MAIN, 250, 250, True), (MAIN, 250, 200, True),
        (MAIN, 250, 30, False), (MAIN, 250, 120, False), (MAIN, 250, 100, True),
        (MAIN, 40, 40, True), (MAIN, 40, 20, False),
        # STAR: at least 200, or the whole holding; a balance under 200 goes in one order
        (STAR, 350, 150, False), (STAR, 350, 200, True), (STAR, 350, 350, True), (STAR, 350, 201, True),
        (STAR, 150, 150, True), (STAR, 150, 100, False),
    ],
)
def test_odd_lot_sells(inst, holding, qty, ok):
    err = RULES.quantity_error(inst, date(2021, 6, 1), Side.SELL, qty, holding)
    assert (err is None) == ok, err


def test_sell_beyond_holding_needs_a_marginable_security():
    on = date(2021, 6, 1)
    not_marginable = parse_symbol("600000.SH")
    err = RULES.quantity_error(not_marginable, on, Side.SELL, 300, 200)
    assert err is not None and "marginable" in err
    # shorting is opt-in: by default nothing is marginable, even a name in the example table
    assert not RULES.allows_short(MAIN, on)
    assert "marginable" in RULES.quantity_error(MAIN, on, Side.SELL, 300, 200)
    # with the example table, 600519.SH is marginable from 2017-01-01
    rules = ChinaRules(include_example_marginable=True)
    assert rules.allows_short(MAIN, on) and not rules.allows_short(MAIN, date(2016, 12, 30))
    assert rules.quantity_error(MAIN, on, Side.SELL, 300, 200) is None  # 100 short
    assert "short part" in rules.quantity_error(MAIN, on, Side.SELL, 250, 200)  # 50 short: odd
    assert rules.quantity_error(MAIN, on, Side.BUY, 37, -37) is None  # covering an odd short exactly


def test_user_marginable_table_extends_shorting(tmp_path: Path):
    path = tmp_path / "margin.csv"
    path.write_text("symbol,valid_from,valid_to\n600000.SH,2021-01-04,2021-12-31\n", encoding="utf-8")
    rules = ChinaRules(marginable_tables=[path])
    inst = parse_symbol("600000.SH")
    assert rules.allows_short(inst, date(2021, 6, 1))
    assert not rules.allows_short(inst, date(2022, 1, 4))
    assert not rules.allows_short(MAIN, date(2021, 6, 1))  # only the user's table applies
    bad = tmp_path / "bad.csv"
    bad.write_text("symbol,valid_from,valid_to\n0700.HK,2021-01-04,\n", encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        ChinaRules(marginable_tables=[bad])
    assert exc.value.context["line"] == 2 and exc.value.context["column"] == "symbol"


def test_index_is_not_tradable():
    err = RULES.quantity_error(INDEX, D19, Side.BUY, 100, 0)
    assert err is not None and "index" in err and "not a tradable" in err
    assert RULES.round_buy_quantity(INDEX, D19, 1000) == 0
    assert RULES.price_limits(INDEX, D19, D("3000.00"), False, None) is None
    assert not RULES.allows_short(INDEX, D19)
    with pytest.raises(OrderError, match="index"):
        RULES.fees(INDEX, D19, Side.BUY, 100, D("10"))


def test_nonpositive_quantity_is_refused():
    assert "positive" in RULES.quantity_error(MAIN, D19, Side.BUY, 0, 0)
    assert "positive" in RULES.quantity_error(MAIN, D19, Side.SELL, -100, 500)


# --- price limits -----------------------------------------------------------------------------------
def _lim(inst, on, preclose, is_st=False, days_listed=None) -> PriceLimits | None:
    return RULES.price_limits(inst, on, D(preclose), is_st, days_listed)


def test_limits_round_half_up_to_the_cent():
    assert _lim(MAIN, D19, "10.05") == PriceLimits(D("9.05"), D("11.06"))  # 11.055 -> 11.06, 9.045 -> 9.05
    assert _lim(MAIN, D19, "10.05", is_st=True) == PriceLimits(D("9.55"), D("10.55"))  # 10.5525, 9.5475


@pytest.mark.parametrize(
    ("inst", "is_st", "before", "after", "pct_before", "pct_after"),
    [
        (CHINEXT, False, date(2020, 8, 23), date(2020, 8, 24), "0.10", "0.20"),
        (CHINEXT, True, date(2020, 8, 23), date(2020, 8, 24), "0.05", "0.20"),
        (MAIN, True, date(2025, 7, 6), date(2025, 7, 7), "0.05", "0.10"),  # reported change, to be confirmed
        (SZ_MAIN, True, date(2025, 7, 6), date(2025, 7, 7), "0.05", "0.10"),
    ],
)
def test_limit_changes_switch_on_their_date(inst, is_st, before, after, pct_before, pct_after):
    pc = D("20.00")
    assert _lim(inst, before, "20.00", is_st) == PriceLimits(pc * (1 - D(pct_before)), pc * (1 + D(pct_before)))
    assert _lim(inst, after, "20.00", is_st) == PriceLimits(pc * (1 - D(pct_after)), pc * (1 + D(pct_after)))


def test_board_limits():
    assert _lim(MAIN, D19, "20.00") == PriceLimits(D("18.00"), D("22.00"))
    assert _lim(STAR, D19, "20.00") == PriceLimits(D("16.00"), D("24.00"))
    assert _lim(STAR, D19, "20.00", is_st=True) == PriceLimits(D("16.00"), D("24.00"))
    assert _lim(BSE, date(2022, 1, 4), "20.00") == PriceLimits(D("14.00"), D("26.00"))


@pytest.mark.parametrize(
    ("inst", "on", "free_days"),
    [
        (STAR, date(2019, 7, 22), 5),
        (CHINEXT, date(2020, 8, 24), 5),
        (MAIN, date(2023, 4, 10), 5),
        (SZ_MAIN, date(2023, 4, 10), 5),
        (BSE, date(2021, 11, 15), 1),
    ],
)
def test_new_listing_has_no_limit_for_its_first_days(inst, on, free_days):
    for day in range(1, free_days + 1):
        assert _lim(inst, on, "10.00", days_listed=day) is None
    assert _lim(inst, on, "10.00", days_listed=free_days + 1) is not None
    assert _lim(inst, on, "10.00", days_listed=None) is not None  # unknown listing age: seasoned


@pytest.mark.parametrize("inst", [MAIN, SZ_MAIN])
def test_main_board_ipo_day_band_before_2023_04_10(inst):
    before, after = date(2023, 4, 9), date(2023, 4, 10)
    assert _lim(inst, before, "10.00", days_listed=1) == PriceLimits(D("6.40"), D("14.40"))
    assert _lim(inst, before, "10.00", days_listed=2) == PriceLimits(D("9.00"), D("11.00"))
    assert _lim(inst, after, "10.00", days_listed=1) is None


def test_chinext_ipo_day_band_before_the_reform():
    assert _lim(CHINEXT, date(2020, 8, 21), "10.00", days_listed=1) == PriceLimits(D("6.40"), D("14.40"))
    assert _lim(CHINEXT, date(2020, 8, 21), "10.00", days_listed=2) == PriceLimits(D("9.00"), D("11.00"))


def test_nonpositive_preclose_has_no_band():
    assert _lim(MAIN, D19, "0") is None


preclose_cents = st.integers(min_value=1, max_value=500_000).map(lambda c: D(c) / 100)
boards = st.sampled_from([MAIN, SZ_MAIN, CHINEXT, STAR, BSE])
days = st.dates(date(2021, 11, 15), date(2026, 6, 30))


@settings(max_examples=120, deadline=None)
@given(boards, days, preclose_cents, st.booleans(), st.one_of(st.none(), st.integers(1, 30)))
def test_band_contains_preclose_and_sits_on_ticks(inst, on, preclose, is_st, days_listed):
    lim = RULES.price_limits(inst, on, preclose, is_st, days_listed)
    if lim is None:
        return
    assert lim.lower <= preclose <= lim.upper
    assert RULES.price_on_tick(inst, on, lim.upper)
    assert lim.lower % D("0.01") == 0


@settings(max_examples=50, deadline=None)
@given(
    boards,
    st.lists(
        st.tuples(
            st.dates(date(2021, 11, 15), date(2026, 6, 30)),
            st.one_of(st.integers(1, 900_000).map(lambda c: c / 100), st.floats(0.001, 9000.0),
                      st.just(float("nan")), st.just(0.0)),
            st.booleans(),
            st.integers(-1, 8),
        ),
        min_size=1, max_size=30,
    ),
)
def test_vectorised_limits_equal_scalar(inst, rows):
    dates = np.array([r[0] for r in rows], dtype="datetime64[D]")
    pc = np.array([r[1] for r in rows])
    st_flags = np.array([r[2] for r in rows])
    dl = np.array([r[3] for r in rows])
    lo, hi = RULES.limit_arrays(inst, dates, pc, st_flags, dl)
    ref_lo, ref_hi = super(ChinaRules, RULES).limit_arrays(inst, dates, pc, st_flags, dl)  # scalar loop
    np.testing.assert_array_equal(lo, ref_lo)
    np.testing.assert_array_equal(hi, ref_hi)


def test_vectorised_limits_raise_like_scalar_before_the_board_existed():
    dates = np.array(["2019-07-19", "2019-07-22"], dtype="datetime64[D]")
    with pytest.raises(RuleNotFoundError, match="2019-07-19"):
        RULES.limit_arrays(STAR, dates, np.array([10.0, 10.0]), np.array([False, False]), np.array([-1, -1]))


# --- fees -------------------------------------------------------------------------------------------
def _fees(on, side, qty, price, inst=MAIN, rules=RULES) -> FeeBreakdown:
    return rules.fees(inst, on, side, qty, D(price))


def test_fees_2019_buy_and_sell():
    on = date(2019, 5, 6)  # turnover 90,000.00
    buy = _fees(on, Side.BUY, 100, "900.00")
    assert buy == FeeBreakdown(commission=D("22.50"), stamp_duty=D("0.00"), transfer_fee=D("1.80"))
    sell = _fees(on, Side.SELL, 100, "900.00")
    assert sell == FeeBreakdown(commission=D("22.50"), stamp_duty=D("90.00"), transfer_fee=D("1.80"))
    assert sell.total == D("114.30")


def test_fees_commission_minimum_kicks_in():
    # turnover 12,340: 0.025% = 3.085 < 5 -> 5.00; transfer 0.002% = 0.2468 -> 0.25
    buy = _fees(date(2019, 5, 6), Side.BUY, 1000, "12.34", inst=SZ_MAIN)
    assert buy == FeeBreakdown(commission=D("5.00"), stamp_duty=D("0.00"), transfer_fee=D("0.25"))


def test_fees_2022_after_transfer_fee_cut():
    # turnover 13,701.00: commission 3.43 -> min 5; stamp 0.1% 13.701 -> 13.70; transfer 0.001% 0.137 -> 0.14
    sell = _fees(date(2022, 5, 5), Side.SELL, 300, "45.67")
    assert sell == FeeBreakdown(commission=D("5.00"), stamp_duty=D("13.70"), transfer_fee=D("0.14"))
    assert sell.total == D("18.84")
    assert _fees(date(2022, 4, 29), Side.SELL, 300, "45.67").transfer_fee == D("0.14")
    assert _fees(date(2022, 4, 28), Side.SELL, 300, "45.67").transfer_fee == D("0.27")  # 0.002%: 0.274


def test_fees_2023_after_stamp_duty_cut():
    # turnover 183,050: commission 45.7625 -> 45.76; stamp 0.05% 91.525 -> 91.53 (half up); transfer 1.8305 -> 1.83
    sell = _fees(date(2023, 8, 28), Side.SELL, 100, "1830.50")
    assert sell == FeeBreakdown(commission=D("45.76"), stamp_duty=D("91.53"), transfer_fee=D("1.83"))
    assert _fees(date(2023, 8, 27), Side.SELL, 100, "1830.50").stamp_duty == D("183.05")
    assert _fees(date(2023, 8, 28), Side.BUY, 100, "1830.50").stamp_duty == D("0.00")


def test_fees_before_the_first_transfer_fee_row_raise_clearly():
    with pytest.raises(RuleNotFoundError, match="transfer_fee") as exc:
        _fees(date(2015, 7, 31), Side.BUY, 100, "10.00")
    assert exc.value.context["file"].endswith("cn_fees.csv")
    assert _fees(date(2015, 8, 1), Side.BUY, 100, "10.00").transfer_fee == D("0.02")


def test_commission_is_configurable():
    rules = ChinaRules(commission=CommissionConfig(rate=D("0.0001"), minimum=D("0")))
    assert _fees(date(2019, 5, 6), Side.BUY, 1000, "12.34", rules=rules).commission == D("1.23")
    cfg = CommissionConfig.model_validate({"rate": 0.0003, "minimum": 5})  # floats from TOML/YAML
    assert cfg.rate == D("0.0003")
    with pytest.raises(ValueError):
        CommissionConfig(rate=D("-0.1"))


def test_fees_refuse_nonpositive_inputs():
    with pytest.raises(OrderError):
        _fees(D19, Side.BUY, 0, "10.00")


# --- fixed facts ------------------------------------------------------------------------------------
def test_settlement_sessions_tick_calendar():
    assert RULES.sell_locked_until_next_day(MAIN, D19)
    assert RULES.sessions(MAIN, D19) == ((time(9, 30), time(11, 30)), (time(13, 0), time(15, 0)))
    assert RULES.tick_size(MAIN, D19, D("1234.56")) == D("0.01")
    assert RULES.calendar_name(CHINEXT) == "XSHG"
    assert RULES.round_price_to_tick(MAIN, D19, D("10.005"), Side.BUY) == D("10.00")
    assert RULES.round_price_to_tick(MAIN, D19, D("10.005"), Side.SELL) == D("10.01")
