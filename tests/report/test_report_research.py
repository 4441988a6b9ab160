"""The research sections of the backtest report, checked on real runs: the bundled A-share slice
(dual MA with the CSI 300 benchmark, 2019-2021: dividends and dividend tax included) and real Hong Kong
bars (levies and trading fee). Each figure is checked against the ledger the run kept, to the cent."""

from __future__ import annotations

import base64
import gzip
import math
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from plotly.offline import get_plotlyjs

from nofx.backtest.config import BacktestConfig
from nofx.backtest.runner import run_backtest
from nofx.data.bars import read_bars
from nofx.data.bundled import bundled_bars_path
from nofx.report.analysis import (
    FEE_COMPONENTS,
    excess_curve,
    fee_components,
    period_returns,
    replay_ledger,
    rolling_stats,
    round_trip_stats,
)
from nofx.report.html import _last_closes, trades_csv_path, write_backtest_report
from nofx.strategies.registry import REGISTRY

CENT = Decimal("0.01")


def _run(bars: pd.DataFrame, strategy: str, params: dict, cfg: BacktestConfig, symbols: list[str]):  # type: ignore[no-untyped-def]
    import nofx.strategies.builtin  # noqa: F401

    engines = []
    result = run_backtest(bars, REGISTRY.create(strategy, params), cfg, symbols=symbols, on_engine=engines.append)
    return result, engines[0]


@pytest.fixture(scope="module")
def cn_run():  # type: ignore[no-untyped-def]
    symbols = ["600519.SH", "000001.SZ", "601318.SH", "000858.SZ", "600036.SH", "300750.SZ"]
    bars = read_bars(bundled_bars_path(), symbols=[*symbols, "000300.SH"], start="2019-01-01", end="2021-12-31")
    cfg = BacktestConfig(start=date(2019, 1, 1), end=date(2021, 12, 31), rules="cn", benchmark="000300.SH")
    return _run(bars, "dual_ma", {"fast": 5, "slow": 20, "target_percent": 0.1}, cfg, symbols)


def _replay(result):  # type: ignore[no-untyped-def]
    return replay_ledger(result.trades, result.initial_cash, result.corporate_actions, result.dividend_tax_events,
                         _last_closes(result.prices))


def test_monthly_and_yearly_returns_compound_to_the_total_return(cn_run) -> None:  # type: ignore[no-untyped-def]
    result, _ = cn_run
    table = period_returns(result.equity["equity"])
    assert list(table.index) == [2019, 2020, 2021]
    months = table.drop(columns="year").to_numpy().ravel()
    months = months[~np.isnan(months)]
    assert len(months) == 36
    total = result.metrics["total_return"]
    assert np.prod(1 + months) - 1 == pytest.approx(total, abs=1e-12)
    assert np.prod(1 + table["year"].to_numpy()) - 1 == pytest.approx(total, abs=1e-12)
    for year, row in table.iterrows():  # each year's months compound to its year
        m = row.drop("year").dropna().to_numpy()
        assert np.prod(1 + m) - 1 == pytest.approx(row["year"], abs=1e-12)
    eq = result.equity["equity"]  # and March 2020 is what the equity did in March 2020
    assert table.loc[2020, 3] == pytest.approx(eq.loc["2020-03"].iloc[-1] / eq.loc["2020-02"].iloc[-1] - 1)


def test_fees_by_component_sum_to_the_fees_paid_to_the_cent(cn_run) -> None:  # type: ignore[no-untyped-def]
    result, _ = cn_run
    assert result.fee_parts is not None and len(result.fee_parts) == len(result.trades) > 20
    for fill, parts in zip(result.trades, result.fee_parts):  # every fill, exactly as charged
        assert parts.total == fill.fee
    totals = fee_components(result.trades, result.fee_parts)
    assert totals.mismatched == 0 and "other" not in totals.components
    assert sum(totals.components.values(), Decimal(0)) == totals.total == result.fees_paid
    assert totals.components["commission"] > 0 and totals.components["stamp_duty"] > 0
    assert totals.components["transfer_fee"] > 0  # A-shares: no HK levies or trading fee
    assert totals.components["levies"] == totals.components["trading_fee"] == 0
    # stamp duty is charged on sells only
    assert all(p.stamp_duty == 0 for f, p in zip(result.trades, result.fee_parts) if f.side.value == "buy")


