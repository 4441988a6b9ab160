"""``nofx paper``: replay real bars through the live engine with a persisted, resumable ledger."""

from __future__ import annotations

import json
from typing import Optional

import typer

from nofx.cli.backtest import COMMISSION_BASIS_HELP, INVESTOR_HELP, PRICES_HELP
from nofx.cli.bars_options import DATE_FORMAT_HELP, DROP_BAD_ROWS_HELP, report_dropped
from nofx.cli.terminal import output_console
from nofx.domain.errors import ConfigError

app = typer.Typer()
console = output_console(markup=False)  # user text (paths, params, "[strategy]") is printed as is


SQLITE_SYNC_HELP = ("SQLite ledger durability: full (default: acknowledged orders survive power loss) | normal "
                    "(survive a process crash only; faster). Also [ledger] sqlite_synchronous, $NOFX_SQLITE_SYNC")


def _open_store(db: str | None, sqlite_sync: str | None = None):
    from nofx.persistence.store import SqlLedgerStore

    return SqlLedgerStore(db, sqlite_synchronous=sqlite_sync)  # type: ignore[arg-type]


@app.command("paper")
def paper(
    strategy: Optional[str] = typer.Option(None, "--strategy", "-s", help="registered strategy name"),
    data: Optional[str] = typer.Option(None, "--data", "-d", help="bars file; default: bundled demo slice"),
    symbols: Optional[str] = typer.Option(None, help="comma-separated symbols (default: all in the file)"),
    start: Optional[str] = typer.Option(None, help="first date"),
    end: Optional[str] = typer.Option(None, help="last date"),
    cash: Optional[str] = typer.Option(None, help="initial cash (default 1000000)"),
    params: Optional[str] = typer.Option(None, help="strategy params key=value,..."),
    rules: Optional[str] = typer.Option(None, help="cn | hk | none (default: from the symbols)"),
    fees: Optional[str] = typer.Option(None, help="default | zero"),
    prices: Optional[str] = typer.Option(None, help=PRICES_HELP),
    investor: Optional[str] = typer.Option(None, help=INVESTOR_HELP),
    commission_min_basis: Optional[str] = typer.Option(None, help=COMMISSION_BASIS_HELP),
    at_limit: Optional[str] = typer.Option(None, "--at-limit",
                                           help="a buy at limit-up / sell at limit-down: refuse | fraction"),
    at_limit_fraction: Optional[str] = typer.Option(None, "--at-limit-fraction",
                                                    help="with --at-limit fraction: share of the bar's volume"),
    speed: float = typer.Option(0.0, help="0 = as fast as possible; N = N x real time"),
    latency_ms: float = typer.Option(0.0, "--latency-ms", help="order latency to the simulated venue"),
    db: Optional[str] = typer.Option(None, help="database URL (default $NOFX_DB_URL or sqlite:///nofx.db)"),
    sqlite_sync: Optional[str] = typer.Option(None, "--sqlite-sync", help=SQLITE_SYNC_HELP),
    trader: Optional[str] = typer.Option(None, help="trader id (default: paper-<strategy>)"),
    resume: bool = typer.Option(False, "--resume", help="continue the trader's run from its ledger"),
    config: Optional[str] = typer.Option(None, "--config", "-c", help="TOML/YAML run config"),
    drop_bad_rows: bool = typer.Option(False, "--drop-bad-rows", help=DROP_BAD_ROWS_HELP),
    date_format: Optional[str] = typer.Option(None, "--date-format", help=DATE_FORMAT_HELP),
    progress: bool = typer.Option(True, help="show a progress bar"),
    stop_after: Optional[int] = typer.Option(None, hidden=True, help="process at most N slices (tests)"),
) -> None:
    """Paper-trade a strategy by replaying bars; every order, fill and snapshot is persisted."""
    import nofx.strategies.builtin  # noqa: F401
    from nofx.cli.backtest import run_config_from_options
    from nofx.live.paper import check_paper_pacing
    from nofx.persistence.connection import resolve_sqlite_sync
    from nofx.persistence.schema import check_trader_id
    from nofx.persistence.urls import resolve_url

    # every option is checked before the ledger is opened or a bar is read
    check_paper_pacing(speed, latency_ms)
    if trader is not None:
        check_trader_id(trader)
    if sqlite_sync is not None:
        resolve_sqlite_sync(sqlite_sync, "--sqlite-sync")  # a bad value is refused before anything is opened
    url = resolve_url(db)
    new_cfg = None
    if strategy is not None or config is not None or not resume:
        new_cfg = run_config_from_options(config, strategy=strategy, params=params, data=data, symbols=symbols,
                                          start=start, end=end, cash=cash, rules=rules, fees=fees,
                                          prices=prices, investor=investor,
                                          commission_min_basis=commission_min_basis,
                                          at_limit=at_limit, at_limit_fraction=at_limit_fraction,
                                          drop_bad_rows=drop_bad_rows, date_format=date_format)
        if new_cfg.strategy is None:
            raise ConfigError("no strategy given (use --strategy or a [strategy] section)")
    if sqlite_sync is None and new_cfg is not None:
        sqlite_sync = new_cfg.ledger.sqlite_synchronous
    store = _open_store(url, sqlite_sync)
    try:
        if new_cfg is None:
            trader_id = _pick_trader(store, trader).trader_id
        else:
            trader_id = trader if trader is not None else f"paper-{new_cfg.strategy.name}"
        # one process per trader: a second one stops here, before reading or writing anything of it
        with store.lease(trader_id):
            rec = store.get_trader(trader_id)
            resuming = resume and rec is not None
            if resuming:
                raw = json.loads(rec.config_json)
            elif new_cfg is not None:
                # --resume of a run that never committed its trader starts it: a supervisor can always
                # restart with the same command
                raw = new_cfg.model_dump(by_alias=True, mode="json")
            else:
                raise ConfigError("no such trader in the ledger (give --strategy or --config to start it)",
                                  trader=trader_id)
            session, summary = _run(raw, store, url, trader_id, resuming, speed, latency_ms, progress, stop_after,
                                    db)
    finally:
        store.close()
    what = "resumed" if resuming else "started"
    console.print(f"{what} {summary.trader_id}: slices {summary.start_index}..{summary.end_index} "
                  f"({summary.slices}), {summary.fills} orders filled, {summary.refused} refused, "
                  f"equity {summary.equity:,.2f}, cash {summary.cash:,.2f}"
                  + (f", {summary.resumed_events} ledger events replayed" if resuming else ""))
    for note in session.action_plan.notes:  # raw or adjusted prices, and any dividend/split warnings
        console.print(note, markup=False, highlight=False)


