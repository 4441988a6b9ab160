"""Small plotly figure builders and a one-file offline HTML page writer, for every nofx report.

Backtest reports, factor IC reports and model evaluations share these, so each builder takes plain
pandas inputs and returns a ``plotly.graph_objects.Figure`` the caller may still restyle:

    equity_figure(equity, benchmark=None, *, title="Equity", benchmark_name=None) -> Figure
    drawdown_figure(equity, *, title="Drawdown") -> Figure
    trades_figure(symbol, fills, prices=None, *, title=None) -> Figure
    quantile_returns_figure(df, *, title=..., cumulative=True) -> Figure
    cumulative_ic_figure(ic, *, title=...) -> Figure
    write_html_report(sections, path, title) -> Path

``write_html_report`` loads plotly.js once per page and never from a CDN, so the file opens offline;
each figure only carries its data and layout. Where plotly.js comes from (``plotly=``):

* ``"shared"`` (the default): ``plotly.min.js`` is copied once into the report's folder and referenced
  relatively, so ten reports side by side cost one 4.6 MB file, not ten. Chosen as the default because
  reports are written into folders (``nofx demo --out``, sweeps, ``--report out/x.html``) and are small
  and fast to open that way; move the folder, not the single file.
* ``"inline-gz"``: one standalone file: plotly.js gzip-compressed and base64-encoded in the page
  (about 1.9 MB instead of 4.6), unpacked by the browser (``DecompressionStream``: Chrome/Edge 80+,
  Firefox 113+, Safari 16.4+). For a report served or mailed alone (the API's backtest reports).
* ``"inline"``: plotly.js inlined as is (4.6 MB per file; any browser).
"""

from __future__ import annotations

import base64
import gzip
import html
import re
from collections.abc import Sequence
from numbers import Integral
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from nofx.domain.enums import Side
from nofx.domain.fills import Fill
from nofx.report.options import PLOTLY_MODES, PlotlyMode

Section = tuple[str, "go.Figure | str"]

_BUY_COLOUR = "#2ca02c"
_SELL_COLOUR = "#d62728"
_HEIGHT = 380


def _layout(fig: go.Figure, title: str, yaxis_title: str | None = None, **kw: object) -> go.Figure:
    settings: dict[str, object] = dict(
        title=title, height=_HEIGHT, margin=dict(l=60, r=30, t=50, b=40), hovermode="x unified",
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0),
        template="plotly_white", yaxis_title=yaxis_title,
    )
    fig.update_layout(**(settings | kw))
    return fig


def equity_figure(
    equity: pd.Series,
    benchmark: pd.Series | None = None,
    *,
    title: str = "Equity",
    benchmark_name: str | None = None,
    name: str = "Strategy",
    yaxis_title: str = "value",
) -> go.Figure:
    """Account value over time; ``benchmark`` (a close or value series) is rescaled so that it starts
    at the account's value on the benchmark's first quoted day, which makes the two lines comparable."""
    fig = go.Figure(go.Scatter(x=equity.index, y=equity.to_numpy(dtype="float64"), name=name,
                               mode="lines", line=dict(width=2)))
    if benchmark is not None:
        bench = benchmark.reindex(equity.index).astype("float64").ffill()
        first = bench.first_valid_index()
        if first is not None:
            scaled = bench / bench[first] * float(equity[first])
            fig.add_trace(go.Scatter(x=scaled.index, y=scaled.to_numpy(), mode="lines",
                                     name=benchmark_name or str(benchmark.name or "Benchmark"),
                                     line=dict(width=1.5, color="#7f7f7f")))
    return _layout(fig, title, yaxis_title)


def drawdown_figure(equity: pd.Series, *, title: str = "Drawdown", yaxis_title: str = "below peak") -> go.Figure:
    """Underwater chart: the fraction below the running peak at each slice (0 at a new high)."""
    drawdown = equity.astype("float64") / equity.astype("float64").cummax() - 1.0
    fig = go.Figure(go.Scatter(x=drawdown.index, y=drawdown.to_numpy(), mode="lines", name="Drawdown",
                               fill="tozeroy", line=dict(color=_SELL_COLOUR, width=1)))
    return _layout(fig, title, yaxis_title, yaxis_tickformat=".0%", showlegend=False)


