"""The live leaderboard while a competition runs: a rich ``Live`` table on a terminal, a plain line every
few seconds otherwise (logs, CI). Figures come from the traders' in-memory state (the final ones are
scored from the ledgers, see :mod:`nofx.arena.scoring`)."""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from typing import Any, Sequence, TextIO

import numpy as np
from rich.console import Console
from rich.live import Live
from rich.table import Table

from nofx.arena.runner import Seat
from nofx.progress import interval_from_env

HEADERS = ("#", "trader", "runs", "return", "excess", "Sharpe", "max DD", "win", "trades", "fees", "tokens",
           "cost", "invalid", "refusals")


@dataclass
class LiveRow:
    name: str
    runs: int
    ret: float
    excess: float | None
    sharpe: float | None
    max_dd: float
    win: float | None
    trades: float
    fees: float
    tokens: float | None
    cost: float | None
    invalid: float | None
    refusals: float


def _seat_figures(s: Seat, bench_ret: float | None, periods_per_year: float) -> dict[str, Any]:
    eq = np.array([e for _, e in s.equity], dtype=float)
    initial = s.initial
    last = eq[-1] if len(eq) else initial
    ret = last / initial - 1 if initial else 0.0
    rets = np.diff(eq) / eq[:-1] if len(eq) > 2 else np.array([])
    sd = float(rets.std(ddof=1)) if len(rets) > 2 else 0.0
    sharpe = float(rets.mean() / sd * math.sqrt(periods_per_year)) if sd > 0 else None
    peak = np.maximum.accumulate(eq) if len(eq) else np.array([1.0])
    max_dd = float((eq / peak - 1).min()) if len(eq) else 0.0
    wins, closes = s.live_wins
    out: dict[str, Any] = {"ret": ret, "excess": None if bench_ret is None else ret - bench_ret, "sharpe": sharpe,
                           "max_dd": max_dd, "win": wins / closes if closes else None,
                           "trades": len(s.engine.fills), "fees": float(s.portfolio.fees_paid),
                           "refusals": s.live_refused + len(s.engine.rejections)}
    if s.caller is not None:
        u = s.caller.usage
        out.update(tokens=u.prompt_tokens + u.completion_tokens + s.live_cached_tokens, cost=float(u.cost),
                   invalid=s.live_invalid)
    return out


def live_rows(seats: Sequence[Seat], bench_ret: float | None, periods_per_year: float) -> list[LiveRow]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for s in seats:
        groups.setdefault(s.entrant.name, []).append(_seat_figures(s, bench_ret, periods_per_year))
    rows = []
    for name, figs in groups.items():
        def mean(k: str) -> float | None:
            vals = [f[k] for f in figs if f.get(k) is not None]
            return float(np.mean(vals)) if vals else None
        rows.append(LiveRow(name, len(figs), mean("ret") or 0.0, mean("excess"), mean("sharpe"),
                            mean("max_dd") or 0.0, mean("win"), mean("trades") or 0.0, mean("fees") or 0.0,
                            mean("tokens"), mean("cost"), mean("invalid"), mean("refusals") or 0.0))
    rows.sort(key=lambda r: (-r.ret, r.name))
    return rows


def _pct(v: float | None) -> str:
    return "" if v is None else f"{v:+.2%}"


def _n(v: float | None, fmt: str = ",.0f") -> str:
    return "" if v is None else format(v, fmt)


def row_cells(k: int, r: LiveRow) -> list[str]:
    return [str(k), r.name, str(r.runs), _pct(r.ret), _pct(r.excess), _n(r.sharpe, ".2f"), f"{r.max_dd:.2%}",
            "" if r.win is None else f"{r.win:.0%}", _n(r.trades), _n(r.fees, ",.2f"), _n(r.tokens),
            _n(r.cost, ",.4f"), _n(r.invalid), _n(r.refusals)]


def live_table(rows: list[LiveRow], title: str) -> Table:
    t = Table(title=title, header_style="bold")
    for h in HEADERS:
        t.add_column(h, justify="left" if h == "trader" else "right")
    for k, r in enumerate(rows, 1):
        t.add_row(*row_cells(k, r))
    return t


class LiveBoard:
    """``update(i, seats)`` after every step; throttled. ``close()`` at the end."""

    def __init__(self, title: str, total: int, first: int, bench: np.ndarray | None, periods_per_year: float,
                 enabled: bool = True, stream: TextIO | None = None, interval: float | None = None) -> None:
        self.title = title
        self.total = total
        self.first = first
        self.bench = bench
        self.ppy = periods_per_year
        self.enabled = enabled
        self.stream = stream or sys.stdout
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = interval if interval is not None else (0.5 if self.tty else interval_from_env(10.0))
        self._last = 0.0
        self._live: Live | None = None
        self._t0 = time.monotonic()

    def _bench_ret(self, i: int) -> float | None:
        if self.bench is None:
            return None
        b = self.bench[: i + 1]
        b = b[np.isfinite(b)]
        base = self.bench[self.first] if np.isfinite(self.bench[self.first]) else (b[0] if len(b) else np.nan)
        return float(b[-1] / base - 1) if len(b) and base == base and base else None

    def update(self, i: int, seats: Sequence[Seat], force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        rows = live_rows(seats, self._bench_ret(i), self.ppy)
        done = i + 1 - self.first
        title = f"{self.title}: step {done}/{self.total - self.first} ({now - self._t0:.0f} s)"
        if self.tty:
            table = live_table(rows, title)
            if self._live is None:
                self._live = Live(table, console=Console(file=self.stream), refresh_per_second=4, transient=False)
                self._live.start()
            else:
                self._live.update(table)
            return
        lead = "; ".join(f"{k}. {r.name} {_pct(r.ret)}" for k, r in enumerate(rows[:5], 1))
        print(f"[{title}] {lead}", file=self.stream, flush=True)

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
