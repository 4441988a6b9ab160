"""One self-contained, offline HTML report of a backtest.

The page holds: the metrics and run parameters, equity against the benchmark (rescaled to the
initial equity), the underwater (drawdown) chart, monthly/yearly returns (heatmap), the excess-return
curve, rolling Sharpe/volatility/beta, exposure and cash, PnL contribution by symbol, round trips with
win/loss statistics, fees by component, a price chart with buy/sell markers for each of the most-traded
symbols, the first and last trades with a link to the complete list (CSV), and the rejections counted by
code; labels in English or Simplified Chinese (``lang``).

This module reads a ``nofx.backtest.result.BacktestResult`` through the ``BacktestResultLike``
protocol rather than importing it: the import-linter contract in pyproject.toml places ``report``
below ``backtest``, so ``report`` must not import ``backtest`` (the runner, above, fills
``result.metrics`` with ``nofx.backtest.metrics.compute_metrics`` before writing the report).
"""

from __future__ import annotations

import base64
import html
from collections import Counter
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from nofx.domain.fills import Fill
from nofx.report.analysis import replay_ledger, trades_frame
from nofx.report.figures import (
    PlotlyMode,
    Section,
    drawdown_figure,
    equity_figure,
    trades_figure,
    write_html_report,
)
from nofx.report.format import money_text
from nofx.report.i18n import Lang, check_lang, label
from nofx.report.sections import (
    Colours,
    excess_section,
    exposure_section,
    fees_section,
    returns_table_section,
    rolling_section,
    round_trips_section,
    symbol_pnl_section,
)
from nofx.report.tables import dataframe_html, metrics_html, timestamp_text


class RejectionLike(Protocol):
    @property
    def code(self) -> str: ...
    @property
    def reason(self) -> str: ...


class BacktestResultLike(Protocol):
    """The fields of ``BacktestResult`` the report reads (read-only, so the dataclass satisfies it)."""

    @property
    def strategy(self) -> str: ...
    @property
    def params(self) -> Mapping[str, Any]: ...
    @property
    def initial_cash(self) -> Decimal: ...
    @property
    def trades(self) -> Sequence[Fill]: ...
    @property
    def equity(self) -> pd.DataFrame: ...
    @property
    def rejections(self) -> Sequence[RejectionLike]: ...
    @property
    def metrics(self) -> Mapping[str, Any]: ...
    @property
    def benchmark(self) -> pd.Series | None: ...
    @property
    def prices(self) -> pd.DataFrame | None: ...
    @property
    def messages(self) -> Sequence[str]: ...


def write_backtest_report(
    result: BacktestResultLike,
    path: str | Path,
    title: str | None = None,
    *,
    metrics: Mapping[str, Any] | None = None,
    max_symbols: int = 10,
    trade_rows: int = 50,
    extra_sections: Sequence[Section] = (),
    lang: Lang = "en",
    plotly: PlotlyMode = "shared",
    colours: Colours | None = None,
) -> Path:
    """Write the report of ``result`` to ``path`` (HTML) and the complete trade list beside it
    (``<name>.trades.csv``: every fill and fee component), and return the report's path.

    ``metrics`` overrides ``result.metrics`` (pass ``compute_metrics(...)`` when the result has none).
    Price charts are drawn for the ``max_symbols`` symbols with the most fills (ties: larger traded
    notional first); the trades table shows the first and last ``trade_rows`` fills and links the CSV
    (relatively with ``plotly="shared"``; embedded as a data: link in the standalone modes, which may be
    served or mailed alone). ``extra_sections`` (heading, HTML or figure) go at the end (e.g. an AI
    trader's decisions). ``lang``: ``en`` or ``zh`` labels; ``plotly``: see :mod:`nofx.report.figures`.
    """
    check_lang(lang)
    out = Path(path)
    csv_path = trades_csv_path(out)
    csv_text = trades_frame(result.trades, getattr(result, "fee_parts", None)).to_csv(index=False)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    csv_path.write_text(csv_text, encoding="utf-8")
    if plotly == "shared":
        href, where = csv_path.name, label("note.csv_beside", lang)
    else:
        href = "data:text/csv;charset=utf-8;base64," + base64.b64encode(csv_text.encode()).decode()
        where = csv_path.name
    sections = backtest_sections(result, metrics=metrics, max_symbols=max_symbols, trade_rows=trade_rows,
                                 lang=lang, colours=colours, csv_link=(href, csv_path.name, where))
    sections.extend(extra_sections)
    heading = title or f"{label('report.backtest', lang)}: {result.strategy}"
    return write_html_report(sections, out, heading, plotly=plotly, lang=lang)


