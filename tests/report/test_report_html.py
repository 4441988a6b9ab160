"""The offline backtest report: plotly.js loaded once from the report's folder (or inlined), never from a
CDN, a chart per traded symbol."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from plotly.offline import get_plotlyjs

from nofx.backtest.metrics import compute_metrics
from nofx.backtest.result import BacktestResult
from nofx.domain.enums import Side
from nofx.domain.fills import Fill
from nofx.report.html import most_traded_symbols, write_backtest_report

PLOTLY_BANNER = get_plotlyjs()[:40]  # "/**\n* plotly.js vX.Y.Z\n* Copyright ..."


def _plot_divs(text: str) -> int:
    return text.count('class="plotly-graph-div"')


def test_report_is_one_offline_file_with_all_parts(small_result, tmp_path):
    out = write_backtest_report(small_result, tmp_path / "sub" / "report.html")
    assert out == tmp_path / "sub" / "report.html" and out.exists()
    text = out.read_text(encoding="utf-8")

    # plotly.js from one shared file beside the report, nothing fetched from a CDN
    assert re.findall(r"<script[^>]*\bsrc=\"([^\"]+)\"", text) == ["plotly.min.js"]
    assert (tmp_path / "sub" / "plotly.min.js").read_text(encoding="utf-8").startswith(PLOTLY_BANNER)
    # equity + drawdown + excess + exposure + PnL by symbol + one price chart per traded symbol (too short
    # for rolling statistics)
    assert _plot_divs(text) == 5 + 2
    assert "Trades: 600519.SH" in text and "Trades: 000001.SZ" in text
    assert "<title>Backtest: demo_momentum</title>" in text
    # metrics formatted, the unrecovered drawdown spelled out
    assert "0.35%" in text and "1.23" in text and "not recovered" in text
    # trades table with exact Decimal prices, rejections counted by code, text escaped
    assert "2077.77" in text and "259.72" in text
    assert re.search(r"<td>RISK_CASH</td><td class=\"num\">2</td>", text)
    assert "bought today &lt;sold&gt;" in text and "<sold>" not in text
    assert "lookback=20" in text and "2021-01-04 .. 2021-01-15 (10 slices)" in text
    assert "<td>2021-01-13</td><td>600519.SH</td><td>sell</td>" in text
    # the hover of the fill markers carries quantity, price and fee
    assert "fee %{customdata[1]" in text


def test_report_without_benchmark_prices_or_metrics(small_result, tmp_path):
    bare = replace(small_result, benchmark=None, prices=None, metrics={}, rejections=[], trades=[])
    text = write_backtest_report(bare, tmp_path / "r.html", title="Bare run").read_text(encoding="utf-8")
    assert "<title>Bare run</title>" in text
    assert _plot_divs(text) == 3  # equity, drawdown, exposure
    assert "No trades." in text and "No rejected orders." in text and "No metrics were computed" in text
    # metrics passed explicitly are used instead of the empty result.metrics
    m = compute_metrics(small_result.equity["equity"])
    text = write_backtest_report(bare, tmp_path / "r2.html", metrics=m).read_text(encoding="utf-8")
    assert "Annual volatility" in text and "No metrics were computed" not in text


def _fill(i: int, symbol: str, side: Side, qty: int, price: float, ts: datetime) -> Fill:
    return Fill(f"f{i}", f"o{i}", symbol, side, qty, Decimal(f"{price:.2f}"), Decimal("5.00"), ts)


def test_most_traded_symbols_ranks_by_fill_count_then_notional():
    t = datetime(2021, 1, 4)
    trades = [_fill(1, "A", Side.BUY, 100, 10.0, t), _fill(2, "A", Side.SELL, 100, 10.0, t),
              _fill(3, "B", Side.BUY, 100, 50.0, t), _fill(4, "C", Side.BUY, 100, 5.0, t),
              _fill(5, "B", Side.SELL, 100, 50.0, t), _fill(6, "D", Side.BUY, 100, 99.0, t)]
    assert most_traded_symbols(trades, 10) == ["B", "A", "D", "C"]
    assert most_traded_symbols(trades, 2) == ["B", "A"]


def _big_result(n_days: int = 750, n_symbols: int = 30, fills_per_day: int = 4) -> BacktestResult:
    """A 3-year, 30-stock backtest shape: random-walk closes and a few fills every day."""
    rng = np.random.default_rng(7)
    idx = pd.bdate_range("2019-01-02", periods=n_days)
    symbols = [f"{600000 + i:06d}.SH" for i in range(n_symbols)]
    closes = pd.DataFrame(20.0 * np.exp(np.cumsum(rng.normal(0, 0.02, (n_days, n_symbols)), axis=0)),
                          index=idx, columns=symbols).round(2)
    trades = []
    for d, ts in enumerate(idx):
        for k in range(fills_per_day):
            s = symbols[rng.integers(n_symbols)]
            side = Side.BUY if rng.random() < 0.5 else Side.SELL
            trades.append(_fill(len(trades), s, side, 100 * int(rng.integers(1, 20)), closes.at[ts, s],
                                ts.to_pydatetime() + timedelta(hours=9, minutes=31)))
    equity = 1e6 * np.exp(np.cumsum(rng.normal(0.0003, 0.01, n_days)))
    return BacktestResult(
        strategy="big", params={}, initial_cash=Decimal(1_000_000), trades=trades,
        equity=pd.DataFrame({"equity": equity.round(2), "cash": (equity * 0.1).round(2)}, index=idx),
        rejections=[], benchmark=pd.Series(4000 * np.exp(np.cumsum(rng.normal(0, 0.01, n_days))), index=idx),
        prices=closes,
    )


def test_report_of_a_three_year_thirty_stock_run_stays_small(tmp_path):
    result = _big_result()
    result.metrics = compute_metrics(result.equity["equity"], result.benchmark, result.trades)
    text = write_backtest_report(result, tmp_path / "big.html").read_text(encoding="utf-8")
    assert _plot_divs(text) == 6 + 10  # capped at the 10 most-traded symbols
    assert "20 less-traded symbols" in text
    assert "2,900 rows not shown" in text  # 3,000 fills, first and last 50 shown
    assert get_plotlyjs()[:40] not in text
    data_bytes = len(text.encode())
    assert data_bytes < 1_500_000, f"report data takes {data_bytes:,d} bytes besides plotly.js"


@pytest.mark.parametrize("bad_title", ["<script>alert(1)</script>"])
def test_title_is_escaped(small_result, tmp_path, bad_title):
    text = write_backtest_report(small_result, tmp_path / "t.html", title=bad_title).read_text(encoding="utf-8")
    assert bad_title not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
