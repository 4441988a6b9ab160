"""One self-contained, offline HTML report of a backtest.

The page holds: the metrics and run parameters, equity against the benchmark (rescaled to the
initial equity), the underwater (drawdown) chart, a price chart with buy/sell markers for each of the
most-traded symbols, the first and last trades, and the rejections counted by code.

This module reads a ``nofx.backtest.result.BacktestResult`` through the ``BacktestResultLike``
protocol rather than importing it: the import-linter contract in pyproject.toml places ``report``
below ``backtest``, so ``report`` must not import ``backtest`` (the runner, above, fills
``result.metrics`` with ``nofx.backtest.metrics.compute_metrics`` before writing the report).
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from nofx.domain.fills import Fill
from nofx.report.figures import Section, drawdown_figure, equity_figure, trades_figure, write_html_report
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
) -> Path:
    """Write the report of ``result`` to ``path`` (one HTML file, plotly.js inlined once) and return it.

    ``metrics`` overrides ``result.metrics`` (pass ``compute_metrics(...)`` when the result has none).
    Price charts are drawn for the ``max_symbols`` symbols with the most fills (ties: larger traded
    notional first); the trades table shows the first and last ``trade_rows`` fills. ``extra_sections``
    (heading, HTML or figure) go at the end (e.g. an AI trader's decisions).
    """
    metrics = result.metrics if metrics is None else metrics
    equity = result.equity["equity"]
    sections: list[Section] = [("Summary", _summary_html(result, metrics))]
    if len(equity):
        heading = "Equity" if result.benchmark is None else "Equity vs benchmark (rescaled)"
        sections.append(("Equity", equity_figure(equity, result.benchmark, title=heading)))
        sections.append(("Drawdown", drawdown_figure(equity, title="Drawdown (underwater)")))
    sections.extend(_symbol_sections(result, max_symbols))
    sections.append(("Trades", _trades_html(result.trades, trade_rows)))
    sections.append(("Rejections", _rejections_html(result.rejections)))
    if result.messages:
        shown = result.messages[:50]
        more = f"<p class=\"note\">{len(result.messages) - 50:,d} more</p>" if len(result.messages) > 50 else ""
        items = "".join(f"<li>{html.escape(m)}</li>" for m in shown)
        sections.append(("Messages", f"<ul>{items}</ul>{more}"))
    sections.extend(extra_sections)
    return write_html_report(sections, path, title or f"Backtest: {result.strategy}")


def most_traded_symbols(trades: Sequence[Fill], limit: int) -> list[str]:
    """Symbols by number of fills, then traded notional, descending; at most ``limit``."""
    counts: Counter[str] = Counter(f.symbol for f in trades)
    notional: dict[str, Decimal] = {}
    for f in trades:
        notional[f.symbol] = notional.get(f.symbol, Decimal(0)) + f.notional
    ranked = sorted(counts, key=lambda s: (-counts[s], -notional[s], s))
    return ranked[:limit]


def _summary_html(result: BacktestResultLike, metrics: Mapping[str, Any]) -> str:
    equity = result.equity
    span = (f"{timestamp_text(pd.Timestamp(equity.index[0]))} .. {timestamp_text(pd.Timestamp(equity.index[-1]))}"
            f" ({len(equity):,d} slices)" if len(equity) else "empty")
    ann = getattr(result, "annualisation", None)
    run = pd.DataFrame({"field": ["strategy", "period", "initial cash", "parameters", "annualisation"],
                        "value": [result.strategy, span, str(result.initial_cash),
                                  ", ".join(f"{k}={v}" for k, v in result.params.items()) or "none",
                                  ann.describe() if ann is not None else "n/a"]})
    table = metrics_html(metrics) if metrics else (
        '<p class="note">No metrics were computed for this result.</p>')
    return table + "\n" + dataframe_html(run)


def _symbol_sections(result: BacktestResultLike, max_symbols: int) -> list[Section]:
    symbols = most_traded_symbols(result.trades, max_symbols)
    sections: list[Section] = []
    prices = result.prices
    for symbol in symbols:
        close = prices[symbol] if prices is not None and symbol in prices.columns else None
        sections.append((f"Trades: {symbol}", trades_figure(symbol, result.trades, close)))
    n_symbols = len({f.symbol for f in result.trades})
    if n_symbols > len(symbols):
        sections.append(("Other symbols", f'<p class="note">{n_symbols - len(symbols):,d} less-traded '
                                          "symbols have no chart (see the trades table).</p>"))
    return sections


def _trades_html(trades: Sequence[Fill], rows: int) -> str:
    if not trades:
        return '<p class="note">No trades.</p>'
    df = pd.DataFrame({
        "datetime": [pd.Timestamp(f.ts) for f in trades],
        "symbol": [f.symbol for f in trades],
        "side": [f.side.value for f in trades],
        "quantity": [f.quantity for f in trades],
        "price": [f.price for f in trades],
        "fee": [f.fee for f in trades],
        "notional": [f.notional for f in trades],
        "order": [f.order_id for f in trades],
    })
    note = f'<p class="note">{len(df):,d} fills.</p>'
    return note + dataframe_html(df, head=rows, tail=rows)


def _rejections_html(rejections: Sequence[RejectionLike]) -> str:
    if not rejections:
        return '<p class="note">No rejected orders.</p>'
    by_code: Counter[str] = Counter(r.code for r in rejections)
    reasons: dict[str, Counter[str]] = {}
    for r in rejections:
        reasons.setdefault(r.code, Counter())[r.reason] += 1
    df = pd.DataFrame({
        "code": list(by_code),
        "count": list(by_code.values()),
        "most frequent reason": [reasons[c].most_common(1)[0][0] for c in by_code],
    }).sort_values(["count", "code"], ascending=[False, True])
    return f'<p class="note">{len(rejections):,d} rejected orders.</p>' + dataframe_html(df)