def trades_figure(
    symbol: str,
    fills: Sequence[Fill],
    prices: pd.Series | None = None,
    *,
    title: str | None = None,
    names: dict[str, str] | None = None,
) -> go.Figure:
    """Close of ``symbol`` (when ``prices`` is given) with a marker at each of its fills: a green up
    triangle per buy, a red down triangle per sell, at the fill's time and price; hover shows the
    quantity, price and fee. Fills of other symbols are ignored. ``names`` relabels "close", "buy",
    "sell" and "price" (another language)."""
    names = names or {}
    fig = go.Figure()
    if prices is not None:
        fig.add_trace(go.Scatter(x=prices.index, y=prices.to_numpy(dtype="float64"), mode="lines",
                                 name=names.get("close", "close"), line=dict(color="#1f77b4", width=1.2)))
    own = [f for f in fills if f.symbol == symbol]
    for side, colour, marker in ((Side.BUY, _BUY_COLOUR, "triangle-up"),
                                 (Side.SELL, _SELL_COLOUR, "triangle-down")):
        chosen = [f for f in own if f.side is side]
        if not chosen:
            continue
        fig.add_trace(go.Scatter(
            x=[pd.Timestamp(f.ts) for f in chosen],
            y=[float(f.price) for f in chosen],
            customdata=[[f.quantity, float(f.fee)] for f in chosen],
            mode="markers", name=names.get(side.value, side.value),
            marker=dict(symbol=marker, size=10, color=colour, line=dict(width=0.5, color="black")),
            hovertemplate=(f"{names.get(side.value, side.value)} %{{customdata[0]:,d}} @ %{{y:.3f}}"
                           f"<br>{names.get('fee', 'fee')} %{{customdata[1]:,.2f}}<extra></extra>"),
        ))
    return _layout(fig, title or symbol, names.get("price", "price"))


def quantile_returns_figure(
    df: pd.DataFrame, *, title: str = "Return by quantile", cumulative: bool = True
) -> go.Figure:
    """One line per column of ``df`` (index: datetime; columns: quantile labels, e.g. 1..5; values:
    per-period, non-cumulative returns of each quantile's portfolio). With ``cumulative`` the lines
    are compounded returns ((1 + r).cumprod() - 1, missing periods counted as 0); otherwise the
    per-period mean of each quantile is drawn as bars, the usual monotonicity check of a factor."""
    fig = go.Figure()
    if cumulative:
        growth = (1.0 + df.astype("float64").fillna(0.0)).cumprod() - 1.0
        for column in growth.columns:
            fig.add_trace(go.Scatter(x=growth.index, y=growth[column].to_numpy(), mode="lines",
                                     name=f"Q{column}" if isinstance(column, Integral) else str(column)))
        return _layout(fig, title, "cumulative return", yaxis_tickformat=".0%")
    means = df.astype("float64").mean()
    fig.add_trace(go.Bar(x=[str(c) for c in means.index], y=means.to_numpy(), name="mean return"))
    return _layout(fig, title, "mean return per period", yaxis_tickformat=".2%", hovermode="closest",
                   xaxis_type="category", xaxis_title="quantile")


def cumulative_ic_figure(ic: pd.Series, *, title: str = "Information coefficient") -> go.Figure:
    """Per-period IC (``ic``: index datetime, values rank or Pearson IC; date each period where its IC
    is known; a leading 0 starts the running sum at 0) as faint bars on the right axis, labelled "IC per
    period", and its running sum as a line on the left axis, "cumulative IC": a steady slope means a
    steady signal."""
    values = ic.astype("float64")
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Bar(x=values.index, y=values.to_numpy(), name="IC per period", opacity=0.35,
                         marker_color="#7f7f7f"), secondary_y=True)
    cumulative = values.fillna(0.0).cumsum()
    fig.add_trace(go.Scatter(x=cumulative.index, y=cumulative.to_numpy(), mode="lines",
                             name="cumulative IC", line=dict(width=2)), secondary_y=False)
    _layout(fig, title)
    fig.update_yaxes(title_text="cumulative IC", secondary_y=False)
    fig.update_yaxes(title_text="IC per period", secondary_y=True, showgrid=False)
    return fig


