"""Hong Kong rules: board lots from the (user-extendable) table, spread-table ticks at the band edges,
fees to the cent with the stamp duty rounded up, effective-date switches, T+0, shorting."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal as D
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nofx.domain.enums import Side
from nofx.domain.errors import ConfigError
from nofx.domain.fills import FeeBreakdown
from nofx.domain.instruments import parse_symbol
from nofx.markets import hk
from nofx.markets.fees import CommissionConfig
from nofx.markets.hk import HongKongRules

RULES = HongKongRules()
TENCENT = parse_symbol("0700.HK")
HSBC = parse_symbol("0005.HK")
JD = parse_symbol("9618.HK")
ON = date(2023, 12, 4)

FACT_LOTS = {"0700.HK": 100, "0005.HK": 400, "0941.HK": 500, "9988.HK": 100, "0388.HK": 100, "1299.HK": 200,
             "3690.HK": 100, "2318.HK": 500, "0939.HK": 1000, "1398.HK": 1000, "1810.HK": 200, "9618.HK": 50,
             "0857.HK": 2000}


@pytest.mark.parametrize(("symbol", "lot"), sorted(FACT_LOTS.items()))
def test_board_lots(symbol, lot):
    inst = parse_symbol(symbol)
    assert RULES.board_lot(inst, ON) == lot
    assert RULES.quantity_error(inst, ON, Side.BUY, lot, 0) is None
    assert RULES.quantity_error(inst, ON, Side.BUY, 3 * lot, 0) is None
    assert RULES.quantity_error(inst, ON, Side.BUY, lot + 1, 0) is not None
    assert RULES.round_buy_quantity(inst, ON, 3 * lot - 1) == 2 * lot


def test_five_digit_codes_map_to_the_same_row():
    assert RULES.board_lot(parse_symbol("09988.HK"), ON) == 100


def test_unknown_symbol_says_which_table_to_extend(tmp_path: Path):
    unknown = parse_symbol("0011.HK")
    with pytest.raises(ConfigError) as exc:
        RULES.quantity_error(unknown, ON, Side.BUY, 100, 0)
    assert "hk_board_lots.csv" in str(exc.value) and "lot_tables" in str(exc.value)
    user = tmp_path / "my_lots.csv"
    user.write_text("symbol,valid_from,valid_to,board_lot\n0011.HK,,,100\n0700.HK,2024-01-01,,200\n", encoding="utf-8")
    rules = HongKongRules(lot_tables=[user])
    assert rules.board_lot(unknown, ON) == 100
    assert rules.board_lot(TENCENT, ON) == 100  # user row not yet in force: bundled row answers
    assert rules.board_lot(TENCENT, date(2024, 3, 1)) == 200  # user row wins when it covers the date
    assert hk.load_board_lot_table(user).lookup("0011.HK", on=ON)["board_lot"] == 100


def test_bad_user_lot_table_names_file_and_line(tmp_path: Path):
    user = tmp_path / "bad_lots.csv"
    user.write_text("symbol,valid_from,valid_to,board_lot\n0011.HK,,,100\n0012.HK,,,-5\n", encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        HongKongRules(lot_tables=[user])
    assert exc.value.context["file"] == str(user) and exc.value.context["line"] == 3


def test_odd_lot_sell_out_and_shorting():
    # holding 450 of a 400-share lot: the odd 50 may only be sold whole
    assert RULES.quantity_error(HSBC, ON, Side.SELL, 50, 450) is None
    assert RULES.quantity_error(HSBC, ON, Side.SELL, 450, 450) is None
    assert RULES.quantity_error(HSBC, ON, Side.SELL, 400, 450) is None
    assert "odd remainder" in RULES.quantity_error(HSBC, ON, Side.SELL, 30, 450)
    # 0005.HK is in the bundled designated-securities table, 9618.HK is not
    assert RULES.allows_short(HSBC, ON) and not RULES.allows_short(JD, ON)
    assert RULES.quantity_error(HSBC, ON, Side.SELL, 400, 0) is None
    assert "short" in RULES.quantity_error(JD, ON, Side.SELL, 50, 0)


def test_user_short_table(tmp_path: Path):
    user = tmp_path / "short.csv"
    user.write_text("symbol,valid_from,valid_to\n9618.HK,2023-01-03,\n", encoding="utf-8")
    rules = HongKongRules(short_tables=[user])
    assert rules.allows_short(JD, ON) and not rules.allows_short(JD, date(2022, 12, 30))


# --- ticks -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("price", "tick"),
    [
        ("0.01", "0.001"), ("0.25", "0.001"), ("0.255", "0.005"), ("0.50", "0.005"), ("0.51", "0.01"),
        ("10.00", "0.01"), ("10.02", "0.02"), ("20.00", "0.02"), ("20.05", "0.05"), ("100.00", "0.05"),
        ("100.10", "0.10"), ("200.00", "0.10"), ("200.20", "0.20"), ("500.00", "0.20"), ("500.50", "0.50"),
        ("1000.00", "0.50"), ("1001", "1"), ("2000", "1"), ("2002", "2"), ("5000", "2"), ("5005", "5"),
    ],
)
def test_spread_table_band_edges(price, tick):
    assert RULES.tick_size(TENCENT, ON, D(price)) == D(tick)
    assert hk.spread_tick(D(price)) == D(tick)


@pytest.mark.parametrize(
    ("price", "side", "expected"),
    [
        ("10.01", Side.BUY, "10.00"), ("10.01", Side.SELL, "10.02"), ("19.99", Side.SELL, "20.00"),
        ("19.99", Side.BUY, "19.98"), ("20.03", Side.BUY, "20.00"), ("20.03", Side.SELL, "20.05"),
        ("0.2513", Side.BUY, "0.25"), ("0.2513", Side.SELL, "0.255"), ("388.40", Side.BUY, "388.40"),
    ],
)
def test_round_price_to_tick(price, side, expected):
    assert hk.round_price_to_tick(D(price), side) == D(expected)
    assert RULES.round_price_to_tick(TENCENT, ON, D(price), side) == D(expected)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=10, max_value=9_000_000).map(lambda m: D(m) / 1000), st.sampled_from(list(Side)))
def test_rounded_price_is_on_the_grid_and_never_worse(price, side):
    rounded = hk.round_price_to_tick(price, side)
    assert RULES.price_on_tick(TENCENT, ON, rounded)
    if side is Side.BUY:
        assert rounded <= price and price - rounded < hk.spread_tick(price)
    else:
        assert rounded >= price and rounded - price < hk.spread_tick(price)


def test_price_on_tick():
    assert RULES.price_on_tick(TENCENT, ON, D("10.00")) and not RULES.price_on_tick(TENCENT, ON, D("10.01"))


# --- fees --------------------------------------------------------------------------------------------
def test_fees_2021_09_buy_and_sell():
    # turnover 52,000: commission 0.03% 15.60; stamp 0.13% 67.6 -> 68 (up); SFC 0.0027% 1.404 -> 1.40;
    # no AFRC levy before 2022; HKEX trading fee 0.005% 2.60
    expected = FeeBreakdown(commission=D("15.60"), stamp_duty=D("68.00"), levies=D("1.40"), trading_fee=D("2.60"))
    for side in Side:
        fees = RULES.fees(TENCENT, date(2021, 9, 15), side, 100, D("520.00"))
        assert fees == expected
        assert fees.total == D("87.60")


def test_fees_2023_12_sell():
    # turnover 24,540: commission 7.362 -> 7.36; stamp 0.1% 24.54 -> 25 (up); SFC 0.66258 -> 0.66 +
    # AFRC 0.03681 -> 0.04 = 0.70; trading fee 0.00565% 1.386501 -> 1.39
    fees = RULES.fees(HSBC, ON, Side.SELL, 400, D("61.35"))
    assert fees == FeeBreakdown(commission=D("7.36"), stamp_duty=D("25.00"), levies=D("0.70"), trading_fee=D("1.39"))
    assert fees.total == D("34.45")


def test_fees_commission_minimum_and_whole_dollar_stamp():
    # turnover 7,500: commission 2.25 -> min 3; stamp 7.5 -> 8; levies 0.2025 -> 0.20 + 0.01125 -> 0.01
    fees = RULES.fees(JD, ON, Side.BUY, 50, D("150.00"))
    assert fees == FeeBreakdown(commission=D("3.00"), stamp_duty=D("8.00"), levies=D("0.21"), trading_fee=D("0.42"))
    # an exact whole-dollar duty is not rounded further: 100,000 * 0.1% = 100
    assert RULES.fees(TENCENT, ON, Side.SELL, 200, D("500.00")).stamp_duty == D("100.00")


@pytest.mark.parametrize(
    ("before", "after", "field", "fee_before", "fee_after"),
    [
        # turnover 100,000 (200 x 500.00)
        (date(2021, 7, 31), date(2021, 8, 1), "stamp_duty", "100.00", "130.00"),
        (date(2023, 11, 16), date(2023, 11, 17), "stamp_duty", "130.00", "100.00"),
        (date(2021, 12, 31), date(2022, 1, 1), "levies", "2.70", "2.85"),  # AFRC levy 0.15 starts
        (date(2022, 12, 31), date(2023, 1, 1), "trading_fee", "5.00", "5.65"),
    ],
)
def test_fee_changes_switch_on_their_date(before, after, field, fee_before, fee_after):
    assert getattr(RULES.fees(TENCENT, before, Side.BUY, 200, D("500.00")), field) == D(fee_before)
    assert getattr(RULES.fees(TENCENT, after, Side.BUY, 200, D("500.00")), field) == D(fee_after)


def test_commission_configurable():
    rules = HongKongRules(commission=CommissionConfig(rate=D("0.001"), minimum=D("50")))
    assert rules.fees(TENCENT, ON, Side.BUY, 100, D("300.00")).commission == D("50.00")
    assert rules.fees(TENCENT, ON, Side.BUY, 1000, D("300.00")).commission == D("300.00")


# --- fixed facts -------------------------------------------------------------------------------------
def test_t0_no_limits_sessions_calendar():
    assert not RULES.sell_locked_until_next_day(TENCENT, ON)
    assert RULES.price_limits(TENCENT, ON, D("300"), False, 1) is None
    lo, hi = RULES.limit_arrays(TENCENT, np.array(["2023-12-04"], dtype="datetime64[D]"), np.array([300.0]),
                                np.array([False]), np.array([-1]))
    assert np.isnan(lo).all() and np.isnan(hi).all()
    assert RULES.sessions(TENCENT, ON) == ((time(9, 30), time(12, 0)), (time(13, 0), time(16, 0)))
    assert RULES.calendar_name(TENCENT) == "XHKG"