def trades_csv_path(report: Path) -> Path:
    """Where the complete trade list of ``report`` goes: ``<folder>/<name>.trades.csv``."""
    return report.with_name(report.stem + ".trades.csv")


def backtest_sections(
    result: BacktestResultLike,
    *,
    metrics: Mapping[str, Any] | None = None,
    max_symbols: int = 10,
    trade_rows: int = 50,
    lang: Lang = "en",
    colours: Colours | None = None,
    csv_link: tuple[str, str, str] | None = None,
) -> list[Section]:
    """Every section of a backtest report in page order (the HTML report and the dashboard use these).
    ``csv_link``: (href, file name, where) of the complete trade list, linked from the trades section."""
    metrics = result.metrics if metrics is None else metrics
    frame = result.equity
    equity = frame["equity"]
    sections: list[Section] = [(label("section.summary", lang), _summary_html(result, metrics, lang))]
    if len(equity):
        names = {"name": label("series.strategy", lang), "yaxis_title": label("axis.value", lang)}
        heading = label("fig.equity", lang) if result.benchmark is None else label("fig.equity_vs_benchmark", lang)
        sections.append((label("section.equity", lang), equity_figure(
            equity, result.benchmark, title=heading, benchmark_name=_bench_name(result, lang), **names)))
        sections.append((label("section.drawdown", lang), drawdown_figure(
            equity, title=label("fig.drawdown", lang), yaxis_title=label("axis.below_peak", lang))))
        sections.append(returns_table_section(equity, lang, colours))
        sections.append(excess_section(equity, result.benchmark, lang))
        ann = getattr(result, "annualisation", None)
        ppy = float(metrics.get("periods_per_year") or (ann.periods_per_year if ann is not None else 252))
        sections.append(rolling_section(equity, result.benchmark, ppy, lang))
        sections.append(exposure_section(frame, lang))
    replay = replay_ledger(result.trades, result.initial_cash, getattr(result, "corporate_actions", ()),
                           getattr(result, "dividend_tax_events", ()), _last_closes(result.prices))
    sections.append(symbol_pnl_section(replay, lang, colours))
    sections.append(round_trips_section(replay, lang))
    sections.append(fees_section(result.trades, getattr(result, "fee_parts", None), lang))
    sections.extend(_symbol_sections(result, max_symbols, lang))
    sections.append((label("section.trades", lang), _trades_html(result.trades, trade_rows, lang, csv_link)))
    sections.append((label("section.rejections", lang), _rejections_html(result.rejections, lang)))
    if result.messages:
        shown = result.messages[:50]
        more = (_note(label("note.more", lang, n=f"{len(result.messages) - 50:,d}"))
                if len(result.messages) > 50 else "")
        items = "".join(f"<li>{html.escape(m)}</li>" for m in shown)
        sections.append((label("section.messages", lang), f"<ul>{items}</ul>{more}"))
    return sections


def _bench_name(result: BacktestResultLike, lang: Lang) -> str:
    name = getattr(result.benchmark, "name", None)
    return str(name) if name else label("series.benchmark", lang)


def _last_closes(prices: pd.DataFrame | None) -> dict[str, float]:
    """Each symbol's last known close (what its open position is marked at in the final equity)."""
    if prices is None or prices.empty:
        return {}
    last = prices.ffill().iloc[-1]
    return {str(s): float(v) for s, v in last.items() if v == v}


def _note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def most_traded_symbols(trades: Sequence[Fill], limit: int) -> list[str]:
    """Symbols by number of fills, then traded notional, descending; at most ``limit``."""
    counts: Counter[str] = Counter(f.symbol for f in trades)
    notional: dict[str, Decimal] = {}
    for f in trades:
        notional[f.symbol] = notional.get(f.symbol, Decimal(0)) + f.notional
    ranked = sorted(counts, key=lambda s: (-counts[s], -notional[s], s))
    return ranked[:limit]