def test_hk_levies_and_trading_fee_add_up(hk_daily_path) -> None:  # type: ignore[no-untyped-def]
    symbols = ["0700.HK", "0005.HK", "0941.HK"]
    bars = read_bars(hk_daily_path, symbols=symbols, start="2021-01-01", end="2021-12-31")
    cfg = BacktestConfig(start=date(2021, 1, 1), end=date(2021, 12, 31), rules="hk", corporate_actions=False)
    result, _ = _run(bars, "dual_ma", {"fast": 5, "slow": 20, "target_percent": 0.2}, cfg, symbols)
    totals = fee_components(result.trades, result.fee_parts)
    assert totals.mismatched == 0 and totals.total == result.fees_paid
    assert sum(totals.components.values(), Decimal(0)) == result.fees_paid
    assert totals.components["levies"] > 0 and totals.components["trading_fee"] > 0
    assert totals.components["transfer_fee"] == 0


def test_round_trips_sum_to_the_ledgers_realised_pnl(cn_run) -> None:  # type: ignore[no-untyped-def]
    result, engine = cn_run
    replay = _replay(result)
    ledger_realised = sum((p.realised_pnl for p in engine.portfolio.raw_positions().values()), Decimal(0))
    assert sum((t.realised for t in replay.round_trips), Decimal(0)).quantize(CENT) == ledger_realised.quantize(CENT)
    assert replay.realised == ledger_realised
    stats = round_trip_stats(replay.round_trips)
    assert stats["closed"] > 10 and stats["wins"] + stats["losses"] <= stats["closed"]
    assert stats["realised_total"].quantize(CENT) == ledger_realised.quantize(CENT)
    for t in replay.round_trips:
        assert t.exit is None or t.exit >= t.entry
    closed = [t for t in replay.round_trips if t.exit is not None]
    assert stats["win_rate"] == pytest.approx(sum(t.net > 0 for t in closed) / len(closed))
    # each symbol's round trips cover all its fees
    fees = {s: sum((t.fees for t in replay.round_trips if t.symbol == s), Decimal(0)) for s in replay.symbols}
    assert sum(fees.values(), Decimal(0)) == result.fees_paid


def test_symbol_contributions_sum_to_the_total_pnl(cn_run) -> None:  # type: ignore[no-untyped-def]
    result, engine = cn_run
    replay = _replay(result)
    total = sum((s.total for s in replay.symbols.values()), Decimal(0))
    final_equity = Decimal(str(result.equity["equity"].iloc[-1]))
    assert total.quantize(CENT) == final_equity - result.initial_cash
    assert result.dividend_tax > 0  # the run pays dividend tax, and it is attributed
    assert sum((s.dividend_tax for s in replay.symbols.values()), Decimal(0)) == result.dividend_tax
    for sym, s in replay.symbols.items():  # realised PnL per symbol is the ledger's own
        assert s.realised == engine.portfolio.position(sym).realised_pnl


def test_excess_and_rolling_curves(cn_run) -> None:  # type: ignore[no-untyped-def]
    result, _ = cn_run
    eq, bench = result.equity["equity"], result.benchmark
    curve = excess_curve(eq, bench)
    assert curve.iloc[0] == 0
    expected = (1 + result.metrics["total_return"]) / (1 + result.metrics["benchmark_return"]) - 1
    assert curve.iloc[-1] == pytest.approx(expected, rel=1e-9)
    stats = rolling_stats(eq, bench, result.metrics["periods_per_year"], window=60)
    r = eq.pct_change().iloc[-60:]
    assert stats["volatility"].iloc[-1] == pytest.approx(r.std() * math.sqrt(result.metrics["periods_per_year"]))
    b = bench.pct_change().iloc[-60:]
    assert stats["beta"].iloc[-1] == pytest.approx(np.cov(r, b)[0, 1] / b.var())


