"""``nofx ai backtest | paper | serve-mock`` and ``nofx decisions``: LLM traders through the one order path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from nofx.cli.outputs import write_json_output
from nofx.domain.errors import ConfigError

app = typer.Typer()
ai_app = typer.Typer(help="AI (LLM) traders: backtest, paper trading, a local mock model server.",
                     no_args_is_help=True)
app.add_typer(ai_app, name="ai")
console = Console()


def _config(config: Path, data: str | None, start: str | None, end: str | None, base_url: str | None,
            model: str | None, guard: bool | None, cash: str | None = None):
    from nofx.ai.config import AIRunConfig, load_ai_config
    from nofx.cli.backtest import _parse_date

    cfg = load_ai_config(config)
    raw = cfg.model_dump(by_alias=True, mode="json")
    if data:
        raw["data"]["path"] = data
    for key, val in (("start", start), ("end", end)):
        if val:
            raw["backtest"][key] = _parse_date(val, f"--{key}").isoformat()
    if cash:
        raw["backtest"]["cash"] = cash
    for key, val in (("base_url", base_url), ("model", model), ("guard", guard)):
        if val is not None:
            raw["trader"][key] = val
    return AIRunConfig.model_validate(raw)


@ai_app.command("backtest")
def ai_backtest(
    config: Path = typer.Option(..., "--config", "-c", help="AI trader TOML/YAML (see examples/ai_trader.toml)"),
    data: Optional[str] = typer.Option(None, "--data", "-d", help="bars file; default: the config's or bundled"),
    start: Optional[str] = typer.Option(None, help="first date, YYYY-MM-DD"),
    end: Optional[str] = typer.Option(None, help="last date, YYYY-MM-DD"),
    json_path: Optional[str] = typer.Option(None, "--json", help="write the backtest JSON plus decisions here"),
    report: Optional[str] = typer.Option(None, "--report", help="write the HTML report (with decisions) here"),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="override the model endpoint"),
    model: Optional[str] = typer.Option(None, "--model", help="override the model name"),
    guard: Optional[bool] = typer.Option(None, "--guard/--no-guard", help="contamination guard on/off"),
    mock: bool = typer.Option(False, "--mock", help="start a local mock model server for this run"),
    progress: bool = typer.Option(True, help="show a progress bar"),
) -> None:
    """Backtest an AI trader: every cycle's reply goes through the limits, risk and the order path."""
    from nofx.ai.backtest import run_ai_backtest
    from nofx.report.console import print_metrics

    cfg = _config(config, data, start, end, base_url, model, guard)
    if mock:
        from nofx.ai.mock_server import MockServer

        with MockServer() as srv:
            cfg.trader = cfg.trader.model_copy(update={"base_url": srv.url})
            res = run_ai_backtest(cfg, progress=progress)
    else:
        res = run_ai_backtest(cfg, progress=progress)
    print_metrics(res.result.metrics, title=f"{res.trader_id} ({res.model}{', guard' if res.guard else ''})")
    u = res.usage
    cycles = len(res.decisions)
    failed = sum(1 for d in res.decisions if d["status"] == "failed")
    outcomes = [o for d in res.decisions for o in d["outcomes"]]
    counts = {k: sum(1 for o in outcomes if o["status"] == k) for k in ("accepted", "cut", "refused")}
    console.print(f"{cycles} cycles ({failed} held on a failed reply); decisions: {counts['accepted']} accepted, "
                  f"{counts['cut']} cut, {counts['refused']} refused; {len(res.result.trades)} fills, "
                  f"{len(res.result.rejections)} orders refused by the engine", highlight=False)
    console.print(f"model calls {u['calls']}, cache hits {u['cache_hits']}, tokens {u['prompt_tokens']:,d} in / "
                  f"{u['completion_tokens']:,d} out, cost {u['cost']}", highlight=False)
    out_json = json_path or cfg.output.json_path
    out_html = report or cfg.output.report
    if out_json:
        write_json_output(res.to_json_dict(), out_json)
        console.print(f"wrote {out_json}")
    if out_html:
        from nofx.ai.report import write_ai_report

        write_ai_report(res, out_html)
        console.print(f"wrote {out_html}")
    _refuse_a_run_without_a_reply(res.decisions, cfg.trader.base_url)


