"""Backtests submitted over HTTP run in a pool of worker *processes* (a backtest is CPU-bound Python:
in a thread it would hold the GIL and slow every request). A job writes its own status, progress,
metrics and HTML report path to the ``backtests`` row, so any server process can answer for it, and a
job interrupted by a restart is queued again when the server starts.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import time
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

from nofx.api.repo import Repo, utcnow

PROGRESS_EVERY_S = 0.5


def run_job(db_url: str, backtest_id: str, config: dict[str, Any], data_path: str | None, report_dir: str) -> None:
    """The worker process' entry point (top-level, so it pickles)."""
    from nofx.backtest.execute import execute
    from nofx.backtest.run_config import RunConfig
    from nofx.persistence.connection import make_engine
    from nofx.report.html import write_backtest_report

    engine = make_engine(db_url)
    repo = Repo(engine)
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if done >= total or now - last[0] >= PROGRESS_EVERY_S:
            last[0] = now
            repo.set_backtest(backtest_id, progress=round(min(0.99, done / max(total, 1)), 4))

    try:
        repo.set_backtest(backtest_id, status="running", progress=0.0)
        cfg = RunConfig.model_validate({
            "data": {"path": data_path, "symbols": config["symbols"]},
            "backtest": {k: config[k] for k in ("start", "end", "cash", "rules", "fees", "fill", "benchmark")
                         if config.get(k) is not None},
            "strategy": {"name": config["strategy"], "params": config.get("params") or {}},
            "risk": config.get("risk") or {},
        })
        result = execute(cfg, progress=False, on_progress=progress)
        Path(report_dir).mkdir(parents=True, exist_ok=True)
        report = str(Path(report_dir) / f"{backtest_id}.html")
        write_backtest_report(result, report, plotly="inline-gz")  # served alone over HTTP: standalone file
        metrics = {k: _finite(v) for k, v in result.metrics.items()}
        repo.set_backtest(backtest_id, status="done", progress=1.0, metrics_json=json.dumps(metrics),
                          report_path=report, finished=utcnow())
    except Exception as exc:  # noqa: BLE001 - the job's outcome is data for the client, not a crash
        from nofx.domain.errors import NofxError

        message = str(exc) if isinstance(exc, NofxError) else f"{type(exc).__name__}: backtest failed"
        repo.set_backtest(backtest_id, status="failed", error=message[:500], finished=utcnow())
    finally:
        engine.dispose()


def _finite(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, (int, float, str)) or v is None:
        return v
    try:
        return float(v)
    except (TypeError, ValueError):
        return str(v)


class BacktestRunner:
    def __init__(self, db_url: str, data_path: str | None, report_dir: Path, workers: int) -> None:
        self._db_url = db_url
        self._data_path = data_path
        self._report_dir = str(report_dir)
        # spawn: a forked child would inherit the server's threads and locks half-held
        self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
        self._futures: dict[str, Future] = {}

    def submit(self, backtest_id: str, config: dict[str, Any]) -> None:
        self._futures[backtest_id] = self._pool.submit(run_job, self._db_url, backtest_id, config, self._data_path,
                                                       self._report_dir)
        self._futures[backtest_id].add_done_callback(lambda _f: self._futures.pop(backtest_id, None))

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
