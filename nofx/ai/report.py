"""The AI backtest's HTML report: the backtest report plus, per decision cycle, the model's reasoning
and what the engine did with each decision (accepted, cut, refused and why; filled, rejected)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Mapping, Sequence

from nofx.report.html import write_backtest_report

_STATUS_CSS = {"accepted": "#1b7f3b", "cut": "#b26a00", "refused": "#b00020", "hold": "#666", "failed": "#b00020"}


def _engine_text(e: Mapping[str, Any] | None) -> str:
    if not e:
        return ""
    s = f"{e.get('status')} {e.get('filled', 0)}"
    if e.get("avg_price") is not None:
        s += f" @ {e['avg_price']}"
    if e.get("refused"):
        s += f" ({e['refused']})"
    return s


def decisions_html(decisions: Sequence[Mapping[str, Any]], usage: Mapping[str, Any], limit: int = 400) -> str:
    head = (f'<p class="note">{len(decisions):,d} cycles; model calls {usage.get("calls", 0)}, cache hits '
            f'{usage.get("cache_hits", 0)}, failed calls {usage.get("failures", 0)}, tokens '
            f'{usage.get("prompt_tokens", 0):,d} in / {usage.get("completion_tokens", 0):,d} out, '
            f'cost {usage.get("cost", "0")}</p>')
    rows = []
    for rec in decisions[-limit:]:
        by_index = {o["index"]: o for o in rec.get("outcomes", [])}
        lines = []
        for k, d in enumerate(rec.get("decisions", [])):
            o = by_index.get(k, {})
            st = o.get("status", "")
            size = d.get("quantity", d.get("target_weight", ""))
            lines.append(
                f'<tr><td>{html.escape(str(d.get("symbol")))}</td><td>{html.escape(str(d.get("action")))}</td>'
                f'<td>{html.escape(str(size))}</td><td>{d.get("confidence", "")}</td>'
                f'<td>{html.escape(str(d.get("reasoning", "")))}</td>'
                f'<td style="color:{_STATUS_CSS.get(st, "#000")}">{html.escape(st)}'
                f'{": " + html.escape(o["reason"]) if o.get("reason") else ""}</td>'
                f'<td>{html.escape(_engine_text(o.get("engine")))}</td></tr>')
        if rec.get("status") == "failed":
            lines.append(f'<tr><td colspan="7" style="color:#b00020">cycle held: '
                         f'{html.escape(str(rec.get("error")))}</td></tr>')
        elif not lines:
            lines.append('<tr><td colspan="7" class="note">no decisions (hold)</td></tr>')
        calls = rec.get("calls", [])
        meta = (f'{len(calls)} call(s), {rec.get("latency_ms", 0)} ms, {rec.get("prompt_tokens", 0)}+'
                f'{rec.get("completion_tokens", 0)} tokens, mode {rec.get("mode")}'
                + (", cached" if calls and all(c.get("cached") for c in calls) else ""))
        rows.append(f'<h3>cycle {rec["cycle"]} &middot; {html.escape(rec["datetime"][:16])} &middot; '
                    f'{html.escape(rec["status"])}</h3><p class="note">{html.escape(meta)}</p>'
                    '<table><tr><th>symbol</th><th>action</th><th>size</th><th>confidence</th><th>reasoning</th>'
                    '<th>limits</th><th>engine</th></tr>' + "".join(lines) + "</table>")
    more = f'<p class="note">showing the last {limit} cycles</p>' if len(decisions) > limit else ""
    return head + more + "".join(rows)


def write_ai_report(res: Any, path: str | Path) -> Path:
    """``res``: an :class:`nofx.ai.backtest.AIBacktestResult`."""
    return write_backtest_report(res.result, path, title=f"AI backtest: {res.trader_id} ({res.model})",
                                 extra_sections=[("Decisions", decisions_html(res.decisions, res.usage))])
