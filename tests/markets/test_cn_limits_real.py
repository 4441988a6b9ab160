"""Price limits against REAL A-share rows (../shared/data/cn_daily.parquet): closes that sat exactly
on the limit must equal the computed limit, and no traded price may leave the computed band."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from nofx.domain.instruments import parse_symbol
from nofx.markets.cn import ChinaRules

pytestmark = pytest.mark.shared_data
RULES = ChinaRules()


def _row(df: pd.DataFrame, symbol: str, day: str) -> pd.Series:
    hit = df[(df.symbol == symbol) & (df.date == pd.Timestamp(day))]
    assert len(hit) == 1, f"{symbol} {day} not in the data"
    return hit.iloc[0]


@pytest.mark.parametrize(
    ("symbol", "day", "is_st", "side", "expected_close", "what"),
    [
        ("300013.SZ", "2020-09-02", 0, "upper", "9.37", "ChiNext +20% after the 2020-08-24 reform"),
        ("300116.SZ", "2020-08-24", 0, "upper", "2.51", "ChiNext +20% on the reform's first day"),
        ("300568.SZ", "2020-03-09", 0, "upper", "38.72", "ChiNext +10% before the reform"),
        ("688011.SH", "2019-08-05", 0, "upper", "103.80", "STAR +20%"),
        ("688008.SH", "2020-02-03", 0, "lower", "77.30", "STAR -20%"),
        ("600139.SH", "2021-05-24", 1, "upper", "1.86", "SSE main-board ST +5%"),
        ("000408.SZ", "2017-05-11", 1, "lower", "13.71", "SZSE main-board ST -5%"),
        ("300446.SZ", "2020-10-26", 1, "upper", "9.42", "ChiNext ST +20% after the reform"),
        ("600000.SH", "2017-05-25", 0, "upper", "12.93", "SSE main board +10%"),
        ("000001.SZ", "2020-07-06", 0, "upper", "15.68", "SZSE main board +10%"),
        ("600006.SH", "2018-10-11", 0, "lower", "3.43", "SSE main board -10%"),
    ],
)
def test_close_at_limit_equals_computed_limit(cn_daily, symbol, day, is_st, side, expected_close, what):
    row = _row(cn_daily, symbol, day)
    assert int(row.is_st) == is_st, "the data's ST flag must match the case"
    assert Decimal(repr(float(row.close))) == Decimal(expected_close)
    preclose = Decimal(repr(float(row.preclose)))
    lim = RULES.price_limits(parse_symbol(symbol), row.date.date(), preclose, bool(row.is_st), None)
    assert lim is not None
    assert getattr(lim, side) == Decimal(expected_close), what


def test_main_board_ipo_first_day_closes_at_plus_44(cn_daily):
    # 603032.SH listed 2017-01-05: issue price 5.81 (day-1 preclose), closed at the +44% cap
    row = _row(cn_daily, "603032.SH", "2017-01-05")
    lim = RULES.price_limits(parse_symbol("603032.SH"), date(2017, 1, 5), Decimal(repr(float(row.preclose))), False, 1)
    assert lim is not None and lim.upper == Decimal(repr(float(row.close))) == Decimal("8.37")


# One known exception: 000792.SZ resumed listing on 2021-08-10 after a delisting-risk suspension;
# a relisting day has no price limit, which ``days_listed`` cannot express.
KNOWN_UNLIMITED = {("000792.SZ", pd.Timestamp("2021-08-10"))}


def _limits_for_all(df: pd.DataFrame) -> pd.DataFrame:
    """Bands for every row; days_listed counted from a symbol's first row when it listed inside the
    data (first row after the data's first day), else unknown (-1)."""
    first_day = df.date.values.min()
    dates, preclose, is_st = df.date.values, df.preclose.values, df.is_st.values
    lo = np.full(len(df), np.nan)
    hi = np.full(len(df), np.nan)
    for symbol, idx in df.groupby("symbol", sort=False).indices.items():  # rows are date-sorted per symbol
        dl = np.arange(1, len(idx) + 1) if dates[idx[0]] > first_day else np.full(len(idx), -1)
        lo[idx], hi[idx] = RULES.limit_arrays(parse_symbol(symbol), dates[idx], preclose[idx], is_st[idx], dl)
    return df.assign(lo=lo, hi=hi)


def test_every_traded_price_lies_inside_the_computed_band(cn_daily):
    df = _limits_for_all(cn_daily)
    traded = df[(df.trade_status == 1) & df.lo.notna()]
    assert len(traded) > 700_000
    outside = traded[(traded.high > traded.hi + 1e-9) | (traded.low < traded.lo - 1e-9)]
    assert set(zip(outside.symbol, outside.date)) == KNOWN_UNLIMITED
    # and the limits really bind: thousands of closes sit exactly on them, on every board
    at_upper = traded[traded.close == traded.hi]
    boards = {parse_symbol(s).board.value for s in at_upper.symbol.unique()}
    assert boards == {"sse_main", "szse_main", "chinext", "star"}
    assert len(at_upper) > 5_000


def test_vectorised_equals_scalar_on_real_rows(cn_daily):
    sample = cn_daily.sample(n=2000, random_state=7)
    for symbol, g in sample.groupby("symbol"):
        inst = parse_symbol(symbol)
        dl = np.where(np.arange(len(g)) % 3 == 0, -1, np.arange(len(g)) % 7)  # mix known and unknown ages
        got = RULES.limit_arrays(inst, g.date.values, g.preclose.values, g.is_st.values, dl)
        ref = super(ChinaRules, RULES).limit_arrays(inst, g.date.values, g.preclose.values, g.is_st.values, dl)
        np.testing.assert_array_equal(got[0], ref[0])
        np.testing.assert_array_equal(got[1], ref[1])


@pytest.mark.slow
def test_vectorised_equals_scalar_on_all_real_rows(cn_daily):
    for symbol, idx in cn_daily.groupby("symbol", sort=False).indices.items():
        g = cn_daily.iloc[idx]
        inst = parse_symbol(symbol)
        dl = np.full(len(g), -1)
        got = RULES.limit_arrays(inst, g.date.values, g.preclose.values, g.is_st.values, dl)
        ref = super(ChinaRules, RULES).limit_arrays(inst, g.date.values, g.preclose.values, g.is_st.values, dl)
        np.testing.assert_array_equal(got[0], ref[0])
        np.testing.assert_array_equal(got[1], ref[1])
