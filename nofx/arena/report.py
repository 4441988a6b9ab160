"""The competition's HTML report (one offline page, plotly via ``nofx.report.figures``): leaderboard,
equity of every trader against the benchmark on one chart, drawdowns, the significance table with the
test stated, per-trader decision statistics (actions, cut or refused and why), costs, and what produced
the result (config, data hash, code version, times)."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from nofx.arena.scoring import Board
from nofx.report.figures import write_html_report

_DASH = {"baseline": "dot", "ai": "solid"}


def _fmt(v: Any, kind: str = "pct") -> str:
    if v is None or (isinstance(v, float) and v != v):
        return ""
    if kind == "pct":
        return f"{float(v):+.2%}"
    if kind == "dd":
        return f"{float(v):.2%}"
    if kind == "f2":
        return f"{float(v):.2f}"
    if kind == "money":
        return f"{float(v):,.2f}"
    if kind == "int":
        return f"{float(v):,.0f}"
    return html.escape(str(v))


def _ci(ci: dict[str, Any] | None, kind: str) -> str:
    if not ci or ci.get("low") is None:
        return ""
    return f" [{_fmt(ci['low'], kind)}, {_fmt(ci['high'], kind)}]"


def leaderboard_html(board: Board) -> str:
    head = ("<tr><th>#</th><th>trader</th><th>kind</th><th>runs</th><th>return (95% CI)</th><th>excess</th>"
            "<th>Sharpe (95% CI)</th><th>max DD</th><th>win rate</th><th>trades</th><th>fees</th><th>tokens</th>"
            "<th>model cost</th><th>invalid replies</th><th>refusals</th></tr>")
    rows = []
    for k, r in enumerate(board.rows, 1):
        rows.append(
            f"<tr><td>{k}</td><td>{html.escape(r['name'])}</td><td>{r['kind']}</td><td>{r['runs']}</td>"
            f"<td>{_fmt(r['return'])}{_ci(r.get('return_ci'), 'pct')}</td><td>{_fmt(r['excess'])}</td>"
            f"<td>{_fmt(r['sharpe'], 'f2')}{_ci(r.get('sharpe_ci'), 'f2')}</td><td>{_fmt(r['max_drawdown'], 'dd')}</td>"
            f"<td>{_fmt(r['win_rate'], 'dd')}</td><td>{_fmt(r['trades'], 'int')}</td><td>{_fmt(r['fees'], 'money')}</td>"
            f"<td>{_fmt(r['tokens'], 'int')}</td><td>{_fmt(r['model_cost'], 'money')}</td>"
            f"<td>{_fmt(r['invalid_replies'], 'int')}</td><td>{_fmt(r['refusals'], 'int')}</td></tr>")
    return "<table class=\"nofx\">" + head + "".join(rows) + "</table>"


def significance_html(board: Board) -> str:
    note = f'<p class="note">{html.escape(board.note)}</p>'
    if not board.pairs:
        return note + "<p>one trader: nothing to compare.</p>"
    head = ("<tr><th>A</th><th>B</th><th>days</th><th>mean daily A-B (bp)</th><th>DM</th><th>p</th>"
            "<th>p (Holm)</th><th>p (bootstrap)</th><th>significant</th></tr>")
    rows = []
    for p in board.pairs:
        sig = f"yes: {html.escape(p.better or '')} better" if p.significant else "no"
        rows.append(f"<tr><td>{html.escape(p.a)}</td><td>{html.escape(p.b)}</td><td>{p.days}</td>"
                    f"<td>{p.mean_diff_bp:+.2f}</td><td>{_fmt(p.dm, 'f2')}</td><td>{_fmt(p.p_dm, 'f2')}</td>"
                    f"<td>{_fmt(p.p_holm, 'f2')}</td><td>{_fmt(p.p_boot, 'f2')}</td><td>{sig}</td></tr>")
    return note + "<table class=\"nofx\">" + head + "".join(rows) + "</table>"


def decisions_html(board: Board) -> str:
    parts = []
    for t in board.traders:
        d = t.decisions
        if t.kind != "ai":
            eng = ", ".join(f"{k} {v}" for k, v in d.get("engine_refusals", {}).items()) or "none"
            parts.append(f"<h3>{html.escape(t.trader_id)}</h3><p>engine refusals: {html.escape(eng)}</p>")
            continue
        why = "".join(f"<li>{html.escape(k)}: {v}</li>" for k, v in d.get("why", {}).items())
        fails = "".join(f"<li>{html.escape(k)}: {v}</li>" for k, v in d.get("failures", {}).items())
        eng = ", ".join(f"{k} {v}" for k, v in d.get("engine_refusals", {}).items()) or "none"
        acts = ", ".join(f"{k} {v}" for k, v in d.get("actions", {}).items()) or "none"
        parts.append(
            f"<h3>{html.escape(t.trader_id)} ({html.escape(str(t.model))}, seed {t.seed}, temperature "
            f"{t.temperature})</h3><p>{d.get('cycles', 0)} cycles: {d.get('ok', 0)} ok, {d.get('repaired', 0)} "
            f"repaired, {d.get('failed', 0)} held on a failed reply; actions taken: {html.escape(acts)}; "
            f"decisions accepted {d.get('accepted', 0)}, cut {d.get('cut', 0)}, refused {d.get('refused', 0)}; "
            f"invalid replies {d.get('invalid_replies', 0)}; engine refusals: {html.escape(eng)}</p>"
            f"<p>model calls {d.get('calls', 0)}, tokens {d.get('prompt_tokens', 0):,d} in / "
            f"{d.get('completion_tokens', 0):,d} out, model cost {html.escape(str(d.get('model_cost')))}</p>"
            + (f"<p>cut or refused, why:</p><ul>{why}</ul>" if why else "")
            + (f"<p>failed cycles, why:</p><ul>{fails}</ul>" if fails else ""))
    return "".join(parts)


def _layout(fig: go.Figure, title: str, yaxis_title: str, **kw: Any) -> go.Figure:
    fig.update_layout(title=title, height=460, margin=dict(l=60, r=30, t=50, b=40), hovermode="x unified",
                      template="plotly_white", yaxis_title=yaxis_title, **kw)
    return fig


def equity_all_figure(board: Board) -> go.Figure:
    fig = go.Figure()
    initial = None
    for t in board.traders:
        label = t.name if t.kind == "baseline" else f"{t.name}#{t.run}"
        fig.add_trace(go.Scatter(x=t.equity.index, y=t.equity.to_numpy(dtype="float64"), name=label, mode="lines",
                                 line=dict(width=1.5, dash=_DASH.get(t.kind, "solid"))))
        initial = initial or float(t.equity.iloc[0])
    if board.benchmark is not None and initial:
        b = board.benchmark.dropna()
        if len(b):
            fig.add_trace(go.Scatter(x=b.index, y=(b / b.iloc[0] * initial).to_numpy(dtype="float64"),
                                     name=f"benchmark {b.name}", mode="lines", line=dict(width=2, color="#444")))
    return _layout(fig, "Equity: every trader and run against the benchmark", "equity")


def drawdown_all_figure(board: Board) -> go.Figure:
    fig = go.Figure()
    by_name: dict[str, list[pd.Series]] = {}
    for t in board.traders:
        by_name.setdefault(t.name, []).append(t.equity)
    for name, curves in by_name.items():
        eq = pd.concat(curves, axis=1).mean(axis=1)
        dd = eq / eq.cummax() - 1
        fig.add_trace(go.Scatter(x=dd.index, y=dd.to_numpy(dtype="float64"), name=name, mode="lines"))
    return _layout(fig, "Drawdown (mean equity over runs)", "drawdown", yaxis_tickformat=".0%")


def costs_html(board: Board) -> str:
    rows = []
    for r in board.rows:
        rows.append(f"<tr><td>{html.escape(r['name'])}</td><td>{_fmt(r['fees'], 'money')}</td>"
                    f"<td>{_fmt(r['tokens'], 'int')}</td><td>{_fmt(r['model_cost'], 'money')}</td></tr>")
    return ("<p class='note'>Per run (mean over runs): trading fees paid, tokens and what they would cost at the "
            "configured prices (the same whether a reply came from the cache or the model).</p><table class=\"nofx\"><tr><th>trader</th>"
            "<th>fees</th><th>tokens</th><th>model cost</th></tr>" + "".join(rows) + "</table>")


def provenance_html(board: Board) -> str:
    d = board.to_json_dict()["competition"]
    cfg = html.escape(json.dumps(d.pop("config"), indent=1, default=str))
    items = "".join(f"<li>{html.escape(k)}: {html.escape(str(v))}</li>" for k, v in d.items())
    period = board.to_json_dict()["period"]
    return (f"<ul>{items}<li>scored period: {period['start'] or 'all'} .. {period['end'] or 'all'}</li></ul>"
            f"<details><summary>config</summary><pre>{cfg}</pre></details>")


def write_competition_report(board: Board, path: str | Path) -> Path:
    c = board.competition
    sections = [
        ("Leaderboard", leaderboard_html(board)),
        ("Equity", equity_all_figure(board)),
        ("Drawdowns", drawdown_all_figure(board)),
        ("Pairwise significance", significance_html(board)),
        ("Decisions per trader", decisions_html(board)),
        ("Costs", costs_html(board)),
        ("What produced this result", provenance_html(board)),
    ]
    return write_html_report(sections, path, title=f"Competition {c.competition_id}: {c.name}")
