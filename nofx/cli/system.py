"""``nofx system``: run market data, the engine and strategies as separate processes on the bus."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Optional

import typer

from nofx.cli.terminal import output_console

app = typer.Typer()
system_app = typer.Typer(help="Multi-process trading on the ZeroMQ bus (see docs/system.md).", no_args_is_help=True)
app.add_typer(system_app, name="system")
console = output_console(markup=False)


@system_app.command("run")
def run(
    strategy: Optional[str] = typer.Option(None, "--strategy", "-s", help="registered strategy name"),
    data: Optional[str] = typer.Option(None, "--data", "-d", help="bars file (Parquet/CSV); default: bundled demo"),
    symbols: Optional[str] = typer.Option(None, help="comma-separated symbols (default: all tradable in file)"),
    start: Optional[str] = typer.Option(None, help="first date, YYYY-MM-DD"),
    end: Optional[str] = typer.Option(None, help="last date, YYYY-MM-DD"),
    cash: Optional[str] = typer.Option(None, help="initial cash (default 1000000)"),
    params: Optional[str] = typer.Option(None, help="strategy params: key=value,key=value"),
    json_path: Optional[str] = typer.Option(None, "--json", help="write trades/equity/metrics JSON here"),
    rules: Optional[str] = typer.Option(None, help="cn | hk | none (default: from the symbols)"),
    fees: Optional[str] = typer.Option(None, help="default | zero"),
    fill: Optional[str] = typer.Option(None, help="next_open | close"),
    benchmark: Optional[str] = typer.Option(None, help="benchmark symbol, e.g. 000300.SH"),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="TOML/YAML run config (as for backtest)"),
    speed: float = typer.Option(0.0, help="0: as fast as the processes acknowledge; N: N x the bars' pace"),
    transport: str = typer.Option("ipc", help="ipc (sockets in the work folder) | tcp (free loopback ports)"),
    workdir: Optional[Path] = typer.Option(None, help="folder for the ledger, logs, sockets (default: temporary)"),
    trader: str = typer.Option("backtest", help="trader id (names its orders, as the backtester's 'backtest')"),
) -> None:
    """Replay bars through a broker, a market-data process, the engine process and one strategy process;
    writes the same JSON as ``nofx backtest`` (equal trades with the default fill model)."""
    from nofx.cli.backtest import run_config_from_options
    from nofx.cli.outputs import check_output_file
    from nofx.messaging.system.launch import run_system, single_trader_spec
    from nofx.report.console import print_metrics

    cfg = run_config_from_options(config, strategy=strategy, params=params, data=data, symbols=symbols,
                                  start=start, end=end, cash=cash, rules=rules, fees=fees, fill=fill,
                                  benchmark=benchmark)
    out = check_output_file(json_path, "--json")
    tmp = None
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="nofx-system-")
        workdir = Path(tmp.name)
    try:
        result_path = str(Path(out).resolve()) if out else str((workdir / "result.json").resolve())
        spec = single_trader_spec(cfg, workdir, result_path, trader_id=trader, speed=speed, transport=transport)
        run_system(spec, workdir, on_restart=lambda name, rc: console.print(
            f"{name} exited ({rc}); restarted", markup=False))
        result = json.loads(Path(result_path).read_text())
    finally:
        if tmp is not None:
            tmp.cleanup()
    console.print(f"{result['strategy']} (system: broker, market data, engine, strategy processes)", markup=False)
    print_metrics(result["metrics"], title="System run metrics", console=console)
    console.print(f"{len(result['trades'])} fills, {len(result['rejections'])} refused orders")
    if out:
        console.print(f"wrote {out}")
