"""HTML tables for report pages (metrics, data frames), escaped and styled by the page's CSS."""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from decimal import Decimal
from numbers import Integral, Real

import pandas as pd

from nofx.report.format import formatted_metrics


def metrics_html(metrics: Mapping[str, object], lang: str = "en") -> str:
    """Two-column table (metric, value) with the same formatting as the console table."""
    rows = "\n".join(
        f"<tr><th>{html.escape(label)}</th><td class=\"num\">{html.escape(text)}</td></tr>"
        for _, label, text in formatted_metrics(metrics, lang)
    )
    return f'<table class="nofx metrics">\n{rows}\n</table>'


def dataframe_html(df: pd.DataFrame, head: int | None = None, tail: int | None = None,
                   formats: Mapping[str, Callable[[object], str]] | None = None) -> str:
    """``df`` as a table (index not shown: make it a column if it matters). With ``head``/``tail`` only
    the first/last rows are kept and a marker row says how many were left out, so that a report of
    tens of thousands of trades stays small. ``formats`` maps a column to a function giving its cell text
    (right-aligned), e.g. :func:`nofx.report.format.money_text`."""
    n = len(df)
    head = n if head is None else head
    tail = 0 if tail is None else tail
    skipped = n - head - tail
    if skipped > 0:
        shown = [df.iloc[:head], None, df.iloc[n - tail:]]
    else:
        shown, skipped = [df], 0
    fmts = [(formats or {}).get(str(c)) for c in df.columns]
    header = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    lines = [f'<table class="nofx">\n<tr>{header}</tr>']
    for part in shown:
        if part is None:
            lines.append(f'<tr><td colspan="{len(df.columns)}">&hellip; {skipped:,d} rows not shown '
                         "&hellip;</td></tr>")
            continue
        for row in part.itertuples(index=False):
            cells = "".join(_cell(v) if f is None else f'<td class="num">{html.escape(f(v))}</td>'
                            for v, f in zip(row, fmts))
            lines.append("<tr>" + cells + "</tr>")
    lines.append("</table>")
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, Decimal):  # money: shown exactly as the ledger holds it
        return f'<td class="num">{html.escape(str(value))}</td>'
    if isinstance(value, Integral) and not isinstance(value, bool):
        return f'<td class="num">{int(value):,d}</td>'
    if isinstance(value, Real) and not isinstance(value, bool):
        number = float(value)
        text = f"{number:,.4g}" if 0 < abs(number) < 0.01 else f"{number:,.2f}"
        return f'<td class="num">{html.escape(text)}</td>'
    if isinstance(value, pd.Timestamp):
        return f"<td>{html.escape(timestamp_text(value))}</td>"
    return f"<td>{html.escape(str(value))}</td>"


def timestamp_text(ts: pd.Timestamp) -> str:
    """A date for a midnight timestamp (daily bars), date and time otherwise."""
    return ts.date().isoformat() if ts == ts.normalize() else ts.isoformat(sep=" ")
