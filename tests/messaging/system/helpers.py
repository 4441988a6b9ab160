"""Running a system (real processes on real sockets) next to the backtester on the same run config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from nofx.backtest.execute import execute
from nofx.backtest.run_config import RunConfig
from nofx.messaging.system.launch import run_system, single_trader_spec


def run_config(data: Path, symbols: list[str], end: str, start: str | None = None, fill: str = "next_open",
               params: dict[str, Any] | None = None, strategy: str = "dual_ma") -> RunConfig:
    return RunConfig.model_validate({
        "data": {"path": str(data), "symbols": symbols},
        "backtest": {"start": start, "end": end, "fill": fill, "rules": "cn"},
        "strategy": {"name": strategy, "params": params or {}},
    })


def backtest_json(cfg: RunConfig, tmp: Path) -> dict:
    out = tmp / "backtest.json"
    execute(cfg, progress=False).write_json(out)
    return json.loads(out.read_text())


def system_json(cfg: RunConfig, workdir: Path, transport: str = "ipc",
                during: Callable | None = None, restarts: list | None = None) -> tuple[dict, dict]:
    """The system run's JSON and the processes' exit codes at shutdown."""
    out = workdir / "system.json"
    spec = single_trader_spec(cfg, workdir, str(out), transport=transport)
    codes = run_system(spec, workdir, during=during,
                       on_restart=(lambda name, rc: restarts.append((name, rc))) if restarts is not None else None)
    return json.loads(out.read_text()), codes
