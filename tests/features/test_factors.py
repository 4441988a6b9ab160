"""Factors are causal and oriented; the cross-sectional processing and IC maths do what they say."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nofx.data.bars import read_bars
from nofx.data.panel import BarPanel
from nofx.domain.errors import ConfigError
from nofx.features.factors import (
    FACTOR_NAMES,
    adjusted_close,
    compute_factors,
    eligible_mask,
    forward_returns,
    ic_summary,
    information_coefficients,
    momentum,
    process_cross_section,
    quantile_returns,
    volatility,
    winsorize_mad,
    zscore,
)
from nofx.features.fundamentals import align_fundamentals, align_valuation, load_fundamentals, load_valuation

SYMBOLS = ["600000.SH", "600036.SH", "600519.SH", "000001.SZ", "000002.SZ", "000333.SZ", "000858.SZ",
           "601318.SH", "600276.SH", "002415.SZ", "300750.SZ", "600030.SH", "601166.SH", "000651.SZ",
           "600887.SH", "601888.SH", "002594.SZ", "600309.SH", "000725.SZ", "600900.SH"]


@pytest.fixture(scope="module")
def panel(cn_daily_path) -> BarPanel:
    df = read_bars(cn_daily_path, start="2020-01-01", end="2020-12-31")
    have = set(df["symbol"].unique())
    return BarPanel.from_frame(df[df["symbol"].isin([s for s in SYMBOLS if s in have] + ["000300.SH"])])


@pytest.fixture(scope="module")
def pit(panel, cn_daily_path):
    vpath = cn_daily_path.parent / "cn_valuation.parquet"
    fpath = cn_daily_path.parent / "cn_fundamentals.parquet"
    if not (vpath.exists() and fpath.exists()):
        pytest.skip("shared valuation/fundamentals not present")
    val = align_valuation(load_valuation(vpath), panel.timestamps, panel.symbols)
    fun = align_fundamentals(load_fundamentals(fpath), panel.timestamps, panel.symbols)
    return val, fun


def _truncate(panel: BarPanel, t: int) -> BarPanel:
    return BarPanel(panel.timestamps[:t], panel.symbols, {k: v[:t] for k, v in panel.fields.items()})


def test_every_factor_is_causal(panel, pit):
    """Row t of a factor computed on the full panel equals row t computed on rows <= t only."""
    full = compute_factors(panel, *pit)
    assert set(full) == set(FACTOR_NAMES)
    for t in (25, 90, 200):
        cut = _truncate(panel, t + 1)
        val = {k: v[: t + 1] for k, v in pit[0].items()}
        fun = {k: v[: t + 1] for k, v in pit[1].items()}
        part = compute_factors(cut, val, fun)
        for name in FACTOR_NAMES:
            np.testing.assert_array_equal(part[name][t], full[name][t], err_msg=f"{name} row {t}")


def test_momentum_and_volatility_definitions():
    adj = np.array([[10.0], [11.0], [12.1], [12.1], [13.31]])
    np.testing.assert_allclose(momentum(adj, 2)[2:, 0], [12.1 / 10 - 1, 12.1 / 11 - 1, 13.31 / 12.1 - 1])
    assert np.isnan(momentum(adj, 2)[:2]).all()
    vol = volatility(adj, 3)
    assert np.isnan(vol[:3]).all()
    np.testing.assert_allclose(vol[3, 0], np.std([0.1, 0.1, 0.0], ddof=1))


def test_adjusted_close_removes_ex_dividend_gap():
    # day 2 goes ex-dividend: preclose 9.0 instead of 10.0, close stays at 9.0 -> no return
    df = pd.DataFrame({"symbol": "600000.SH", "datetime": pd.bdate_range("2020-01-01", periods=3),
                       "open": [10.0, 10.0, 9.0], "high": 10.0, "low": 9.0, "close": [10.0, 10.0, 9.0],
                       "preclose": [10.0, 10.0, 9.0], "volume": 100.0})
    adj = adjusted_close(BarPanel.from_frame(df))[:, 0]
    assert adj[2] / adj[1] == pytest.approx(1.0)


def test_loss_making_pe_ranks_low_on_earnings_yield():
    df = pd.DataFrame({"symbol": ["600000.SH", "600036.SH", "600519.SH"], "datetime": pd.Timestamp("2020-01-02"),
                       "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": 1.0})
    panel = BarPanel.from_frame(df)
    pe = np.array([[-5.0, 8.0, 40.0]])  # the loss maker has the lowest raw PE
    ey = compute_factors(panel, valuation={"pe_ttm": pe, "pb_mrq": pe})["earnings_yield"][0]
    assert np.argmin(ey) == 0 and np.argmax(ey) == 1


def test_winsorize_clips_outliers_only_within_mask():
    x = np.array([[1.0, 2.0, 3.0, 4.0, 1000.0, 5.0]])
    mask = np.array([[True, True, True, True, True, False]])
    w = winsorize_mad(x, mask, n_mad=3.0)
    assert np.isnan(w[0, 5])
    assert w[0, 4] < 10  # 1000 clipped to median + 3 scaled MADs
    np.testing.assert_array_equal(w[0, :4], x[0, :4])
    z = zscore(w)
    assert np.nanmean(z) == pytest.approx(0.0, abs=1e-12)
    assert np.nanstd(z) == pytest.approx(1.0)


def test_composite_weights_coverage_and_mask():
    a = np.array([[1.0, 2.0, 3.0, np.nan]])
    b = np.array([[3.0, 2.0, 1.0, 5.0]])
    mask = np.ones_like(a, dtype=bool)
    only_a = process_cross_section({"roe": a, "ni_growth": b}, mask, {"roe": 1.0, "ni_growth": 0.0})
    assert np.nanargmax(only_a.composite[0]) == 2
    both = process_cross_section({"roe": a, "ni_growth": b}, mask, {"roe": 1.0, "ni_growth": 1.0},
                                 min_coverage=0.75)
    assert np.isnan(both.composite[0, 3])  # lacks half of the weight
    lenient = process_cross_section({"roe": a, "ni_growth": b}, mask, {"roe": 1.0, "ni_growth": 1.0},
                                    min_coverage=0.5)
    assert np.isfinite(lenient.composite[0, 3])
    with pytest.raises(ConfigError):
        process_cross_section({"roe": a}, mask, {"pe": 1.0})


def test_eligibility_excludes_indices_st_suspended_and_new_listings():
    days = pd.bdate_range("2020-01-01", periods=10)
    rows = []
    for k, d in enumerate(days):
        rows.append(("600000.SH", d, 1, 0, 100.0))
        rows.append(("600036.SH", d, 0 if k == 5 else 1, 0, 0.0 if k == 5 else 100.0))  # suspended day 5
        rows.append(("600519.SH", d, 1, 1 if k >= 3 else 0, 100.0))  # becomes ST on day 3
        rows.append(("000300.SH", d, 1, 0, 100.0))
        if k >= 4:
            rows.append(("601318.SH", d, 1, 0, 100.0))  # lists on day 4
    df = pd.DataFrame(rows, columns=["symbol", "datetime", "trade_status", "is_st", "volume"])
    df["open"] = df["high"] = df["low"] = df["close"] = 10.0
    panel = BarPanel.from_frame(df)
    m = eligible_mask(panel, min_listed_days=3)
    col = {s: k for k, s in enumerate(panel.symbols)}
    assert m[:, col["600000.SH"]].all()
    assert not m[:, col["000300.SH"]].any()
    assert not m[5, col["600036.SH"]] and m[6, col["600036.SH"]]
    assert m[2, col["600519.SH"]] and not m[3:, col["600519.SH"]].any()
    assert not m[4:6, col["601318.SH"]].any() and m[6:, col["601318.SH"]].all()


def test_ic_of_a_perfect_and_of_a_reversed_factor():
    rng = np.random.default_rng(0)
    fwd = rng.normal(size=(6, 50))
    ic, ric = information_coefficients(fwd, fwd, rows=range(6))
    np.testing.assert_allclose(ic, 1.0)
    np.testing.assert_allclose(ric, 1.0)
    ic, ric = information_coefficients(-fwd ** 3, fwd, rows=range(6))
    np.testing.assert_allclose(ric, -1.0)
    assert (ic > -1.0).all() and (ic < -0.5).all()  # Pearson sees the cube as not exactly linear
    s = ic_summary(np.array([0.1, 0.3]), np.array([0.2, 0.2]))
    assert s["ic"] == pytest.approx(0.2) and s["icir"] == pytest.approx(0.2 / np.std([0.1, 0.3], ddof=1))
    assert np.isnan(s["rank_icir"])  # no spread over periods: the IR is undefined, not infinite


def test_quantile_returns_are_monotone_for_a_perfect_factor():
    fwd = np.tile(np.arange(20.0), (3, 1)) / 100
    q = quantile_returns(fwd, fwd, rows=[0, 2], timestamps=pd.bdate_range("2020-01-01", periods=3).to_numpy(),
                         quantiles=4)
    assert list(q.columns) == [1, 2, 3, 4] and len(q) == 2
    assert q.iloc[0].is_monotonic_increasing
    assert q.iloc[0, 0] == pytest.approx(np.mean([0, 1, 2, 3, 4]) / 100)


def test_forward_returns_look_ahead_by_horizon():
    adj = np.array([[1.0], [2.0], [4.0]])
    np.testing.assert_allclose(forward_returns(adj, 1)[:2, 0], [1.0, 1.0])
    assert np.isnan(forward_returns(adj, 1)[2, 0])


def test_factors_without_any_input_leave_the_coverage_total():
    """No fundamentals file (or HK stocks): the composite is built from the factors that exist."""
    a = np.array([[1.0, 2.0, 3.0]])
    mask = np.ones_like(a, dtype=bool)
    cs = process_cross_section({"momentum_20": a}, mask, {name: 1.0 for name in FACTOR_NAMES}, min_coverage=0.75)
    assert np.isfinite(cs.composite).all() and np.argmax(cs.composite[0]) == 2
    assert set(cs.z) == {"momentum_20"}
