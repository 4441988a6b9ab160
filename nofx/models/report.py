"""HTML report of a model evaluation: cumulative IC, quantile returns, equity versus benchmark."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go


def write_eval_report(path: str | Path, title: str, summary: Mapping[str, Any], dates: np.ndarray,
                      ic: np.ndarray, rank_ic: np.ndarray, quantiles: np.ndarray,
                      equity: pd.Series | None = None, benchmark: pd.Series | None = None) -> Path:
    """Write one self-contained HTML page (plotly.js inlined once) and return its path."""
    idx = pd.DatetimeIndex(pd.to_datetime(dates))
    figs = []
    f = go.Figure()
    f.add_scatter(x=idx, y=np.nancumsum(ic), name="cumulative IC")
    f.add_scatter(x=idx, y=np.nancumsum(rank_ic), name="cumulative rank IC")
    f.update_layout(title="Cumulative information coefficient", template="plotly_white", height=380)
    figs.append(f)
    f = go.Figure()
    q = np.nan_to_num(quantiles)
    for g in range(q.shape[1]):
        name = f"Q{g + 1}" + (" (top)" if g == q.shape[1] - 1 else "")
        f.add_scatter(x=idx, y=np.cumprod(1 + q[:, g]) - 1, name=name)
    f.update_layout(title="Cumulative return of score quantiles (equal weight, before costs)",
                    template="plotly_white", height=380, yaxis_tickformat=".0%")
    figs.append(f)
    if equity is not None:
        f = go.Figure()
        f.add_scatter(x=equity.index, y=equity / equity.iloc[0] - 1, name="strategy (after costs)")
        if benchmark is not None and benchmark.notna().any():
            b = benchmark.ffill().bfill()
            f.add_scatter(x=b.index, y=b / b.iloc[0] - 1, name="benchmark")
        f.update_layout(title="Top-k strategy equity versus benchmark", template="plotly_white", height=380,
                        yaxis_tickformat=".0%")
        figs.append(f)
    rows = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{_fmt(v)}</td></tr>" for k, v in summary.items())
    parts = [f.to_html(full_html=False, include_plotlyjs="inline" if i == 0 else False) for i, f in enumerate(figs)]
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            "<style>body{font-family:sans-serif;margin:2em}td{padding:2px 12px}</style></head><body>"
            f"<h1>{html.escape(title)}</h1><table>{rows}</table>{''.join(parts)}</body></html>")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "n/a" if not np.isfinite(v) else f"{v:.4f}"
    return html.escape(str(v))