def _refuse_a_run_without_a_reply(decisions: list[dict], base_url: str) -> None:
    """A run in which no cycle got a usable reply traded nothing the model decided: most often the endpoint
    is down or wrong. Its table and files are still written (they show the held cycles), but the command
    must not look like a success: one line naming the endpoint and the first failure, exit code 2."""
    if decisions and all(d["status"] == "failed" for d in decisions):
        raise ConfigError(f"no cycle got a usable reply from the model ({len(decisions)} failed; first: "
                          f"{decisions[0].get('error') or 'no reply'}); is the server at this URL running? "
                          "(`nofx ai serve-mock` or --mock for the local one)", base_url=base_url)


@ai_app.command("serve-mock")
def serve_mock(
    host: str = typer.Option("127.0.0.1", help="interface to listen on"),
    port: int = typer.Option(8765, help="TCP port"),
    script: Optional[str] = typer.Option(None, help="failure modes for the first requests, comma-separated "
                                                    "(malformed_json, rate_limit, timeout, ...)"),
    timeout_sleep: float = typer.Option(5.0, help="seconds a 'timeout' request hangs"),
) -> None:
    """A local OpenAI-compatible model server with a deterministic policy and scripted failures."""
    from nofx.ai.mock_server import MODES, serve

    modes = [m.strip() for m in (script or "").split(",") if m.strip()]
    bad = [m for m in modes if m not in MODES]
    if bad:
        raise ConfigError(f"unknown mock mode {bad[0]!r}; choose from {', '.join(MODES)}", script=script)
    if not 0 < port < 65536:
        raise ConfigError("--port must be between 1 and 65535", port=port)
    console.print(f"mock OpenAI-compatible server on http://{host}:{port}/v1 (Ctrl-C to stop)")
    serve(host, port, modes, timeout_sleep)


@ai_app.command("paper")
def ai_paper(
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="AI trader TOML/YAML (not with --resume)"),
    data: Optional[str] = typer.Option(None, "--data", "-d", help="bars file; default: the config's or bundled"),
    start: Optional[str] = typer.Option(None, help="first date"),
    end: Optional[str] = typer.Option(None, help="last date"),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="override the model endpoint"),
    model: Optional[str] = typer.Option(None, "--model", help="override the model name"),
    db: Optional[str] = typer.Option(None, help="database URL (default $NOFX_DB_URL or sqlite:///nofx.db)"),
    trader: Optional[str] = typer.Option(None, help="trader id (default: the config's [trader] id)"),
    resume: bool = typer.Option(False, "--resume", help="continue the trader's run from its ledger"),
    speed: float = typer.Option(0.0, help="0 = as fast as possible; N = N x real time"),
    progress: bool = typer.Option(True, help="show a progress bar"),
    stop_after: Optional[int] = typer.Option(None, hidden=True, help="process at most N slices (tests)"),
) -> None:
    """Paper-trade an AI trader; orders, fills and every decision cycle are persisted, resumable."""
    from nofx.ai.paper import ai_config_of, run_ai_paper
    from nofx.persistence.store import SqlLedgerStore

    store = SqlLedgerStore(db)
    try:
        if resume:
            if config is not None:
                raise ConfigError("--resume continues with the stored config; do not pass --config")
            tid = trader or _last_ai_trader(store)
            cfg = ai_config_of(store, tid)
            if base_url or model:
                over = {k: v for k, v in (("base_url", base_url), ("model", model)) if v}
                cfg.trader = cfg.trader.model_copy(update=over)
        else:
            if config is None:
                raise ConfigError("give --config (an AI trader TOML) or --resume")
            cfg = _config(config, data, start, end, base_url, model, None)
            if trader:
                cfg.trader = cfg.trader.model_copy(update={"id": trader})
        try:
            # one process per trader: a second one stops here, before reading or writing anything of it
            with store.lease(cfg.trader.id):
                res = run_ai_paper(cfg, store, resume=resume, progress=progress, stop_after=stop_after,
                                   speed=speed)
        except KeyboardInterrupt:
            console.print(f"interrupted; continue with: nofx ai paper --resume --trader {cfg.trader.id}"
                          + (f" --db {db}" if db else ""))
            raise typer.Exit(130) from None
    finally:
        store.close()
    s = res.paper
    console.print(f"{'resumed' if resume else 'started'} {s.trader_id}: slices {s.start_index}..{s.end_index} "
                  f"({s.slices}), {res.cycles} decision cycles, {s.fills} orders filled, {s.refused} refused, "
                  f"equity {s.equity:,.2f}, cash {s.cash:,.2f}; model calls {res.usage['calls']}, "
                  f"cache hits {res.usage['cache_hits']}", highlight=False)


