"""Parameter sweeps and symbol screens: many independent backtests run in parallel on Ray.

Each job is one call of :func:`run_one` = ``run_backtest`` on the same bars with one combination of
strategy parameters (and optionally one symbol subset), so a sweep row equals the backtest run alone
(a test checks it). Ray runs locally by default (``ray.init(num_cpus=workers)``); pass ``address``
(``ray://host:10001`` or ``auto``) to use a cluster whose workers have nofx installed. The bars frame
is put into Ray's object store once and shared by every task.

Grid syntax (one ``--grid`` per parameter; the jobs are the cross product, first parameter slowest):

* ``name=v1,v2,v3``      explicit values (text; the strategy's pydantic Params convert them)
* ``name=start:stop:step`` an inclusive arithmetic range, ints if all three are ints
  (``slow=20:40:10`` -> 20, 30, 40; ``target_percent=0.2:0.6:0.2`` -> 0.2, 0.4, 0.6)

Symbol screens: each ``--symbol-set A,B`` is one universe; with several the jobs are the cross
product of the grid and the sets.
"""

from __future__ import annotations

import itertools
import logging
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping, Sequence

import pandas as pd
import ray

import nofx.strategies.builtin  # noqa: F401  (registers the built-in strategies in every Ray worker)
from nofx.backtest.config import BacktestConfig
from nofx.backtest.runner import run_backtest
from nofx.domain.errors import ConfigError, NofxError, one_line
from nofx.progress import Progress
from nofx.strategies.registry import REGISTRY

RAY_ADDRESS = re.compile(r"auto|(ray://)?[A-Za-z0-9.\-]+:\d{1,5}")  # what ray.init(address=...) accepts

# Metrics copied into the results table (the full dict stays available from run_backtest).
TABLE_METRICS: tuple[str, ...] = (
    "total_return", "annual_return", "sharpe", "sortino", "max_drawdown", "calmar", "win_rate",
    "n_trades", "fees_paid", "final_equity",
)


@dataclass(frozen=True, slots=True)
class SweepJob:
    index: int
    params: Mapping[str, Any]
    symbols: tuple[str, ...] | None  # None: the sweep's common universe


def _range_values(name: str, text: str) -> list[str]:
    parts = text.split(":")
    if len(parts) != 3:
        raise ConfigError("a range needs start:stop:step", grid=f"{name}={text}")
    try:
        start, stop, step = (Decimal(p.strip()) for p in parts)
    except InvalidOperation:
        raise ConfigError("range bounds must be numbers", grid=f"{name}={text}") from None
    if step <= 0 or stop < start:
        raise ConfigError("range needs step > 0 and stop >= start", grid=f"{name}={text}")
    count = int((stop - start) / step) + 1
    if count > 10_000:
        raise ConfigError("range has more than 10,000 values", grid=f"{name}={text}")
    # Decimal steps: 0.2:0.6:0.2 gives exactly 0.2, 0.4, 0.6 (floats would drift)
    return [str(start + k * step) for k in range(count)]


def parse_grid(specs: Sequence[str]) -> dict[str, list[str]]:
    """``["fast=5,10", "slow=20:40:10"]`` -> ``{"fast": ["5", "10"], "slow": ["20", "30", "40"]}``."""
    grid: dict[str, list[str]] = {}
    for spec in specs:
        if "=" not in spec:
            raise ConfigError("grid must look like name=v1,v2 or name=start:stop:step", grid=spec)
        name, text = (x.strip() for x in spec.split("=", 1))
        if not name or not text:
            raise ConfigError("grid needs a parameter name and values", grid=spec)
        if name in grid:
            raise ConfigError("parameter given twice in the grid", param=name)
        values = _range_values(name, text) if ":" in text else [v.strip() for v in text.split(",") if v.strip()]
        if not values:
            raise ConfigError("grid has no values", grid=spec)
        grid[name] = values
    return grid


def expand_jobs(
    grid: Mapping[str, Sequence[Any]],
    symbol_sets: Sequence[Sequence[str]] | None = None,
    fixed: Mapping[str, Any] | None = None,
) -> list[SweepJob]:
    """Cross product of the grid values (and the symbol sets), each merged over ``fixed`` params."""
    names = list(grid)
    combos = list(itertools.product(*(grid[n] for n in names))) if names else [()]
    sets: list[tuple[str, ...] | None] = [tuple(s) for s in symbol_sets] if symbol_sets else [None]
    jobs: list[SweepJob] = []
    for combo, syms in itertools.product(combos, sets):
        jobs.append(SweepJob(len(jobs), {**(fixed or {}), **dict(zip(names, combo))}, syms))
    return jobs


