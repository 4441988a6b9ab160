"""Scoring a competition from what its ledgers hold (never from a model): equity snapshots, fills,
refused orders and the AI decision log. The same code scores a run as it finishes and re-scores a stored
one (``nofx compete --rescore``) over any period, so both give the same numbers."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from nofx.ai.client import cost_of
from nofx.ai.config import EndpointConfig
from nofx.arena.runner import ARENA_CONFIG_KEY
from nofx.arena.stats import Interval, PairTest, mean_interval, pairwise
from nofx.backtest.annualisation import annualisation_for
from nofx.backtest.metrics import compute_metrics
from nofx.domain.errors import ConfigError, DataError
from nofx.persistence.competitions import (
    CompetitionRecord,
    CompetitionStore,
    CompetitionTrader,
    equity_curve,
    refused_orders,
)
from nofx.persistence.decisions import DecisionLog
from nofx.persistence.store import SqlLedgerStore

TEST_NOTE = ("Pairwise tests on daily returns (each trader's daily return averaged over its runs): "
             "Diebold-Mariano test of equal mean return, Newey-West (Bartlett) long-run variance, "
             "Harvey-Leybourne-Newbold correction, Student t p-value; Holm-adjusted over all pairs "
             "(family-wise error rate {alpha:.0%}); a paired moving-block bootstrap p-value "
             "({resamples} resamples, blocks of {block} days, seed {seed}) is shown beside it. "
             "Intervals: mean over runs +- Student t 95% half-width.")
_NUM = re.compile(r"-?\d[\d,]*(\.\d+)?%?")
_SYMBOL = re.compile(r"\b[0-9A-Z]{4,6}\.(SH|SZ|BJ|HK)\b")


def reason_kind(text: str | None) -> str:
    """A refusal or cut reason without its numbers and symbols, so like reasons count together."""
    if not text:
        return "(none)"
    head = text.split(":", 1)[0] if ":" in text[:40] else text
    head = _SYMBOL.sub("SYM", head)
    return _NUM.sub("N", head).strip()[:70]


@dataclass
class TraderScore:
    trader_id: str
    name: str
    kind: str
    run: int
    model: str | None
    seed: int | None
    temperature: float | None
    metrics: dict[str, Any]
    decisions: dict[str, Any]
    equity: pd.Series = field(repr=False)
    daily: pd.Series = field(repr=False)  # daily returns (last equity of each day)

    def to_json_dict(self) -> dict[str, Any]:
        return {"trader_id": self.trader_id, "name": self.name, "kind": self.kind, "run": self.run,
                "model": self.model, "seed": self.seed, "temperature": self.temperature,
                "metrics": self.metrics, "decisions": self.decisions}


LEADERBOARD_COLUMNS = ("return", "excess", "sharpe", "max_drawdown", "win_rate", "trades", "fees", "tokens",
                       "model_cost", "invalid_replies", "refusals")


@dataclass
class Board:
    competition: CompetitionRecord
    start: date | None
    end: date | None
    traders: list[TraderScore]
    rows: list[dict[str, Any]]  # one per trader name, best first
    pairs: list[PairTest]
    benchmark: pd.Series | None
    note: str
    rank_by: str

    def to_json_dict(self) -> dict[str, Any]:
        c = self.competition
        return {
            "competition": {"id": c.competition_id, "name": c.name, "status": c.status,
                            "created": _iso(c.created), "started": _iso(c.started), "finished": _iso(c.finished),
                            "data_hash": c.data_hash, "code_version": c.code_version, "runs": c.runs,
                            "config": json.loads(c.config_json)},
            "period": {"start": _iso(self.start), "end": _iso(self.end)}, "rank_by": self.rank_by,
            "leaderboard": self.rows, "significance": {"test": self.note, "pairs": [p.__dict__ for p in self.pairs]},
            "traders": [t.to_json_dict() for t in self.traders],
            "benchmark": None if self.benchmark is None else {
                "symbol": self.benchmark.name, "total_return": _bench_return(self.benchmark)},
        }


def _iso(v: Any) -> str | None:
    return None if v is None else v.isoformat()


def _bench_return(b: pd.Series) -> float | None:
    b = b.dropna()
    return float(b.iloc[-1] / b.iloc[0] - 1) if len(b) > 1 else None


def _trader_config(store: SqlLedgerStore, trader_id: str) -> dict[str, Any]:
    rec = store.get_trader(trader_id)
    if rec is None:
        raise ConfigError("competition trader has no ledger", trader=trader_id)
    return json.loads(rec.config_json).get(ARENA_CONFIG_KEY, {})


def decision_stats(store: SqlLedgerStore, trader: CompetitionTrader, conf: dict[str, Any], start: date | None,
                   end: date | None) -> dict[str, Any]:
    """Per trader: cycles, actions taken, cut/refused and why, invalid replies, tokens, model cost, and
    the engine's refusals by code."""
    engine = Counter(code for ts, code, _ in refused_orders(store, trader.trader_id) if _in(ts.date(), start, end))
    out: dict[str, Any] = {"engine_refusals": dict(engine.most_common())}
    if trader.kind != "ai":
        out["refusals"] = sum(engine.values())
        return out
    ep = EndpointConfig.model_validate({k: v for k, v in (conf.get("trader") or {}).items()
                                        if k in EndpointConfig.model_fields})
    rows = [r for r in DecisionLog(store).rows(trader.trader_id) if _in(r.ts.date(), start, end)]
    status = Counter(r.status for r in rows)
    actions: Counter[str] = Counter()
    verdicts: Counter[str] = Counter()
    why: Counter[str] = Counter()
    failures: Counter[str] = Counter()
    invalid = calls = pt = ct = 0
    for r in rows:
        by_index = {d_i: d for d_i, d in enumerate(r.decisions)}
        for o in r.outcomes:
            verdicts[o.get("status", "?")] += 1
            if o.get("status") in ("accepted", "cut"):
                actions[str(by_index.get(o.get("index"), {}).get("action", o.get("action", "?")))] += 1
            if o.get("status") in ("cut", "refused"):
                why[f"{o['status']}: {reason_kind(o.get('reason'))}"] += 1
        if r.status == "failed":
            failures[reason_kind((r.error or "").rsplit(": ", 1)[-1])] += 1  # the cause, without the role
            if "invalid reply" in (r.error or ""):
                invalid += 1
        for call in r.calls:
            calls += 1
            pt += int(call.get("prompt_tokens") or 0)
            ct += int(call.get("completion_tokens") or 0)
            if call.get("purpose") == "repair":
                invalid += 1  # a repair request answers an invalid reply
    cost = cost_of(ep, pt, ct)  # from the tokens and the price table: the same with or without the cache
    out.update({
        "cycles": len(rows), "ok": status.get("ok", 0), "repaired": status.get("repaired", 0),
        "failed": status.get("failed", 0), "actions": dict(actions.most_common()),
        "accepted": verdicts.get("accepted", 0), "cut": verdicts.get("cut", 0), "refused": verdicts.get("refused", 0),
        "why": dict(why.most_common(12)), "failures": dict(failures.most_common(6)), "invalid_replies": invalid,
        "calls": calls, "prompt_tokens": pt, "completion_tokens": ct, "tokens": pt + ct, "model_cost": str(cost),
        "refusals": verdicts.get("refused", 0) + sum(engine.values()),
    })
    return out


