"""Running a competition end to end: read the bars once, record the competition (config, data hash, code
version, times, status), run the lockstep replay (starting a local mock model server when asked),
score it from the ledgers, and resume a killed one from its ledgers and the reply cache."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import subprocess
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import pandas as pd

from nofx.arena.config import CompetitionConfig, Entrant
from nofx.arena.leaderboard import LiveBoard
from nofx.arena.runner import ReplayOutcome, replay, trade_start
from nofx.arena.scoring import Board, score_competition
from nofx.backtest.annualisation import annualisation_for
from nofx.backtest.execute import load_bars
from nofx.domain.errors import ConfigError
from nofx.domain.instruments import parse_symbols
from nofx.engine.market_data import PreparedMarket, prepare_market, select_bars
from nofx.persistence.competitions import CompetitionRecord, CompetitionStore, CompetitionTrader
from nofx.persistence.store import SqlLedgerStore

MOCK_PREFIX = "mock-"  # with mock on, traders on these models are pointed at the local mock server


def code_version() -> str:
    """``git describe --always --dirty`` of the source tree when it is a checkout, else the package version."""
    import nofx

    root = Path(nofx.__file__).resolve().parents[1]
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty", "--tags"], cwd=root, capture_output=True,
                             text=True, timeout=5)
        if out.returncode == 0 and out.stdout.strip():
            return f"git:{out.stdout.strip()}"[:64]
    except (OSError, subprocess.SubprocessError):
        pass
    return f"nofx {getattr(nofx, '__version__', '?')}"


def data_hash(universe: pd.DataFrame, bench: pd.Series | None) -> str:
    """SHA-256 of the bars replayed (universe rows in a canonical order, and the benchmark closes)."""
    u = universe.sort_values(["datetime", "symbol"]).reset_index(drop=True)
    cols = sorted(u.columns)
    h = hashlib.sha256()
    h.update(json.dumps(cols).encode())
    h.update(pd.util.hash_pandas_object(u[cols], index=False).to_numpy().tobytes())
    if bench is not None:
        h.update(pd.util.hash_pandas_object(bench, index=True).to_numpy().tobytes())
    return h.hexdigest()


def canonical_config(cfg: CompetitionConfig) -> str:
    return json.dumps(cfg.model_dump(mode="json", by_alias=True), sort_keys=True, default=str)


@dataclass
class Prepared:
    market: PreparedMarket
    universe: pd.DataFrame
    bench: pd.Series | None
    attrs: dict
    data_hash: str
    symbols: list[str]


def prepare(cfg: CompetitionConfig) -> Prepared:
    """The bars every trader replays (read and validated once) and the market built on them."""
    from datetime import timedelta

    bt = cfg.backtest
    symbols = None if cfg.data.symbols == "all" else list(cfg.data.symbols)
    if symbols:
        parse_symbols(",".join(symbols))
    if bt.start and bt.end and bt.start > bt.end:
        raise ConfigError("start is after end", start=bt.start, end=bt.end)
    load_from = bt.start - timedelta(days=int(bt.warmup_bars * 1.6) + 15) if bt.start and bt.warmup_bars \
        else bt.start
    bars = load_bars(cfg.data.path, symbols, bt.benchmark, load_from, bt.end, drop_bad_rows=cfg.data.drop_bad_rows,
                     date_format=cfg.data.date_format)
    universe, bench = select_bars(bars, bt, symbols)
    market = prepare_market(universe, bt)
    return Prepared(market, universe, bench, dict(bars.attrs), data_hash(universe, bench),
                    list(market.panel.symbols))


@contextlib.contextmanager
def mock_endpoint(cfg: CompetitionConfig, entrants: list[Entrant], mock: bool) -> Iterator[list[Entrant]]:
    """With ``mock``, a local OpenAI-compatible mock server for this run; traders on ``mock-*`` models call it."""
    if not mock or not any(e.kind == "ai" and (e.model or "").startswith(MOCK_PREFIX) for e in entrants):
        yield entrants
        return
    from nofx.ai.mock_server import MockServer

    with MockServer() as srv:
        yield [replace(e, ai=e.ai.model_copy(update={"base_url": srv.url}))
               if e.ai is not None and (e.model or "").startswith(MOCK_PREFIX) else e for e in entrants]


@dataclass
class CompetitionResult:
    board: Board
    outcome: ReplayOutcome
    resumed: bool
    finished: bool


def _market_json(p: Prepared, cfg: CompetitionConfig, trade_from: int) -> dict[str, Any]:
    ts = p.market.panel.timestamps[trade_from:]
    b = None
    if p.bench is not None:
        s = p.bench.reindex(pd.DatetimeIndex(ts)).ffill()
        b = {"symbol": cfg.backtest.benchmark, "index": [pd.Timestamp(t).isoformat() for t in s.index],
             "values": [None if v != v else float(v) for v in s.to_numpy()]}
    return {"market": {"symbols": p.symbols, "benchmark": b, "first": pd.Timestamp(ts[0]).isoformat() if len(ts) else None,
                       "last": pd.Timestamp(ts[-1]).isoformat() if len(ts) else None, "slices": int(len(ts))}}


def run_competition(cfg: CompetitionConfig, store: SqlLedgerStore, *, resume: bool = False, mock: bool = False,
                    live: bool = True, stop_after: int | None = None, stream: Any = None) -> CompetitionResult:
    """Run (or with ``resume`` continue) the competition ``cfg`` in ``store``'s database."""
    cs = CompetitionStore(store)
    cid = cfg.competition.id
    existing = cs.get(cid)
    config_json = canonical_config(cfg)
    if existing is not None and not resume:
        raise ConfigError("competition already exists in this database: add --resume to continue it, or "
                          "choose another [competition] id", competition=cid)
    if existing is None and resume:
        raise ConfigError("no competition to resume in this database", competition=cid)
    if existing is not None and existing.config_json != config_json:
        raise ConfigError("the config differs from the one the competition started with; resume with the "
                          "same file and options (or start a new competition id)", competition=cid)
    prepared = prepare(cfg)
    now = datetime.now(timezone.utc)
    trade_from = trade_start(prepared.market, cfg)
    if existing is not None:
        if existing.data_hash != prepared.data_hash:
            raise ConfigError("the bars differ from the ones the competition started with (data hash)",
                              competition=cid, stored=existing.data_hash[:12], now=prepared.data_hash[:12])
        cs.update(cid, status="running")
    else:
        cs.create(CompetitionRecord(cid, cfg.competition.name or cid, "running", now, now, None, config_json,
                                    prepared.data_hash, code_version(), cfg.competition.runs, trade_from - 1,
                                    json.dumps(_market_json(prepared, cfg, trade_from))))
    entrants = cfg.entrants()
    known = {t.trader_id for t in cs.traders(cid)}

    def after_open(seats: list) -> None:  # type: ignore[type-arg]
        cs.add_traders([CompetitionTrader(cid, e.trader_id, e.name, e.kind, e.run, e.model, e.seed, e.temperature)
                        for e in entrants if e.trader_id not in known])

    panel = prepared.market.panel
    ann = annualisation_for(panel.timestamps[trade_from:], prepared.symbols)
    bench = None
    if prepared.bench is not None:
        bench = prepared.bench.reindex(pd.DatetimeIndex(panel.timestamps)).ffill().to_numpy(dtype=float)
    board = LiveBoard(cfg.competition.name or cid, len(panel.timestamps), trade_from, bench, ann.periods_per_year,
                      enabled=live, stream=stream)
    status = "failed"
    outcome: ReplayOutcome | None = None
    try:
        with mock_endpoint(cfg, entrants, mock or cfg.competition.mock) as ents:
            outcome = asyncio.run(replay(cfg, ents, prepared.market, prepared.universe, prepared.attrs, store,
                                         resume=resume, stop_after=stop_after, on_step=board.update,
                                         after_open=after_open))
        if outcome.last >= 0:
            board.update(outcome.last, outcome.seats, force=True)
        status = "finished" if outcome.finished else "running"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        board.close()
        done: dict[str, Any] = {"status": status}
        if status == "finished":
            done["finished"] = datetime.now(timezone.utc)
        if outcome is not None and outcome.last >= 0:
            done["cursor"] = outcome.last
        cs.update(cid, **done)
    board = score_competition(store, cid, seen={s.trader_id: s.seen_chain.hexdigest() for s in outcome.seats}
                              if outcome.finished else None)
    return CompetitionResult(board, outcome, resume, outcome.finished)


__all__ = ["run_competition", "prepare", "CompetitionResult"]