_PAGE = """<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<title>{title}</title>
{plotlyjs}
<style>
body {{ font-family: -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; margin: 24px auto;
       max-width: 1200px; color: #222; }}
h1 {{ font-size: 1.6em; }} h2 {{ font-size: 1.2em; border-bottom: 1px solid #ddd; padding-bottom: 4px; }}
table.nofx {{ border-collapse: collapse; font-size: 0.9em; margin: 8px 0; }}
table.nofx th, table.nofx td {{ border: 1px solid #ddd; padding: 3px 8px; }}
table.nofx td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
table.nofx th {{ background: #f4f4f4; text-align: left; }}
p.note {{ color: #666; font-size: 0.85em; }}
</style>
</head>
<body>
<h1>{title}</h1>
{body}
</body>
</html>
"""


def figure_div(fig: go.Figure) -> str:
    """A figure as an HTML ``<div>`` plus its drawing script, *without* plotly.js (the page has it)."""
    return fig.to_html(full_html=False, include_plotlyjs=False,
                       config={"displaylogo": False, "responsive": True})


PLOTLY_FILE = "plotly.min.js"
_DEFERRED = "text/nofx-plot"  # figure scripts that wait until the compressed plotly.js is unpacked
_GZ_LOADER = """<script id="nofx-plotly-gz" type="application/octet-stream">{data}</script>
<script>
(async () => {{
  const b64 = document.getElementById("nofx-plotly-gz").textContent.trim();
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  const lib = document.createElement("script");
  lib.text = await new Response(stream).text();
  document.head.appendChild(lib);
  for (const old of document.querySelectorAll('script[type="{deferred}"]')) {{
    const run = document.createElement("script");
    run.text = old.textContent;
    old.replaceWith(run);
  }}
}})();
</script>"""


def shared_plotly(folder: str | Path) -> Path:
    """``folder/plotly.min.js`` (the plotly.js of the installed plotly), written unless already there."""
    js = get_plotlyjs()
    path = Path(folder) / PLOTLY_FILE
    if not (path.is_file() and path.stat().st_size == len(js.encode()) and
            path.read_text(encoding="utf-8")[:200] == js[:200]):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".js.tmp")
        tmp.write_text(js, encoding="utf-8")
        tmp.replace(path)  # reports written side by side never see half a file
    return path


def _plotly_head(mode: str, folder: Path) -> str:
    if mode == "shared":
        shared_plotly(folder)
        return f'<script src="{PLOTLY_FILE}" charset="utf-8"></script>'
    if mode == "inline":
        return f'<script type="text/javascript">{get_plotlyjs()}</script>'
    if mode == "inline-gz":
        packed = base64.b64encode(gzip.compress(get_plotlyjs().encode(), 9, mtime=0)).decode()
        return _GZ_LOADER.format(data=packed, deferred=_DEFERRED)
    raise ValueError(f"plotly mode must be one of {', '.join(PLOTLY_MODES)}: {mode!r}")


def write_html_report(sections: Sequence[Section], path: str | Path, title: str, *,
                      plotly: PlotlyMode = "shared", lang: str = "en") -> Path:
    """Write one HTML page and return its path (plotly.js as ``plotly`` says: see the module doc).

    ``sections`` are (heading, content) pairs in page order; content is a plotly Figure or a string
    of HTML inserted as is (escape any untrusted text in it yourself, e.g. with ``html.escape``).
    Parent folders are created.
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    head = _plotly_head(plotly, out.parent)
    parts = []
    for heading, content in sections:
        inner = figure_div(content) if isinstance(content, go.Figure) else content
        if plotly == "inline-gz":  # figure scripts (a Figure, or figure_div() inside HTML) wait for plotly.js
            inner = re.sub(r'<script(?: type="text/javascript")?>', f'<script type="{_DEFERRED}">', inner)
        parts.append(f"<section>\n<h2>{html.escape(heading)}</h2>\n{inner}\n</section>")
    out.write_text(_PAGE.format(title=html.escape(title), plotlyjs=head, body="\n".join(parts),
                                lang="zh-CN" if lang == "zh" else "en"), encoding="utf-8")
    return out
