"""Figure builders: the numbers they plot, and the generic page writer."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from plotly.offline import get_plotlyjs

from nofx.domain.enums import Side
from nofx.domain.fills import Fill
from nofx.report.figures import (
    cumulative_ic_figure,
    drawdown_figure,
    equity_figure,
    quantile_returns_figure,
    trades_figure,
    write_html_report,
)
from nofx.report.tables import dataframe_html

IDX = pd.bdate_range("2021-01-04", periods=5)


def test_equity_figure_rescales_the_benchmark_to_the_initial_equity():
    equity = pd.Series([1e6, 1.1e6, 1.05e6, 1.2e6, 1.3e6], index=IDX)
    bench = pd.Series([4000.0, np.nan, 4400.0, 4200.0, 4800.0], index=IDX, name="000300.SH")
    fig = equity_figure(equity, bench)
    strategy, benchmark = fig.data
    assert benchmark.name == "000300.SH"
    np.testing.assert_allclose(benchmark.y, [1e6, 1e6, 1.1e6, 1.05e6, 1.2e6])  # NaN day carried forward


def test_equity_figure_starts_a_late_benchmark_at_the_equity_of_that_day():
    equity = pd.Series([1e6, 1.1e6, 1.05e6, 1.2e6, 1.3e6], index=IDX)
    bench = pd.Series([np.nan, 10.0, 20.0, 20.0, 5.0], index=IDX)
    y = equity_figure(equity, bench, benchmark_name="CSI 300").data[1].y
    assert np.isnan(y[0])
    np.testing.assert_allclose(y[1:], [1.1e6, 2.2e6, 2.2e6, 0.55e6])


def test_drawdown_figure_is_the_fraction_under_the_running_peak():
    fig = drawdown_figure(pd.Series([100.0, 110.0, 88.0, 99.0, 121.0], index=IDX))
    np.testing.assert_allclose(fig.data[0].y, [0.0, 0.0, -0.2, -0.1, 0.0])


def test_trades_figure_marks_each_fill_of_its_symbol():
    ts = [datetime(2021, 1, 5, 9, 31), datetime(2021, 1, 7, 14, 55), datetime(2021, 1, 6)]
    fills = [Fill("1", "o1", "0700.HK", Side.BUY, 200, Decimal("512.50"), Decimal("130.41"), ts[0]),
             Fill("2", "o2", "0700.HK", Side.SELL, 100, Decimal("530.00"), Decimal("70.10"), ts[1]),
             Fill("3", "o3", "0005.HK", Side.BUY, 400, Decimal("40.00"), Decimal("20.00"), ts[2])]
    prices = pd.Series([510.0, 515.0, 520.0, 531.0, 529.0], index=IDX)
    fig = trades_figure("0700.HK", fills, prices)
    line, buys, sells = fig.data
    assert fig.layout.title.text == "0700.HK"
    assert list(line.y) == list(prices)
    assert list(buys.y) == [512.5] and buys.x[0] == pd.Timestamp(ts[0]) and buys.marker.symbol == "triangle-up"
    assert [list(c) for c in buys.customdata] == [[200, 130.41]]
    assert list(sells.y) == [530.0] and sells.marker.symbol == "triangle-down"
    assert len(trades_figure("9988.HK", fills).data) == 0  # no fills, no prices: an empty chart


def test_quantile_returns_figure_compounds_each_quantile():
    df = pd.DataFrame({1: [0.1, -0.1, np.nan], 5: [0.0, 0.2, 0.1]}, index=IDX[:3])
    fig = quantile_returns_figure(df)
    assert [t.name for t in fig.data] == ["Q1", "Q5"]
    np.testing.assert_allclose(fig.data[0].y, [0.1, -0.01, -0.01])
    np.testing.assert_allclose(fig.data[1].y, [0.0, 0.2, 0.32])
    bars = quantile_returns_figure(df, cumulative=False).data[0]
    np.testing.assert_allclose(bars.y, [0.0, 0.1])  # NaN skipped in the mean


def test_cumulative_ic_figure_sums_the_ic():
    ic = pd.Series([0.05, -0.02, np.nan, 0.04, 0.01], index=IDX)
    bars, line = cumulative_ic_figure(ic).data
    np.testing.assert_allclose(line.y, [0.05, 0.03, 0.03, 0.07, 0.08])
    assert bars.yaxis == "y2" and line.yaxis == "y"


def test_write_html_report_mixes_figures_and_html_and_inlines_plotly_once(tmp_path):
    fig = go.Figure(go.Scatter(x=[1, 2], y=[3, 4]))
    table = dataframe_html(pd.DataFrame({"rank": [1, 2], "ic": [0.031, 0.00012]}))
    out = write_html_report([("IC <by day>", fig), ("Table", table), ("Again", fig)],
                            tmp_path / "ic.html", title="Factor IC", plotly="inline")
    text = out.read_text(encoding="utf-8")
    assert text.count(get_plotlyjs()[:40]) == 1
    assert not (tmp_path / "plotly.min.js").exists()
    assert text.count('class="plotly-graph-div"') == 2
    assert "<h2>IC &lt;by day&gt;</h2>" in text
    assert '<td class="num">0.03</td>' in text and '<td class="num">0.00012</td>' in text


@pytest.mark.parametrize("head,tail,shown,note", [(None, None, 7, None), (2, 2, 4, "3 rows not shown"),
                                                  (5, 5, 7, None)])
def test_dataframe_html_keeps_first_and_last_rows(head, tail, shown, note):
    text = dataframe_html(pd.DataFrame({"n": range(7)}), head=head, tail=tail)
    assert text.count('<td class="num">') == shown
    assert (note in text) if note else ("not shown" not in text)


def test_shared_plotly_is_one_file_beside_the_reports(tmp_path):
    fig = go.Figure(go.Scatter(x=[1, 2], y=[3, 4]))
    for name in ("a.html", "b.html"):
        text = write_html_report([("F", fig)], tmp_path / name, title=name).read_text(encoding="utf-8")
        assert '<script src="plotly.min.js" charset="utf-8"></script>' in text
        assert get_plotlyjs()[:40] not in text and len(text.encode()) < 20_000
    assert (tmp_path / "plotly.min.js").read_text(encoding="utf-8") == get_plotlyjs()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.html", "b.html", "plotly.min.js"]


def test_unknown_plotly_mode_is_refused(tmp_path):
    with pytest.raises(ValueError, match="plotly mode"):
        write_html_report([], tmp_path / "x.html", title="x", plotly="cdn")  # type: ignore[arg-type]