def test_report_writes_the_complete_trade_list_and_shares_plotly(cn_run, tmp_path) -> None:  # type: ignore[no-untyped-def]
    result, _ = cn_run
    a = write_backtest_report(result, tmp_path / "a.html")
    b = write_backtest_report(result, tmp_path / "b.html")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.html", "a.trades.csv", "b.html", "b.trades.csv",
                                                          "plotly.min.js"]
    assert (tmp_path / "plotly.min.js").read_text() == get_plotlyjs()
    for page in (a, b):
        text = page.read_text()
        assert '<script src="plotly.min.js"' in text and get_plotlyjs()[:40] not in text
        assert page.stat().st_size < 2_000_000
    text = a.read_text()
    assert 'href="a.trades.csv"' in text
    csv = pd.read_csv(trades_csv_path(a), dtype=str)
    assert len(csv) == len(result.trades)  # every fill, not the first and last 50
    assert list(csv.columns[:7]) == ["datetime", "symbol", "side", "quantity", "price", "notional", "fee"]
    assert set(FEE_COMPONENTS) <= set(csv.columns)
    assert sum(Decimal(v) for v in csv["fee"]) == result.fees_paid
    components = sum(Decimal(v) for c in FEE_COMPONENTS for v in csv[c])
    assert components == result.fees_paid
    for heading in ("Monthly and yearly returns", "Excess return over the benchmark", "Rolling Sharpe",
                    "Exposure and cash", "PnL contribution by symbol", "Round trips", "Fees by component"):
        assert f"<h2>{heading}" in text, heading


def test_standalone_report_carries_compressed_plotly_and_the_csv(cn_run, tmp_path) -> None:  # type: ignore[no-untyped-def]
    result, _ = cn_run
    page = write_backtest_report(result, tmp_path / "alone.html", plotly="inline-gz")
    text = page.read_text()
    packed = re.search(r'<script id="nofx-plotly-gz" type="application/octet-stream">([^<]+)</script>', text)
    assert gzip.decompress(base64.b64decode(packed.group(1))).decode() == get_plotlyjs()
    assert not (tmp_path / "plotly.min.js").exists()
    assert len(packed.group(1)) < 0.45 * len(get_plotlyjs())  # well under one uncompressed copy
    assert "Plotly.newPlot" in text and '<script type="text/nofx-plot">' in text
    link = re.search(r'href="data:text/csv;charset=utf-8;base64,([^"]+)"', text)
    assert base64.b64decode(link.group(1)).decode() == trades_csv_path(page).read_text()


def test_lang_zh_on_the_command_line(nofx_cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "zh.html"
    r = nofx_cli("backtest", "--strategy", "dual_ma", "--symbols", "600519.SH,000001.SZ", "--benchmark", "000300.SH",
                 "--start", "2020-01-01", "--end", "2020-12-31", "--no-progress", "--report", str(out), "--lang", "zh")
    assert r.code == 0, r.err
    assert "总收益率" in r.out and "夏普比率" in r.out  # the console table too
    text = out.read_text()
    assert '<html lang="zh-CN">' in text
    for zh in ("月度与年度收益", "相对基准的超额收益", "滚动夏普比率", "仓位与现金", "个股盈亏贡献", "完整交易",
               "费用明细", "佣金", "印花税", "过户费", "成交记录", "总收益率", "年化波动率", "胜率"):
        assert zh in text, zh
    for en in ("Monthly and yearly returns", "Fees by component", "Round trips", "Total return"):
        assert en not in text, en
    assert "--lang must be en or zh" in nofx_cli("backtest", "--lang", "fr").error_line()
    assert "--plotly must be one of" in nofx_cli("backtest", "--plotly", "cdn").error_line()


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["shared", "inline-gz"])
def test_report_draws_in_headless_chromium_without_errors(cn_run, tmp_path, mode) -> None:  # type: ignore[no-untyped-def]
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright not installed")
    chromium = next((p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if Path(p).exists()), None)
    if chromium is None:
        pytest.skip("no system Chromium")
    result, _ = cn_run
    page_path = write_backtest_report(result, tmp_path / f"{mode}.html", plotly=mode)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(page_path.as_uri())
            page.wait_for_function("document.querySelectorAll('.plotly-graph-div .main-svg').length > 0",
                                   timeout=30_000)
            drawn = page.evaluate("document.querySelectorAll('.plotly-graph-div.js-plotly-plot').length")
            divs = page.evaluate("document.querySelectorAll('.plotly-graph-div').length")
        finally:
            browser.close()
    assert errors == []
    assert drawn == divs >= 8  # every figure drawn


def test_fee_parts_survive_pickling_without_the_fee_model(cn_run) -> None:  # type: ignore[no-untyped-def]
    import pickle

    result, _ = cn_run
    copy = pickle.loads(pickle.dumps(result))  # e.g. a sweep's results coming back from worker processes
    assert copy.fee_model is None and copy.fee_parts == result.fee_parts
