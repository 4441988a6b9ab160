"""The research sections of a backtest report, each a function returning ``(heading, content)`` pairs
(content: a plotly Figure or an HTML string), so the HTML report and the dashboard's backtest page show
the same sections:

    returns_table_section(equity, lang, colours)            monthly/yearly returns heatmap table
    excess_section(equity, benchmark, lang)                 cumulative excess return curve
    rolling_section(equity, benchmark, periods_per_year, lang)  rolling Sharpe, volatility, beta
    exposure_section(equity_frame, lang)                    exposure and cash over time
    symbol_pnl_section(replay, lang)                        per-symbol PnL contribution
    round_trips_section(replay, lang, rows)                 round trips and win/loss statistics
    fees_section(fills, fee_parts, lang)                    fees by component

``colours``: ``"cn"`` shows gains red and losses green (the convention of A-share and Hong Kong
screens, the default in Chinese), ``"intl"`` the reverse (the default in English).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Literal

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from nofx.domain.fills import FeeBreakdown, Fill
from nofx.report.analysis import (
    LedgerReplay,
    excess_curve,
    exposure_frame,
    fee_components,
    period_returns,
    rolling_stats,
    rolling_window,
    round_trip_stats,
)
from nofx.report.figures import Section, _layout, figure_div
from nofx.report.format import MISSING, money_text, percent_text
from nofx.report.i18n import Lang, label
from nofx.report.tables import dataframe_html

Colours = Literal["cn", "intl"]
_RED, _GREEN = (215, 48, 39), (26, 152, 80)


def default_colours(lang: Lang) -> Colours:
    return "cn" if lang == "zh" else "intl"


def _note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def _ratio_text(value: object) -> str:
    if value is None:
        return MISSING
    number = float(value)  # type: ignore[arg-type]
    return f"{number:.2f}" if math.isfinite(number) else MISSING


def _days_text(value: object) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return MISSING
    return f"{float(value):,.1f}"  # type: ignore[arg-type]


# ---- returns table ------------------------------------------------------------------------------------
def _heat(value: float, scale: float, colours: Colours) -> str:
    """Background colour of a return cell: white at 0, full colour at |value| >= scale."""
    if not math.isfinite(value) or scale <= 0:
        return ""
    gain = value > 0
    rgb = (_RED if gain else _GREEN) if colours == "cn" else (_GREEN if gain else _RED)
    alpha = min(1.0, abs(value) / scale) * 0.75
    return f' style="background: rgba({rgb[0]}, {rgb[1]}, {rgb[2]}, {alpha:.2f})"'


def returns_table_html(table: pd.DataFrame, lang: Lang = "en", colours: Colours = "intl") -> str:
    """The :func:`nofx.report.analysis.period_returns` table as an HTML heatmap (months, then the year)."""
    months = [c for c in table.columns if c != "year"]
    monthly = table[months].to_numpy(dtype="float64") if months else None
    finite = [abs(v) for v in (monthly.ravel() if monthly is not None else []) if math.isfinite(v)]
    scale = max(finite) if finite else 0.0
    head = "".join(f"<th>{m}</th>" for m in range(1, 13))
    lines = [f'<table class="nofx heatmap">\n<tr><th>{html.escape(label("col.year", lang))}</th>{head}'
             f"<th>{html.escape(label('col.full_year', lang))}</th></tr>"]
    year_scale = max((abs(v) for v in table["year"] if math.isfinite(v)), default=0.0)
    for year, row in table.iterrows():
        cells = []
        for m in range(1, 13):
            v = row.get(m, float("nan"))
            v = float(v) if v is not None else float("nan")
            text = percent_text(v) if math.isfinite(v) else ""
            cells.append(f'<td class="num"{_heat(v, scale, colours)}>{text}</td>')
        y = float(row["year"])
        cells.append(f'<td class="num"{_heat(y, year_scale, colours)}><b>{percent_text(y)}</b></td>')
        lines.append(f"<tr><th>{int(year)}</th>{''.join(cells)}</tr>")
    lines.append("</table>")
    return "\n".join(lines)


def returns_table_section(equity: pd.Series, lang: Lang = "en", colours: Colours | None = None) -> Section:
    table = period_returns(equity)
    body = returns_table_html(table, lang, colours or default_colours(lang)) if len(table) else _note(
        label("note.too_short", lang))
    return label("section.returns_table", lang), body + _note(label("note.returns_table", lang))


# ---- curves -----------------------------------------------------------------------------------------------
def excess_section(equity: pd.Series, benchmark: pd.Series | None, lang: Lang = "en") -> Section:
    curve = excess_curve(equity, benchmark)
    heading = label("section.excess", lang)
    if curve is None:
        return heading, _note(label("note.no_benchmark", lang))
    fig = go.Figure(go.Scatter(x=curve.index, y=curve.to_numpy(), mode="lines", name=label("series.excess", lang),
                               fill="tozeroy", line=dict(width=1.5, color="#9467bd")))
    return heading, _layout(fig, label("fig.excess", lang), label("axis.return", lang), yaxis_tickformat=".1%",
                            showlegend=False)


def rolling_section(equity: pd.Series, benchmark: pd.Series | None, periods_per_year: float,
                    lang: Lang = "en", window: int | None = None) -> Section:
    heading = label("section.rolling", lang)
    n = max(len(equity) - 1, 0)
    window = window or rolling_window(n, periods_per_year)
    stats = rolling_stats(equity, benchmark, periods_per_year, window)
    if stats.empty:
        return heading, _note(label("note.too_short", lang))
    has_beta = stats["beta"].notna().any()
    rows = 3 if has_beta else 2
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.06)
    span = f"{window / periods_per_year * 12:.1f} " + ("months" if lang == "en" else "个月")
    _layout(fig, label("fig.rolling", lang, window=window, span=span), height=170 * rows + 80)
    series = [("sharpe", "series.sharpe", None), ("volatility", "series.volatility", ".0%")]
    if has_beta:
        series.append(("beta", "series.beta", None))
    for k, (col, key, fmt) in enumerate(series, start=1):
        fig.add_trace(go.Scatter(x=stats.index, y=stats[col].to_numpy(), mode="lines", name=label(key, lang),
                                 line=dict(width=1.3)), row=k, col=1)
        fig.update_yaxes(title_text=label(key, lang), tickformat=fmt, row=k, col=1)
    return heading, fig


def exposure_section(equity: pd.DataFrame, lang: Lang = "en") -> Section:
    frame = exposure_frame(equity)
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Scatter(x=frame.index, y=frame["exposure"].to_numpy(), mode="lines",
                             name=label("series.exposure", lang), fill="tozeroy", line=dict(width=1.2)),
                  secondary_y=False)
    fig.add_trace(go.Scatter(x=frame.index, y=frame["cash"].to_numpy(), mode="lines",
                             name=label("series.cash", lang), line=dict(width=1.2, color="#7f7f7f")),
                  secondary_y=True)
    _layout(fig, label("fig.exposure", lang))
    fig.update_yaxes(title_text=label("axis.exposure", lang), tickformat=".0%", secondary_y=False)
    fig.update_yaxes(title_text=label("axis.cash", lang), secondary_y=True, showgrid=False)
    return label("section.exposure", lang), fig


# ---- the ledger's sections ---------------------------------------------------------------------------------
def symbol_pnl_frame(replay: LedgerReplay, lang: Lang = "en") -> pd.DataFrame:
    rows = sorted(replay.symbols.values(), key=lambda s: (-s.total, s.symbol))
    total = sum((s.total for s in rows), Decimal(0))
    col = lambda k: label(k, lang)  # noqa: E731
    return pd.DataFrame({
        col("col.symbol"): [s.symbol for s in rows],
        col("col.fills"): [s.fills for s in rows],
        col("col.bought"): [s.bought for s in rows],
        col("col.sold"): [s.sold for s in rows],
        col("col.realised"): [s.realised for s in rows],
        col("col.unrealised"): [s.unrealised for s in rows],
        col("col.fees"): [s.fees for s in rows],
        col("col.dividend_tax"): [s.dividend_tax for s in rows],
        col("col.total_pnl"): [s.total for s in rows],
        col("col.share"): [float(s.total / total) if total else None for s in rows],
    })


def symbol_pnl_section(replay: LedgerReplay, lang: Lang = "en", colours: Colours | None = None) -> Section:
    heading = label("section.symbol_pnl", lang)
    if not replay.symbols:
        return heading, _note(label("note.no_trades", lang))
    df = symbol_pnl_frame(replay, lang)
    money_cols = ["col.bought", "col.sold", "col.realised", "col.unrealised", "col.fees", "col.dividend_tax",
                  "col.total_pnl"]
    formats: dict[str, Any] = {label(k, lang): money_text for k in money_cols}
    formats[label("col.share", lang)] = percent_text
    totals = {label(k, lang): sum(df[label(k, lang)], Decimal(0)) for k in money_cols}
    total_row = pd.DataFrame([{label("col.symbol", lang): "Σ", label("col.fills", lang): int(df[label("col.fills", lang)].sum()),
                               **totals, label("col.share", lang): 1.0 if totals[label("col.total_pnl", lang)] else None}])
    table = dataframe_html(pd.concat([df, total_row], ignore_index=True), formats=formats)
    colours = colours or default_colours(lang)
    top = df.reindex(df[label("col.total_pnl", lang)].map(lambda v: -abs(v)).sort_values(kind="stable").index)[:20]
    values = [float(v) for v in top[label("col.total_pnl", lang)]]
    up, down = ("#d62728", "#2ca02c") if colours == "cn" else ("#2ca02c", "#d62728")
    fig = go.Figure(go.Bar(x=values, y=list(top[label("col.symbol", lang)]), orientation="h",
                           marker_color=[up if v >= 0 else down for v in values],
                           hovertemplate="%{y}: %{x:,.2f}<extra></extra>"))
    _layout(fig, label("fig.symbol_pnl", lang), None, height=max(260, 22 * len(values) + 100),
            yaxis_autorange="reversed", hovermode="closest", showlegend=False)
    return heading, figure_div(fig) + _note(label("note.symbol_pnl", lang)) + table


def round_trips_frame(replay: LedgerReplay, lang: Lang = "en") -> pd.DataFrame:
    col = lambda k: label(k, lang)  # noqa: E731
    trips = replay.round_trips
    return pd.DataFrame({
        col("col.symbol"): [t.symbol for t in trips],
        col("col.entry"): [pd.Timestamp(t.entry) for t in trips],
        col("col.exit"): [pd.Timestamp(t.exit) if t.exit is not None else label("rt.open_exit", lang) for t in trips],
        col("col.holding"): [t.holding_days for t in trips],
        col("col.quantity"): [t.quantity for t in trips],
        col("col.entry_price"): [t.entry_price for t in trips],
        col("col.exit_price"): [t.exit_price if t.exit_price is not None else "" for t in trips],
        col("col.realised"): [t.realised for t in trips],
        col("col.fees"): [t.fees for t in trips],
        col("col.net_pnl"): [t.net for t in trips],
        col("col.return"): [t.return_fraction for t in trips],
    })


def round_trip_stats_html(replay: LedgerReplay, lang: Lang = "en") -> str:
    s = round_trip_stats(replay.round_trips)
    rows = [
        ("rt.closed", f"{s['closed']:,d}"), ("rt.open", f"{s['open']:,d}"), ("rt.wins", f"{s['wins']:,d}"),
        ("rt.losses", f"{s['losses']:,d}"), ("rt.win_rate", percent_text(s["win_rate"])),
        ("rt.avg_win", money_text(s["avg_win"])), ("rt.avg_loss", money_text(s["avg_loss"])),
        ("rt.largest_win", money_text(s["largest_win"])), ("rt.largest_loss", money_text(s["largest_loss"])),
        ("rt.profit_factor", _ratio_text(s["profit_factor"])), ("rt.expectancy", money_text(s["expectancy"])),
        ("rt.avg_holding", _days_text(s["avg_holding"])), ("rt.realised_total", money_text(s["realised_total"])),
    ]
    body = "\n".join(f'<tr><th>{html.escape(label(k, lang))}</th><td class="num">{html.escape(v)}</td></tr>'
                     for k, v in rows)
    return f'<table class="nofx metrics">\n{body}\n</table>'


def round_trips_section(replay: LedgerReplay, lang: Lang = "en", rows: int = 25) -> Section:
    heading = label("section.round_trips", lang)
    if not replay.round_trips:
        return heading, _note(label("note.no_round_trips", lang))
    df = round_trips_frame(replay, lang)
    formats: dict[str, Any] = {label(k, lang): money_text for k in ("col.realised", "col.fees", "col.net_pnl")}
    formats[label("col.return", lang)] = percent_text
    formats[label("col.holding", lang)] = _days_text
    shown = _note(label("note.table_shows", lang, k=rows)) if len(df) > 2 * rows else ""
    return heading, (round_trip_stats_html(replay, lang) + _note(label("note.round_trips", lang)) + shown +
                     dataframe_html(df, head=rows, tail=rows, formats=formats))


def fees_section(fills: Sequence[Fill], parts: Sequence[FeeBreakdown] | None, lang: Lang = "en") -> Section:
    heading = label("section.fees", lang)
    totals = fee_components(fills, parts)
    if totals is None:
        return heading, _note(label("note.no_trades", lang) if not fills else MISSING)
    names = list(totals.components)
    df = pd.DataFrame({label("col.component", lang): [label(f"fee.{n}", lang) for n in names] +
                       [label("fee.total", lang)],
                       label("col.amount", lang): [totals.components[n] for n in names] + [totals.total]})
    note = (label("note.fees_other", lang, n=totals.mismatched) if totals.mismatched else
            label("note.fees_exact", lang))
    return heading, dataframe_html(df, formats={label("col.amount", lang): money_text}) + _note(note)

