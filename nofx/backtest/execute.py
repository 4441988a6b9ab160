"""Run a validated backtest configuration: read the bars it names, build the strategy, run the engine.
Shared by ``nofx backtest``, sweeps and the API's background backtests."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from nofx.backtest.result import BacktestResult
from nofx.backtest.run_config import RunConfig
from nofx.domain.errors import ConfigError
from nofx.domain.instruments import parse_symbols

if TYPE_CHECKING:
    from nofx.strategies.base import Strategy


def load_bars(path: str | None, symbols: list[str] | None, benchmark: str | None, start: date | None,
              end: date | None, *, drop_bad_rows: bool = False, date_format: str | None = None):
    """Bars through the one validator: rows ``nofx data check`` reports are refused (DataError), or with
    ``drop_bad_rows`` left out and listed in ``attrs[DROPPED_ATTR]``."""
    from nofx.data.bars import read_bars
    from nofx.data.bundled import bundled_bars_path

    src = Path(path) if path else bundled_bars_path()
    wanted = None
    if symbols:
        wanted = list(symbols) + ([benchmark] if benchmark and benchmark not in symbols else [])
    return read_bars(src, symbols=wanted, start=start, end=end, drop_bad_rows=drop_bad_rows,
                     date_format=date_format)


def dropped_notes(bars) -> list[str]:
    """``dropped FILE line 3: ...`` for each row left out by ``drop_bad_rows`` (the run's messages)."""
    from nofx.data.schema import DROPPED_ATTR, SOURCE_ATTR

    return [f"dropped {bars.attrs.get(SOURCE_ATTR, '?')} {line}" for line in bars.attrs.get(DROPPED_ATTR) or []]


def load_run_bars(cfg: RunConfig):
    """The bars a run config names (warm-up included) and its symbol list (None: all in the file); the
    backtest and the processes of ``nofx system`` read their data through here."""
    symbols = None if cfg.data.symbols == "all" else list(cfg.data.symbols)
    if symbols:
        parse_symbols(",".join(symbols))  # clear error on a bad symbol before reading data
    bt = cfg.backtest
    if bt.start and bt.end and bt.start > bt.end:
        raise ConfigError("start is after end", start=bt.start, end=bt.end)
    load_from = bt.start
    if bt.start and bt.warmup_bars:  # calendar days that surely hold that many trading days
        load_from = bt.start - timedelta(days=int(bt.warmup_bars * 1.6) + 15)
    bars = load_bars(cfg.data.path, symbols, bt.benchmark, load_from, bt.end,
                     drop_bad_rows=cfg.data.drop_bad_rows, date_format=cfg.data.date_format)
    return bars, symbols


def _registered_strategy(cfg: RunConfig) -> Strategy:
    import nofx.strategies.builtin  # noqa: F401  (registers the strategies)
    from nofx.strategies.registry import REGISTRY

    if cfg.strategy is None:
        raise ConfigError("no strategy given (use --strategy or a [strategy] section)")
    return REGISTRY.create(cfg.strategy.name, cfg.strategy.params)


def preflight(cfg: RunConfig) -> None:
    """Check a run config as :func:`execute` would before its first slice (the strategy and its
    parameters; the bars file, symbols and dates), without running it. For commands that hand the run to
    other processes (``nofx system run``): bad input is one line before any process starts.

    Raises ``ConfigError``/``DataError`` as :func:`execute` does."""
    _registered_strategy(cfg)
    load_run_bars(cfg)


def execute(cfg: RunConfig, progress: bool = True,
            on_progress: Callable[[int, int], None] | None = None, strategy: Strategy | None = None) -> BacktestResult:
    """Run a validated :class:`RunConfig` (the CLI, sweeps, ``nofx rl eval`` and the API all come through
    here). ``on_progress(done, total)`` is called as slices are processed. ``strategy``: an instance to
    run instead of creating ``cfg.strategy`` from the registry (a policy that is not a registered
    checkpoint, e.g. SB3's), with everything else from ``cfg``."""
    from nofx.backtest.runner import run_backtest

    if strategy is None:
        strategy = _registered_strategy(cfg)
    bars, symbols = load_run_bars(cfg)
    bt = cfg.backtest
    result = run_backtest(bars, strategy, bt, progress=progress, symbols=symbols, risk=cfg.risk,
                          on_progress=on_progress)
    result.messages[:0] = dropped_notes(bars)
    return result