def _in(d: date, start: date | None, end: date | None) -> bool:
    return (start is None or d >= start) and (end is None or d <= end)


def _benchmark(comp: CompetitionRecord) -> tuple[pd.Series | None, list[str]]:
    res = json.loads(comp.results_json or "{}")
    market = res.get("market") or {}
    b = market.get("benchmark")
    series = None
    if b and b.get("values"):
        series = pd.Series(b["values"], index=pd.DatetimeIndex(b["index"]), name=b.get("symbol"), dtype=float)
    return series, list(market.get("symbols") or [])


def score_trader(store: SqlLedgerStore, trader: CompetitionTrader, bench: pd.Series | None, symbols: list[str],
                 start: date | None, end: date | None) -> TraderScore:
    curve = [(pd.Timestamp(ts), float(eq)) for ts, eq, _ in equity_curve(store, trader.trader_id)
             if _in(ts.date(), start, end)]
    if len(curve) < 2:
        raise DataError("not enough equity snapshots in the period to score", trader=trader.trader_id,
                        snapshots=len(curve))
    equity = pd.Series([e for _, e in curve], index=pd.DatetimeIndex([t for t, _ in curve], name="datetime"),
                       name="equity")
    fills = [f.to_fill() for f in store.all_fills(trader.trader_id) if _in(f.ts.date(), start, end)]
    b = bench.reindex(equity.index).ffill() if bench is not None else None
    ann = annualisation_for(equity.index, symbols or ["000001.SZ"])
    try:
        metrics = compute_metrics(equity, b, fills, periods_per_year=ann.periods_per_year, years=ann.years)
    except DataError as exc:
        metrics = {"final_equity": equity.iloc[-1], "n_trades": len(fills), "error": str(exc)}
    if _num(metrics.get("benchmark_return")) is not None and _num(metrics.get("total_return")) is not None:
        # excess over the period (the metrics' excess_return compares annualised returns)
        metrics["excess_total"] = float(metrics["total_return"]) - float(metrics["benchmark_return"])
    conf = _trader_config(store, trader.trader_id)
    stats = decision_stats(store, trader, conf, start, end)
    daily = equity.groupby(equity.index.normalize()).last().pct_change().dropna()
    return TraderScore(trader.trader_id, trader.name, trader.kind, trader.run_index, trader.model, trader.seed,
                       trader.temperature, metrics, stats, equity, daily)


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _interval_json(iv: Interval) -> dict[str, Any]:
    return {"mean": iv.mean, "low": iv.low, "high": iv.high, "n": iv.n}


