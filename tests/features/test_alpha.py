"""Alpha158 / Alpha360 features: look-ahead free, matching naive per-column formulas, adjusted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nofx.data.panel import BarPanel
from nofx.features.adjusted import adjust_panel, adjustment_factor
from nofx.features.alpha import alpha158, alpha158_names, alpha360_names, alpha360_window
from nofx.features.causality import assert_causal


@pytest.fixture(scope="module")
def real_panel(cn_daily_path) -> BarPanel:
    df = pd.read_parquet(cn_daily_path, filters=[("symbol", "in", ["600519.SH", "000001.SZ", "300750.SZ",
                                                                   "601318.SH", "000858.SZ", "600036.SH"])])
    df = df[(df["date"] >= "2019-06-01") & (df["date"] <= "2020-06-30")].rename(columns={"date": "datetime"})
    return BarPanel.from_frame(df)


def test_alpha158_has_158_documented_columns(real_panel):
    cols = alpha158(adjust_panel(real_panel))
    assert list(cols) == alpha158_names() and len(cols) == 158
    assert all(a.shape == real_panel.shape for a in cols.values())
    # full 60-day windows exist after the warm-up: late rows are mostly finite
    late = np.stack([a[-20:] for a in cols.values()])
    assert np.isfinite(late).mean() > 0.95


def test_alpha158_is_causal(real_panel):
    assert_causal(lambda p: alpha158(adjust_panel(p)), real_panel, n_checks=2, atol=1e-9, min_cut=100)


def test_alpha360_window_is_causal(real_panel):
    def windows(p: BarPanel) -> np.ndarray:
        b = adjust_panel(p)
        return np.stack([alpha360_window(b, t, 20) for t in range(len(p.timestamps))])

    assert_causal(windows, real_panel, n_checks=2, min_cut=40)


def test_alpha158_values_match_naive_formulas(real_panel):
    b = adjust_panel(real_panel)
    cols = alpha158(b)
    j, t, d = 0, 200, 20
    c, h, lo, v = b.close[:, j], b.high[:, j], b.low[:, j], b.volume[:, j]
    w = c[t - d + 1: t + 1]
    assert cols["MA20"][t, j] == pytest.approx(w.mean() / c[t])
    assert cols["ROC20"][t, j] == pytest.approx(c[t - d] / c[t])
    assert cols["STD20"][t, j] == pytest.approx(w.std() / c[t])
    x = np.arange(d)
    slope, icpt = np.polyfit(x, w, 1)
    assert cols["BETA20"][t, j] == pytest.approx(slope / c[t], rel=1e-6)
    assert cols["RSQR20"][t, j] == pytest.approx(np.corrcoef(x, w)[0, 1] ** 2, rel=1e-6)
    assert cols["RESI20"][t, j] == pytest.approx((w[-1] - (icpt + slope * (d - 1))) / c[t], rel=1e-5, abs=1e-9)
    assert cols["IMAX20"][t, j] == pytest.approx((np.argmax(h[t - d + 1: t + 1]) + 1) / d)
    assert cols["IMIN20"][t, j] == pytest.approx((np.argmin(lo[t - d + 1: t + 1]) + 1) / d)
    assert cols["RANK20"][t, j] == pytest.approx(pd.Series(w).rank(pct=True).iloc[-1])
    assert cols["CORR20"][t, j] == pytest.approx(np.corrcoef(w, np.log(v[t - d + 1: t + 1] + 1))[0, 1], rel=1e-6)
    dc = np.diff(c[t - d: t + 1])
    assert cols["CNTP20"][t, j] == pytest.approx((dc > 0).mean())
    assert cols["SUMP20"][t, j] == pytest.approx(dc.clip(0).sum() / np.abs(dc).sum(), rel=1e-6)
    assert cols["KMID"][t, j] == pytest.approx((c[t] - b.open[t, j]) / b.open[t, j])


def test_adjustment_removes_ex_dividend_gap():
    # day 2 is an ex-date: preclose 9.0 (after a 1.0 dividend) while yesterday closed at 10.0
    close = np.array([[10.0], [10.0], [9.0], [9.9]])
    preclose = np.array([[np.nan], [10.0], [9.0], [9.0]])
    f = adjustment_factor(close, preclose)
    adj = close * f
    assert adj[2, 0] == pytest.approx(10.0)  # no fake -10% return on the ex-date
    assert adj[3, 0] / adj[2, 0] == pytest.approx(1.1)  # the real move after it is kept


def test_alpha360_window_shape_scale_and_padding():
    df = pd.DataFrame({"symbol": "600000.SH", "datetime": pd.bdate_range("2020-01-01", periods=5),
                       "open": 10.0, "high": 11.0, "low": 9.0, "close": [10.0, 11, 12, 13, 14],
                       "volume": [100.0, 200, 0, 400, 500], "amount": 1000.0, "trade_status": [1, 1, 0, 1, 1]})
    b = adjust_panel(BarPanel.from_frame(df))
    w = alpha360_window(b, 4, length=6)
    assert w.shape == (1, 6, 6) and len(alpha360_names(6)) == 36
    assert np.isnan(w[0, 0]).all()  # before the first bar: padding
    assert np.isnan(w[0, 3]).all()  # the suspended day carries no information
    assert w[0, -1, 0] == pytest.approx(1.0) and w[0, -1, 5] == pytest.approx(1.0)  # today / today
    assert w[0, 1, 0] == pytest.approx(10 / 14) and w[0, 1, 5] == pytest.approx(100 / 500)