def _run(raw: dict, store, url: str, trader_id: str, resume: bool, speed: float, latency_ms: float,
         progress: bool, stop_after: int | None, db: str | None):
    """Build the session from the run config and run it; returns (session, summary)."""
    from nofx.backtest.run_config import RunConfig
    from nofx.cli.backtest import _load_bars
    from nofx.live.paper import PaperSession
    from nofx.persistence.connection import database_errors
    from nofx.strategies.registry import REGISTRY

    cfg = RunConfig.model_validate(raw)
    strat = REGISTRY.create(cfg.strategy.name, cfg.strategy.params)
    syms = None if cfg.data.symbols == "all" else list(cfg.data.symbols)
    bt = cfg.backtest
    bars = _load_bars(cfg.data.path, syms, None, bt.start, bt.end, drop_bad_rows=cfg.data.drop_bad_rows,
                      date_format=cfg.data.date_format)
    report_dropped(bars)
    session = PaperSession(bars, strat, bt, store, trader_id, symbols=syms, speed=speed, risk=cfg.risk,
                           latency_ms=latency_ms, run_config=cfg.model_dump(by_alias=True, mode="json"))
    try:
        with database_errors(url):  # a disk that fills up or a server that goes away mid-run
            return session, session.run(resume=resume, progress=progress, stop_after=stop_after)
    except KeyboardInterrupt:
        # nothing acknowledged is lost: the ledger holds every committed slice
        console.print(f"interrupted; continue with: nofx paper --resume --trader {trader_id}"
                      + (f" --db {db}" if db else ""))
        raise typer.Exit(130) from None


def _pick_trader(store, trader: str | None):
    if trader:
        rec = store.get_trader(trader)
        if rec is None:
            raise ConfigError("no such trader in the ledger (give --strategy or --config to start it)",
                              trader=trader)
        return rec
    traders = store.list_traders()
    if not traders:
        raise ConfigError("the ledger has no trader to resume", db=getattr(store, "url", "?"))
    return max(traders, key=lambda t: t.created)
