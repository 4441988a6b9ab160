"""Point-in-time alignment of valuation and fundamentals: nothing is used before it was public."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nofx.domain.errors import DataError
from nofx.features.fundamentals import align_fundamentals, align_valuation, load_fundamentals, load_valuation

DAYS = np.array(pd.bdate_range("2020-04-20", "2020-05-15"), dtype="datetime64[ns]")


def _day(s: str) -> int:
    return int(np.searchsorted(DAYS, np.datetime64(pd.Timestamp(s), "ns")))


def test_report_is_used_from_the_first_trading_day_after_pub_date():
    df = pd.DataFrame({
        "symbol": ["600000.SH"], "pub_date": [pd.Timestamp("2020-04-28")],
        "stat_date": [pd.Timestamp("2020-03-31")], "roe_avg": [0.05],
    })
    out = align_fundamentals(df, DAYS, ("600000.SH",), fields=("roe_avg",))["roe_avg"][:, 0]
    assert np.isnan(out[: _day("2020-04-29")]).all()  # not on the publication day itself
    assert (out[_day("2020-04-29"):] == 0.05).all()


def test_publication_on_a_holiday_is_used_on_the_next_trading_day():
    days = DAYS[DAYS != np.datetime64("2020-05-01", "ns")]
    df = pd.DataFrame({"symbol": ["600000.SH"], "pub_date": [pd.Timestamp("2020-04-30")],
                       "stat_date": [pd.Timestamp("2020-03-31")], "roe_avg": [0.07]})
    out = align_fundamentals(df, days, ("600000.SH",), fields=("roe_avg",))["roe_avg"][:, 0]
    first = int(np.flatnonzero(np.isfinite(out))[0])
    assert days[first] == np.datetime64("2020-05-04", "ns")


def test_newest_quarter_wins_and_late_amendments_of_old_quarters_do_not():
    df = pd.DataFrame({
        "symbol": ["000001.SZ"] * 4,
        # annual report and Q1 published the same day; an amendment of the annual report later
        "pub_date": pd.to_datetime(["2020-04-21", "2020-04-21", "2020-05-06", "2020-05-11"]),
        "stat_date": pd.to_datetime(["2019-12-31", "2020-03-31", "2019-12-31", "2020-06-30"]),
        "roe_avg": [0.10, 0.03, 0.99, 0.06],
    })
    out = align_fundamentals(df, DAYS, ("000001.SZ",), fields=("roe_avg",))["roe_avg"][:, 0]
    assert out[_day("2020-04-22")] == 0.03
    assert out[_day("2020-05-07")] == 0.03  # the 2019 amendment does not replace 2020Q1
    assert out[_day("2020-05-12")] == 0.06


def test_restatement_of_the_newest_quarter_replaces_it():
    df = pd.DataFrame({
        "symbol": ["000001.SZ"] * 2, "pub_date": pd.to_datetime(["2020-04-21", "2020-05-06"]),
        "stat_date": pd.to_datetime(["2020-03-31", "2020-03-31"]), "roe_avg": [0.03, 0.02],
    })
    out = align_fundamentals(df, DAYS, ("000001.SZ",), fields=("roe_avg",))["roe_avg"][:, 0]
    assert out[_day("2020-05-06")] == 0.03
    assert out[_day("2020-05-07")] == 0.02


def test_fields_of_one_report_are_not_mixed_with_an_older_one():
    df = pd.DataFrame({
        "symbol": ["000001.SZ"] * 2, "pub_date": pd.to_datetime(["2020-04-21", "2020-04-27"]),
        "stat_date": pd.to_datetime(["2019-12-31", "2020-03-31"]),
        "roe_avg": [0.10, 0.03], "gp_margin": [0.4, np.nan],
    })
    out = align_fundamentals(df, DAYS, ("000001.SZ",), fields=("roe_avg", "gp_margin"))
    assert np.isnan(out["gp_margin"][_day("2020-04-28"), 0])


def test_valuation_of_a_day_is_known_that_day_and_carried_over_gaps():
    df = pd.DataFrame({"symbol": ["600519.SH"] * 2, "date": pd.to_datetime(["2020-04-22", "2020-04-24"]),
                       "pe_ttm": [40.0, -5.0]})
    out = align_valuation(df, DAYS, ("600519.SH", "000001.SZ"), fields=("pe_ttm",))["pe_ttm"]
    assert np.isnan(out[_day("2020-04-21"), 0])
    assert out[_day("2020-04-22"), 0] == 40.0
    assert out[_day("2020-04-23"), 0] == 40.0
    assert out[_day("2020-04-24"), 0] == -5.0
    assert np.isnan(out[:, 1]).all()


def test_real_fundamentals_match_a_brute_force_point_in_time_lookup(cn_daily_path):
    path = cn_daily_path.parent / "cn_fundamentals.parquet"
    if not path.exists():
        pytest.skip("shared fundamentals not present")
    df = load_fundamentals(path)
    symbols = tuple(sorted(df["symbol"].unique())[::40])
    days = np.array(pd.bdate_range("2019-01-01", "2020-12-31"), dtype="datetime64[ns]")
    out = align_fundamentals(df, days, symbols, fields=("yoy_ni",))["yoy_ni"]
    for c, sym in enumerate(symbols):
        rows = df[df["symbol"] == sym]
        for t in range(0, len(days), 7):
            day = pd.Timestamp(days[t])
            public = rows[rows["pub_date"] < day.normalize()]
            if public.empty:
                assert np.isnan(out[t, c])
                continue
            best = public.sort_values(["stat_date", "pub_date"]).iloc[-1]
            expect = best["yoy_ni"]
            assert (np.isnan(out[t, c]) and np.isnan(expect)) or out[t, c] == expect, (sym, day)


def test_loaders_say_what_is_wrong(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_valuation(tmp_path / "nope.parquet")
    bad = tmp_path / "f.csv"
    bad.write_text("symbol,stat_date,roe_avg\n600000.SH,2020-03-31,0.1\n")
    with pytest.raises(DataError, match="pub_date"):
        load_fundamentals(bad)
