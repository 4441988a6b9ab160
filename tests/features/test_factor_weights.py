"""Composite weights learned point in time from trailing rank ICs (issue 9: the multi-factor example's
static composite had rank IC -0.037 over its own period), and the factor report's dating of outcomes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nofx.data.bars import read_bars
from nofx.data.panel import BarPanel
from nofx.features.causality import assert_causal
from nofx.features.factors import (
    build_composite,
    compute_factors,
    eligible_mask,
    evaluate_factors,
    point_in_time_ic_weights,
)
from nofx.report.figures import cumulative_ic_figure, quantile_returns_figure

SYMBOLS = ["600000.SH", "600036.SH", "600519.SH", "000001.SZ", "000002.SZ", "000333.SZ", "000858.SZ", "601318.SH",
           "600276.SH", "002415.SZ", "600030.SH", "601166.SH", "000651.SZ", "600887.SH", "600309.SH", "600900.SH"]


def _synthetic(T: int = 400, N: int = 60, seed: int = 0):
    rng = np.random.default_rng(seed)
    fwd = rng.normal(size=(T, N))
    z = {"good": fwd + rng.normal(size=(T, N)),  # rank IC about +0.7
         "bad": -fwd + rng.normal(size=(T, N)),  # about -0.7: the data says flip it
         "noise": rng.normal(size=(T, N))}
    return z, fwd


def test_signs_and_weights_come_from_the_trailing_ics():
    z, fwd = _synthetic()
    w = point_in_time_ic_weights(z, fwd, horizon=20, lookback=100, prior={"good": 1, "bad": 1, "noise": 1})
    late = slice(200, 400)
    assert (w["good"][late] > 0.4).all() and (w["bad"][late] < -0.4).all()
    assert (np.abs(w["noise"][late]) < 0.1).all()
    total = np.abs(w["good"]) + np.abs(w["bad"]) + np.abs(w["noise"])
    assert np.allclose(total, 1.0)
    # before 20 ICs are known (rows < horizon + 20), the prior, scaled to a total of 1
    assert np.allclose(w["bad"][:39], 1 / 3) and not np.isclose(w["bad"][40], 1 / 3)


def test_weights_at_t_use_only_returns_known_by_t():
    z, fwd = _synthetic()
    h = 20
    base = point_in_time_ic_weights(z, fwd, horizon=h, lookback=100, prior={"good": 1, "bad": 1, "noise": 1})
    rng = np.random.default_rng(1)
    for t in (60, 150, 333):
        # forward returns of rows s > t - h end after t: unknown at t, so changing them changes nothing up to t
        moved = fwd.copy()
        moved[t - h + 1:] = rng.normal(size=moved[t - h + 1:].shape)
        w = point_in_time_ic_weights(z, moved, horizon=h, lookback=100, prior={"good": 1, "bad": 1, "noise": 1})
        for name in z:
            np.testing.assert_array_equal(w[name][: t + 1], base[name][: t + 1])
        # ...while the return of row t - h (ending at t) is known at t and does count
        moved = fwd.copy()
        moved[t - h] = -moved[t - h] * 5
        w = point_in_time_ic_weights(z, moved, horizon=h, lookback=100, prior={"good": 1, "bad": 1, "noise": 1})
        assert not np.array_equal(w["good"][t], base["good"][t])


@pytest.fixture(scope="module")
def panel(cn_daily_path) -> BarPanel:
    return BarPanel.from_frame(read_bars(cn_daily_path, symbols=SYMBOLS, start="2018-06-01", end="2020-12-31"))


def test_ic_weighted_composite_of_the_strategy_is_causal_on_real_data(panel):
    def composite(p: BarPanel) -> np.ndarray:
        factors = compute_factors(p)
        cs, _ = build_composite(p, factors, eligible_mask(p, 60), {"momentum_20": 1.0, "low_volatility_20": 1.0},
                                weighting="ic", ic_horizon=20, ic_lookback=120)
        return cs.composite

    assert_causal(composite, panel, n_checks=3, atol=1e-9)


def test_report_dates_each_outcome_at_the_end_of_its_holding_period_from_zero(panel):
    factors = compute_factors(panel)
    ev = evaluate_factors(panel, factors, {"momentum_20": 1.0, "low_volatility_20": -1.0}, horizon=20,
                          weighting="ic", ic_lookback=120)
    rows = list(range(21, panel.shape[0] - 20, 20))
    formed = pd.DatetimeIndex(panel.timestamps[rows])
    known = pd.DatetimeIndex(panel.timestamps[[t + 20 for t in rows]])
    assert ev.quantiles.index.equals(formed)
    q = ev.by_realisation(ev.quantiles)
    assert q.index[0] == formed[0] and (q.iloc[0] == 0).all()
    assert q.index[1:].equals(known)
    fig = quantile_returns_figure(q)
    line = fig.data[0]
    assert pd.Timestamp(line.x[0]) == formed[0] and line.y[0] == 0
    assert pd.Timestamp(line.x[1]) == known[0]  # the first period's return, where it is known
    assert line.y[1] == pytest.approx(ev.quantiles.iloc[0, 0])
    ic_fig = cumulative_ic_figure(ev.by_realisation(ev.rank_ic[["composite"]])["composite"])
    bars, cumulative = ic_fig.data
    assert bars.name == "IC per period" and cumulative.name == "cumulative IC"
    assert cumulative.y[0] == 0 and pd.Timestamp(cumulative.x[1]) == known[0]
    # each factor's learned direction (mean weight over the dates) is in the summary; on each date the
    # absolute weights sum to 1, so their means (signs may flip over time) sum to at most 1
    w = ev.summary.drop(index="composite")["weight"]
    assert set(w.index) == {"momentum_20", "low_volatility_20"} and 0 < w.abs().sum() <= 1 + 1e-9


def _figures(html: str) -> list[list[dict]]:
    """The traces of each plotly figure on a report page (numeric arrays may be base64-typed)."""
    import base64
    import json
    import re

    def values(v):
        if isinstance(v, dict) and "bdata" in v:
            return np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"])).tolist()
        return v

    figs = [json.loads(js) for js in re.findall(r'Plotly\.newPlot\(\s*"[^"]+",\s*(\[.*?\]),\s*\{', html, re.S)]
    return [[{**t, "x": values(t.get("x")), "y": values(t.get("y"))} for t in fig] for fig in figs]


def test_report_page_plots_outcomes_when_known_from_zero(cn_daily_path, tmp_path):
    from typer.testing import CliRunner

    from nofx.cli.factors import app

    out = tmp_path / "f.html"
    r = CliRunner().invoke(app, ["report", "--data", str(cn_daily_path), "--symbols", ",".join(SYMBOLS[:12]),
                                 "--start", "2019-01-01", "--end", "2020-12-31", "--html", str(out)])
    assert r.exit_code == 0, r.output
    assert "sign" in r.output
    days = pd.DatetimeIndex(BarPanel.from_frame(read_bars(cn_daily_path, symbols=SYMBOLS[:12], start="2019-01-01",
                                                          end="2020-12-31")).timestamps)
    formed, known = days[21], days[41]  # first sample row (window + 1) and the end of its 20-day holding
    quantiles, _, ic = _figures(out.read_text(encoding="utf-8"))
    q1 = quantiles[0]
    assert pd.Timestamp(q1["x"][0]) == formed and q1["y"][0] == 0  # the curve starts at 0 when the book forms
    assert pd.Timestamp(q1["x"][1]) == known  # the first period's return is plotted when it is known
    bars, cumulative = ic
    assert bars["name"] == "IC per period" and cumulative["name"] == "cumulative IC"
    assert cumulative["y"][0] == 0 and pd.Timestamp(cumulative["x"][1]) == known
