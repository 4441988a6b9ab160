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
        from nofx.backtest.execute import preflight

        preflight(cfg)  # the strategy, its parameters and the bars: one line now, not a child's log
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


@system_app.command("up")
def up(
    config: Path = typer.Option(..., "--config", "-c", help="system.toml: broker endpoints, run, traders, ledger"),
    workdir: Optional[Path] = typer.Option(None, help="folder for the processes' logs (default: next to the config)"),
) -> None:
    """Start a long-running system (broker, market data, engine, one process per trader) and supervise it
    until the replay ends or Ctrl-C / SIGTERM, which shut every process down cleanly (the ledger stays
    consistent: start it again to resume)."""
    import signal
    import threading

    from nofx.messaging.system.spec import load_system_config
    from nofx.messaging.system.supervisor import Supervisor

    spec = load_system_config(config)
    workdir = workdir or config.resolve().parent / f".{config.stem}"
    workdir.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    sup = Supervisor(spec, spec.write(workdir / "system.json"), workdir)
    finished = False
    try:
        sup.start_all()
        names = ", ".join(sup.procs)
        console.print(f"system up: {names} (status: nofx system status --config {config})", markup=False)
        finished = sup.run(stop=stop.is_set, on_restart=lambda name, rc: console.print(
            f"{name} exited ({rc}); restarted", markup=False))
    finally:
        codes = sup.shutdown()
    bad = {n: c for n, c in codes.items() if c not in (0, None)}
    console.print(("replay finished" if finished else "stopped") + "; every process shut down"
                  + (f" (exit codes {bad})" if bad else ""), markup=False)
    for t in spec.traders:
        if finished and t.json_path:
            console.print(f"wrote {t.json_path}", markup=False)


@system_app.command("status")
def status(
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="the system.toml of the system"),
    status_file: Optional[Path] = typer.Option(None, "--status-file", help="or the status file itself"),
    as_json: bool = typer.Option(False, "--json", help="print the status file's JSON"),
) -> None:
    """Each process of a running system: pid, uptime, restarts, message rates, lag, drops, rejected frames
    (from the status file the supervisor rewrites every 100 ms)."""
    import time

    from nofx.domain.errors import ConfigError
    from nofx.messaging.system.spec import load_system_config

    if status_file is None:
        if config is None:
            raise ConfigError("give --config (the system.toml) or --status-file")
        status_file = Path(load_system_config(config).status_file or "")
    try:
        st = json.loads(Path(status_file).read_text())
    except FileNotFoundError:
        raise ConfigError("no status file: is the system up?", file=str(status_file)) from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"status file is not JSON: {e}", file=str(status_file)) from None
    if as_json:
        typer.echo(json.dumps(st, indent=1))
        return
    from rich.table import Table

    age = time.time() - st.get("written", 0)
    state = "stopped" if st.get("stopped") else ("running" if age < 5 else f"no update for {age:.0f} s")
    table = Table(title=f"system ({state})")
    for col in ("process", "role", "pid", "alive", "uptime s", "restarts", "in/s", "out/s", "lag ms", "slice",
                "received", "gaps/lost", "rejected"):
        table.add_column(col)
    for p in st.get("processes", []):
        rej = p.get("rejected") or {}
        table.add_row(p["name"], p["role"], str(p.get("pid") or "-"), "yes" if p.get("alive") else "no",
                      f"{p.get('uptime_s', 0):.1f}", str(p.get("restarts", 0)), str(p.get("in_per_s", "-")),
                      str(p.get("out_per_s", "-")), str(p.get("lag_ms", "-")), str(p.get("index", "-")),
                      str(p.get("received", "-")), f"{p.get('gaps', 0)}/{p.get('lost', 0)}",
                      ", ".join(f"{k} {v}" for k, v in sorted(rej.items())) or "0")
    console.print(table)
