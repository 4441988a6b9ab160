"""The batched Engle-Granger test must reproduce statsmodels' ``coint`` on real pairs."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from statsmodels.tsa.adfvalues import mackinnonp
from statsmodels.tsa.stattools import coint

from nofx.domain.errors import DataError
from nofx.models.cointegration import default_maxlag, engle_granger, mackinnon_pvalue, screen_pairs

TOL = 1e-6


@pytest.fixture(scope="module")
def closes_2020(cn_daily_path) -> pd.DataFrame:
    """Closes of 30 stocks with a bar on every day of 2020 (one year of real prices)."""
    df = pd.read_parquet(cn_daily_path, columns=["symbol", "date", "close"],
                         filters=[("date", ">=", pd.Timestamp("2020-01-01")), ("date", "<=", pd.Timestamp("2020-12-31"))])
    wide = df.pivot(index="date", columns="symbol", values="close")
    wide = wide.loc[:, wide.notna().all() & ~wide.columns.str.startswith(("000300", "000001.SH", "000905",
                                                                          "000016", "399"))]
    return wide.iloc[:, :: max(1, wide.shape[1] // 30)].iloc[:, :30]


def _reference(y: np.ndarray, x: np.ndarray, **kw) -> tuple[np.ndarray, np.ndarray]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = [coint(y[p], x[p], trend="c", **kw) for p in range(len(y))]
    return np.array([o[0] for o in out]), np.array([o[1] for o in out])


def _sample_pairs(wide: pd.DataFrame, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    i, j = np.triu_indices(wide.shape[1], k=1)
    pick = rng.choice(len(i), size=min(n, len(i)), replace=False)
    v = wide.to_numpy()
    return v[:, i[pick]].T, v[:, j[pick]].T


@pytest.mark.parametrize("kw", [dict(autolag="aic"), dict(autolag="bic", maxlag=6),
                                dict(autolag=None, maxlag=0), dict(autolag=None, maxlag=4)],
                         ids=["aic-default-maxlag", "bic-maxlag6", "fixed-lag0", "fixed-lag4"])
def test_matches_statsmodels_coint_on_real_pairs(closes_2020, kw):
    y, x = _sample_pairs(closes_2020, 40, seed=7)
    ours = engle_granger(y, x, **kw)
    stat, pvalue = _reference(y, x, **kw)
    np.testing.assert_allclose(ours.stat, stat, rtol=0, atol=TOL)
    np.testing.assert_allclose(ours.pvalue, pvalue, rtol=0, atol=TOL)


def test_matches_statsmodels_across_chunk_boundaries(closes_2020):
    y, x = _sample_pairs(closes_2020, 25, seed=3)
    whole = engle_granger(y, x, chunk=1000)
    chunked = engle_granger(y, x, chunk=4)
    np.testing.assert_array_equal(whole.lag, chunked.lag)
    np.testing.assert_allclose(whole.stat, chunked.stat, rtol=0, atol=1e-12)


@pytest.mark.slow
def test_every_pair_of_30_stocks_matches_statsmodels(closes_2020):
    v = closes_2020.to_numpy()
    i, j = np.triu_indices(v.shape[1], k=1)
    ours = engle_granger(v[:, i].T, v[:, j].T)
    stat, pvalue = _reference(v[:, i].T, v[:, j].T, autolag="aic")
    np.testing.assert_allclose(ours.stat, stat, rtol=0, atol=TOL)
    np.testing.assert_allclose(ours.pvalue, pvalue, rtol=0, atol=TOL)


def test_hedge_ratio_is_ols_with_intercept(closes_2020):
    y, x = _sample_pairs(closes_2020, 5, seed=1)
    res = engle_granger(y, x, autolag=None, maxlag=1)
    for p in range(5):
        slope, intercept = np.polyfit(x[p], y[p], 1)
        assert res.beta[p] == pytest.approx(slope, rel=1e-9)
        assert res.alpha[p] == pytest.approx(intercept, rel=1e-9, abs=1e-9)


def test_default_maxlag_is_statsmodels_schwert_rule():
    assert default_maxlag(252) == 16  # ceil(12 * 2.52 ** 0.25)
    assert default_maxlag(20) == 9  # capped at n // 2 - 1


def test_mackinnon_pvalue_equals_statsmodels_pointwise():
    stats = np.concatenate([np.linspace(-25, 5, 601), [-np.inf, 40.0, -40.0]])
    ours = mackinnon_pvalue(stats, n_series=2, regression="c")
    ref = np.array([mackinnonp(s, regression="c", N=2) for s in stats])
    np.testing.assert_array_equal(ours, ref)


def test_perfectly_collinear_pair_reports_minus_inf_like_statsmodels():
    rng = np.random.default_rng(0)
    x = 50 + np.cumsum(rng.normal(size=200))
    y = 3.0 + 2.0 * x
    res = engle_granger(y[None, :], x[None, :])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = coint(y, x)
    assert res.stat[0] == -np.inf == ref[0]
    assert res.pvalue[0] == 0.0 == ref[1]


def test_screen_keeps_significant_pairs_best_first(closes_2020):
    prices = closes_2020.to_numpy()
    symbols = tuple(closes_2020.columns)
    everything = screen_pairs(prices, symbols, pvalue_max=1.0 + 1e-9)
    n = len(symbols)
    assert len(everything) == n * (n - 1) // 2
    # each unordered pair once, y before x in the given symbol order
    pos = {s: k for k, s in enumerate(symbols)}
    assert all(pos[a] < pos[b] for a, b in zip(everything["y"], everything["x"]))
    kept = screen_pairs(prices, symbols)
    assert (kept["pvalue"] < 0.05).all()
    assert kept["pvalue"].is_monotonic_increasing
    assert len(kept) == int((everything["pvalue"] < 0.05).sum())


def test_screen_leaves_out_incomplete_columns(closes_2020):
    prices = closes_2020.to_numpy().copy()
    prices[10, 0] = np.nan
    out = screen_pairs(prices, tuple(closes_2020.columns), pvalue_max=1.1)
    assert closes_2020.columns[0] not in set(out["y"]) | set(out["x"])
    n = closes_2020.shape[1] - 1
    assert len(out) == n * (n - 1) // 2


def test_bad_input_raises_data_error():
    y = np.ones((2, 50))
    with pytest.raises(DataError):
        engle_granger(y, np.ones((2, 49)))
    with pytest.raises(DataError):
        engle_granger(np.full((1, 50), np.nan), np.ones((1, 50)))
    with pytest.raises(DataError):
        engle_granger(np.arange(50.0)[None], np.arange(50.0)[None] ** 1.5, maxlag=30, autolag=None)