def _last_ai_trader(store) -> str:  # type: ignore[no-untyped-def]
    from nofx.ai.paper import AI_CONFIG_KEY

    ai = [t for t in store.list_traders() if AI_CONFIG_KEY in json.loads(t.config_json)]
    if not ai:
        raise ConfigError("the ledger has no AI trader to resume", db=getattr(store, "url", "?"))
    return max(ai, key=lambda t: t.created).trader_id


@app.command("decisions")
def decisions(
    trader: str = typer.Option(..., "--trader", help="trader id"),
    db: Optional[str] = typer.Option(None, help="database URL (default $NOFX_DB_URL or sqlite:///nofx.db)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON (with prompts' hashes, replies, orders, fills)"),
    limit: int = typer.Option(50, help="the last N cycles", min=1, max=100_000),
) -> None:
    """An AI trader's decision log: per cycle the decisions, what limits and the engine did, tokens, cost."""
    from rich.table import Table

    from nofx.cli.ledger import existing_ledger
    from nofx.persistence.decisions import DecisionLog

    with existing_ledger(db) as store:  # reading must not create an empty ledger
        if store.get_trader(trader) is None:
            raise ConfigError("no such trader in the ledger", trader=trader)
        log = DecisionLog(store)
        rows = log.rows(trader, limit=limit)
        cids = [o["order"]["client_order_id"] for r in rows for o in r.outcomes if o.get("order")]
        engine = log.engine_outcomes(trader, cids)
    for r in rows:
        for o in r.outcomes:
            if o.get("order"):
                o["engine"] = engine.get(o["order"]["client_order_id"])
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in rows], indent=1, ensure_ascii=False, default=str))
        return
    t = Table(title=f"decisions of {trader} (last {len(rows)} cycles)")
    for c in ("cycle", "time", "status", "symbol", "action", "limits", "engine", "reasoning"):
        t.add_column(c, overflow="fold")
    for r in rows:
        outs = {o["index"]: o for o in r.outcomes}
        if not r.decisions:
            t.add_row(str(r.cycle), r.ts.strftime("%Y-%m-%d %H:%M"), r.status, "", "", r.error or "hold", "", "")
        for k, d in enumerate(r.decisions):
            o = outs.get(k, {})
            e = o.get("engine") or {}
            eng = f"{e.get('status', '')} {e.get('filled', '')}".strip() + (f" {e['refused']}" if e.get("refused")
                                                                                else "")
            t.add_row(str(r.cycle), r.ts.strftime("%Y-%m-%d %H:%M"), r.status, str(d.get("symbol")),
                      str(d.get("action")), (o.get("status", "") + (": " + o["reason"] if o.get("reason") else "")),
                      eng, str(d.get("reasoning", ""))[:80])
    console.print(t)
