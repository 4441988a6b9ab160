"""``nofx sweep``: a grid of strategy parameters (and/or symbol subsets) as parallel backtests on Ray,
shown best first. Grid syntax: see :mod:`nofx.backtest.sweep`."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from nofx.cli.bars_options import DATE_FORMAT_HELP, DROP_BAD_ROWS_HELP
from nofx.cli.errors import user_errors
from nofx.cli.outputs import check_output_file
from nofx.cli.terminal import output_console
from nofx.domain.errors import ConfigError

# Ray and the backtester are imported inside the command: the CLI mounts this module for every
# `nofx ...` call, and importing Ray costs seconds that other commands should not pay.

app = typer.Typer(help="Parameter sweeps and symbol screens on Ray.")
console = output_console(markup=False)  # user text (paths, params, "[strategy]") is printed as is


def _day(text: Optional[str], option: str) -> Optional[date]:
    if text is None:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise ConfigError(f"{option} must be a date like 2019-01-31", value=text) from None


@app.command("sweep")
@user_errors
def sweep(
    strategy: str = typer.Option(..., "--strategy", "-s", help="registered strategy name, e.g. dual_ma"),
    data: Path = typer.Option(..., "--data", "-d", help="bars file (Parquet or CSV, canonical schema)"),
    symbols: Optional[str] = typer.Option(None, "--symbols", help="universe, comma-separated (default: all)"),
    grid: List[str] = typer.Option([], "--grid", "-g",
                                   help="NAME=v1,v2 or NAME=start:stop:step (inclusive); repeat per parameter"),
    symbol_set: List[str] = typer.Option([], "--symbol-set",
                                         help="one universe per option (A,B); jobs = grid x sets"),
    params: Optional[str] = typer.Option(None, "--params", "-p", help="fixed parameters: k=v,k=v"),
    start: Optional[str] = typer.Option(None, "--start", help="first day YYYY-MM-DD"),
    end: Optional[str] = typer.Option(None, "--end", help="last day YYYY-MM-DD"),
    cash: float = typer.Option(1_000_000.0, "--cash"),
    rules: str = typer.Option("auto", "--rules", help="auto, cn, hk or none"),
    fees: str = typer.Option("default", "--fees", help="default or zero"),
    fill: str = typer.Option("next_open", "--fill", help="next_open or close"),
    metric: str = typer.Option("sharpe", "--metric", "-m", help="rank by: total_return, annual_return, sharpe, sortino, max_drawdown, calmar, "
                              "win_rate, n_trades, fees_paid, final_equity"),
    ascending: bool = typer.Option(False, "--ascending", help="lower is better for --metric"),
    top: int = typer.Option(20, "--top", min=1, help="rows to print (all are written to --output)"),
    address: Optional[str] = typer.Option(None, "--address", help="Ray cluster (ray://host:10001 or auto)"),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", min=1, max=1024, help="local Ray CPUs (default 2)"),
    drop_bad_rows: bool = typer.Option(False, "--drop-bad-rows", help=DROP_BAD_ROWS_HELP),
    date_format: Optional[str] = typer.Option(None, "--date-format", help=DATE_FORMAT_HELP),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="write the full table (.csv or .parquet)"),
) -> None:
    """Run every combination as an independent backtest in parallel and rank the results."""
    from nofx.backtest.config import BacktestConfig
    from nofx.backtest.sweep import expand_jobs, parse_grid, run_sweep
    from nofx.cli.bars_options import report_dropped
    from nofx.data.bars import read_bars
    from nofx.domain.instruments import parse_symbols
    from nofx.strategies.base import parse_params_text

    check_output_file(output, "--output")
    universe = [i.symbol for i in parse_symbols(symbols)] if symbols else None
    sets = [[i.symbol for i in parse_symbols(s)] for s in symbol_set] or None
    wanted = sorted(set(universe or []) | {s for ss in sets or [] for s in ss}) or None
    first, last = _day(start, "--start"), _day(end, "--end")
    config = BacktestConfig(start=first, end=last, cash=Decimal(repr(cash)), rules=rules,
                            fees=fees, fill=fill)
    jobs = expand_jobs(parse_grid(grid), sets, parse_params_text(params))
    bars = read_bars(data, symbols=wanted, start=first, end=last, drop_bad_rows=drop_bad_rows,
                     date_format=date_format)
    report_dropped(bars)
    console.print(f"sweep {strategy}: {len(jobs)} backtests on "
                  f"{'Ray at ' + address if address else f'local Ray ({workers or 2} CPUs)'}")
    table = run_sweep(bars, strategy, jobs, config, symbols=universe, address=address, workers=workers,
                      metric=metric, ascending=ascending, progress=True)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        table.to_parquet(output) if output.suffix == ".parquet" else table.to_csv(output, index=False)
    grid_names = list(parse_grid(grid))
    metrics = list(dict.fromkeys([metric, "total_return", "sharpe", "max_drawdown", "n_trades", "final_equity"]))
    columns = grid_names + (["symbols"] if sets else []) + metrics
    shown = Table(title=f"{strategy}: best {min(top, len(table))} of {len(table)} by {metric}")
    shown.add_column("rank", justify="right")
    for col in columns:
        shown.add_column(col, justify="left" if col == "symbols" else "right")
    for rank, (_, row) in enumerate(table.head(top).iterrows(), start=1):
        shown.add_row(str(rank), *(_cell(col, row[col]) for col in columns))
    console.print(shown)


_PERCENT = {"total_return", "annual_return", "max_drawdown", "win_rate"}


def _cell(col: str, v: object) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "-"
    if col in _PERCENT:
        return f"{float(v):+.2%}"  # type: ignore[arg-type]
    if isinstance(v, float):
        return f"{v:,.2f}" if abs(v) >= 100 else f"{v:.3f}"
    return str(v)