def leaderboard_rows(traders: list[TraderScore], rank_by: str) -> list[dict[str, Any]]:
    """One row per trader name: means over its runs (AI) with 95% intervals for return and Sharpe."""
    names: dict[str, list[TraderScore]] = {}
    for t in traders:
        names.setdefault(t.name, []).append(t)
    rows = []
    for name, group in names.items():
        m = [g.metrics for g in group]
        d = [g.decisions for g in group]

        def mean(key: str, src: list[dict[str, Any]] = m) -> float | None:
            vals = [v for v in (_num(x.get(key)) for x in src) if v is not None]
            return float(np.mean(vals)) if vals else None

        ret = mean_interval([_num(x.get("total_return")) for x in m])  # type: ignore[arg-type]
        sharpe = mean_interval([_num(x.get("sharpe")) for x in m])  # type: ignore[arg-type]
        rows.append({
            "name": name, "kind": group[0].kind, "model": group[0].model, "runs": len(group),
            "return": ret.mean, "return_ci": _interval_json(ret), "excess": mean("excess_total"),
            "sharpe": sharpe.mean, "sharpe_ci": _interval_json(sharpe), "max_drawdown": mean("max_drawdown"),
            "win_rate": mean("win_rate"), "trades": mean("n_trades"), "fees": mean("fees_paid"),
            "tokens": mean("tokens", d), "model_cost": mean("model_cost", d),
            "invalid_replies": mean("invalid_replies", d), "refusals": mean("refusals", d),
        })
    key = {"return": "return", "sharpe": "sharpe", "excess": "excess"}.get(rank_by, "return")
    rows.sort(key=lambda r: (-(r[key] if r[key] is not None else -math.inf), r["name"]))
    return rows


def score_competition(store: SqlLedgerStore, competition_id: str, start: date | None = None,
                      end: date | None = None, rank_by: str = "return", save: bool = True,
                      seen: dict[str, str] | None = None) -> Board:
    """Score (or re-score) a stored competition from its ledgers; no model is called. ``seen``: each
    trader's chained hash of the market data it was shown (stored with its metrics at the end of a run)."""
    cs = CompetitionStore(store)
    comp = cs.get(competition_id)
    if comp is None:
        raise ConfigError("no such competition in the database", competition=competition_id)
    if start and end and start > end:
        raise ConfigError("start is after end", start=start, end=end)
    traders = cs.traders(competition_id)
    if not traders:
        raise ConfigError("the competition has no traders yet", competition=competition_id)
    bench, symbols = _benchmark(comp)
    if bench is not None:
        bench = bench[[_in(t.date(), start, end) for t in bench.index]]
    scores = [score_trader(store, t, bench, symbols, start, end) for t in traders]
    rows = leaderboard_rows(scores, rank_by)
    cfg = json.loads(comp.config_json).get("competition", {})
    resamples, block = int(cfg.get("bootstrap", 2000)), int(cfg.get("block", 5))
    seed, alpha = int(cfg.get("stats_seed", 20261201)), float(cfg.get("alpha", 0.05))
    daily: dict[str, list[pd.Series]] = {}
    for s in scores:
        daily.setdefault(s.name, []).append(s.daily)
    order = [r["name"] for r in rows]
    frame = pd.DataFrame({n: pd.concat(daily[n], axis=1).mean(axis=1) for n in order}).dropna()
    pairs = pairwise({n: frame[n].to_numpy() for n in order}, resamples, block, seed, alpha) if len(order) > 1 else []
    note = TEST_NOTE.format(alpha=alpha, resamples=resamples, block=block, seed=seed)
    board = Board(comp, start, end, scores, rows, pairs, bench, note, rank_by)
    if save and start is None and end is None:
        res = json.loads(comp.results_json or "{}")
        res.update(leaderboard=rows, pairs=[p.__dict__ for p in pairs], test=note)
        cs.save_scores(competition_id, json.dumps(res, default=str),
                       {s.trader_id: (json.dumps({**s.metrics, **{k: v for k, v in s.decisions.items()
                                                                  if not isinstance(v, dict)}}, default=str),
                                        (seen or {}).get(s.trader_id))
                        for s in scores})
    return board