def _summary_html(result: BacktestResultLike, metrics: Mapping[str, Any], lang: Lang = "en") -> str:
    equity = result.equity
    span = (f"{timestamp_text(pd.Timestamp(equity.index[0]))} .. {timestamp_text(pd.Timestamp(equity.index[-1]))}"
            f" ({label('run.slices', lang, n=f'{len(equity):,d}')})" if len(equity) else "empty")
    ann = getattr(result, "annualisation", None)
    run = pd.DataFrame({label("col.field", lang): [label(k, lang) for k in (
                            "run.strategy", "run.period", "run.initial_cash", "run.parameters", "run.annualisation")],
                        label("col.value", lang): [
                            result.strategy, span, money_text(result.initial_cash),
                            ", ".join(f"{k}={v}" for k, v in result.params.items()) or label("run.none", lang),
                            ann.describe() if ann is not None else "n/a"]})
    table = metrics_html(metrics, lang) if metrics else _note(label("note.no_metrics", lang))
    return table + "\n" + dataframe_html(run)


def _symbol_sections(result: BacktestResultLike, max_symbols: int, lang: Lang = "en") -> list[Section]:
    symbols = most_traded_symbols(result.trades, max_symbols)
    sections: list[Section] = []
    prices = result.prices
    names = {"close": label("series.close", lang), "buy": label("side.buy", lang), "sell": label("side.sell", lang),
             "price": label("axis.price", lang), "fee": label("hover.fee", lang)}
    for symbol in symbols:
        close = prices[symbol] if prices is not None and symbol in prices.columns else None
        sections.append((label("section.trades_of", lang, symbol=symbol),
                         trades_figure(symbol, result.trades, close, names=names)))
    n_symbols = len({f.symbol for f in result.trades})
    if n_symbols > len(symbols):
        sections.append((label("section.other_symbols", lang),
                         _note(label("note.less_traded", lang, n=f"{n_symbols - len(symbols):,d}"))))
    return sections


def _trades_html(trades: Sequence[Fill], rows: int, lang: Lang = "en",
                 csv_link: tuple[str, str, str] | None = None) -> str:
    if not trades:
        return _note(label("note.no_trades", lang))
    col = lambda k: label(k, lang)  # noqa: E731
    df = pd.DataFrame({
        col("col.datetime"): [pd.Timestamp(f.ts) for f in trades],
        col("col.symbol"): [f.symbol for f in trades],
        col("col.side"): [label(f"side.{f.side.value}", lang) for f in trades],
        col("col.quantity"): [f.quantity for f in trades],
        col("col.price"): [f.price for f in trades],
        col("col.fee"): [f.fee for f in trades],
        col("col.notional"): [f.notional for f in trades],
        col("col.order"): [f.order_id for f in trades],
    })
    note = _note(label("note.fills", lang, n=f"{len(df):,d}"))
    if csv_link is not None:
        href, name, where = csv_link
        note += (f'<p class="note">{html.escape(label("note.csv", lang, n=f"{len(df):,d}"))} '
                 f'<a href="{html.escape(href, quote=True)}" download="{html.escape(name, quote=True)}">'
                 f"{html.escape(name)}</a> ({html.escape(where)})</p>")
    if len(df) > rows * 2:
        note += _note(label("note.table_shows", lang, k=rows))
    money = {col("col.fee"): money_text, col("col.notional"): money_text}
    return note + dataframe_html(df, head=rows, tail=rows, formats=money)


def _rejections_html(rejections: Sequence[RejectionLike], lang: Lang = "en") -> str:
    if not rejections:
        return _note(label("note.no_rejections", lang))
    by_code: Counter[str] = Counter(r.code for r in rejections)
    reasons: dict[str, Counter[str]] = {}
    for r in rejections:
        reasons.setdefault(r.code, Counter())[r.reason] += 1
    df = pd.DataFrame({
        "code": list(by_code),
        "count": list(by_code.values()),
        "reason": [reasons[c].most_common(1)[0][0] for c in by_code],
    }).sort_values(["count", "code"], ascending=[False, True])
    df.columns = [label("col.code", lang), label("col.count", lang), label("col.reason", lang)]
    return _note(label("note.rejected", lang, n=f"{len(rejections):,d}")) + dataframe_html(df)