def run_one(
    bars: pd.DataFrame,
    strategy: str,
    params: Mapping[str, Any],
    config: BacktestConfig,
    symbols: Sequence[str] | None = None,
) -> dict[str, Any]:
    """One backtest, alone: the metrics dict of ``run_backtest`` (what each Ray task returns)."""
    result = run_backtest(bars, REGISTRY.create(strategy, dict(params)), config, symbols=symbols)
    return dict(result.metrics)


def _row(job: SweepJob, metrics: Mapping[str, Any], default_symbols: Sequence[str] | None) -> dict[str, Any]:
    row: dict[str, Any] = {"job": job.index, **job.params}
    syms = job.symbols if job.symbols is not None else default_symbols
    row["symbols"] = ",".join(syms) if syms else "all"
    row.update({k: metrics.get(k) for k in TABLE_METRICS})
    return row


def _result(ref: ray.ObjectRef) -> dict[str, Any]:
    """A task's metrics; a NofxError raised in a worker is re-raised as itself (one clear line)."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, NofxError):
            raise cause from None
        raise


def sort_results(table: pd.DataFrame, metric: str, ascending: bool = False) -> pd.DataFrame:
    """Best first by ``metric`` (missing values last), ties by job order."""
    if metric not in table.columns:
        raise ConfigError(f"unknown metric {metric!r}; choose one of {', '.join(TABLE_METRICS)}", metric=metric)
    key = pd.to_numeric(table[metric], errors="coerce")
    order = key.sort_values(ascending=ascending, na_position="last", kind="mergesort").index
    return table.loc[order].reset_index(drop=True)


def run_sweep(
    bars: pd.DataFrame,
    strategy: str,
    jobs: Sequence[SweepJob],
    config: BacktestConfig,
    *,
    symbols: Sequence[str] | None = None,
    address: str | None = None,
    workers: int | None = None,
    metric: str = "sharpe",
    ascending: bool = False,
    progress: bool = True,
) -> pd.DataFrame:
    """Run every job as a Ray task; returns the results table sorted best first by ``metric``.

    ``symbols`` is the universe of jobs without their own symbol set. Parameters are validated here
    first, so a bad combination fails at once with its values instead of inside a worker.
    """
    if not jobs:
        raise ConfigError("the sweep has no jobs")
    if metric not in TABLE_METRICS:
        raise ConfigError(f"unknown metric {metric!r}; choose one of {', '.join(TABLE_METRICS)}", metric=metric)
    for job in jobs:
        REGISTRY.create(strategy, dict(job.params))  # raises ConfigError naming the bad parameter
    if workers is not None and workers < 1:
        raise ConfigError("workers must be at least 1", workers=workers)

    if address is not None and not RAY_ADDRESS.fullmatch(address):
        raise ConfigError("--address must be auto, ray://HOST:PORT or HOST:PORT", address=address)
    started_here = not ray.is_initialized()
    if started_here:
        if address:
            try:
                ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
            except (ConnectionError, TimeoutError, RuntimeError, ValueError) as exc:
                raise ConfigError(f"cannot join the Ray cluster: {one_line(exc)}", address=address) from None
        else:
            ray.init(num_cpus=workers or 2, include_dashboard=False, log_to_driver=False,
                     logging_level=logging.WARNING)
    try:
        remote = ray.remote(num_cpus=1)(run_one)
        bars_ref = ray.put(bars)
        pending = {
            remote.remote(bars_ref, strategy, dict(job.params), config,
                          list(job.symbols) if job.symbols is not None else symbols): job
            for job in jobs
        }
        rows: list[dict[str, Any]] = []
        with Progress("sweep", len(jobs), enabled=progress) as bar:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    job = pending.pop(ref)
                    rows.append(_row(job, _result(ref), symbols))
                    bar.advance(note=f"job {job.index}")
    finally:
        if started_here:
            ray.shutdown()
    table = pd.DataFrame(rows).sort_values("job").reset_index(drop=True)
    return sort_results(table, metric, ascending)

