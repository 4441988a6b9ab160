"""``nofx compete``: AI traders and classic strategies on one lockstep replay, ranked honestly."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from nofx.cli.outputs import write_json_output
from nofx.cli.terminal import output_console
from nofx.domain.errors import ConfigError

app = typer.Typer()
console = output_console()


def _fmt_pct(v: Any) -> str:
    return "" if v is None else f"{float(v):+.2%}"


def _fmt(v: Any, spec: str) -> str:
    return "" if v is None else format(float(v), spec)


def _ci(ci: dict[str, Any] | None, pct: bool) -> str:
    if not ci or ci.get("low") is None:
        return ""
    f = _fmt_pct if pct else (lambda x: _fmt(x, ".2f"))
    return f" [{f(ci['low'])}, {f(ci['high'])}]"


def print_board(board: Any) -> None:
    from rich.table import Table

    c = board.competition
    period = f"{board.start or 'start'} .. {board.end or 'end'}"
    t = Table(title=f"competition {c.competition_id} ({c.status}; {period}; ranked by {board.rank_by})",
              header_style="bold")
    for h in ("#", "trader", "kind", "runs", "return [95% CI]", "excess", "Sharpe [95% CI]", "max DD", "win",
              "trades", "fees", "tokens", "cost", "invalid", "refusals"):
        t.add_column(h, justify="left" if h in ("trader", "kind") else "right")
    for k, r in enumerate(board.rows, 1):
        t.add_row(str(k), r["name"], r["kind"], str(r["runs"]), _fmt_pct(r["return"]) + _ci(r.get("return_ci"), True),
                  _fmt_pct(r["excess"]), _fmt(r["sharpe"], ".2f") + _ci(r.get("sharpe_ci"), False),
                  _fmt(r["max_drawdown"], ".2%"), _fmt(r["win_rate"], ".0%"), _fmt(r["trades"], ",.0f"),
                  _fmt(r["fees"], ",.2f"), _fmt(r["tokens"], ",.0f"), _fmt(r["model_cost"], ",.4f"),
                  _fmt(r["invalid_replies"], ",.0f"), _fmt(r["refusals"], ",.0f"))
    console.print(t)
    if board.pairs:
        s = Table(title="pairwise differences of daily returns", header_style="bold")
        for h in ("A", "B", "mean A-B (bp/day)", "DM", "p", "p Holm", "p bootstrap", "significant"):
            s.add_column(h, justify="left" if h in ("A", "B", "significant") else "right")
        for p in board.pairs:
            s.add_row(p.a, p.b, f"{p.mean_diff_bp:+.2f}", _fmt(p.dm, ".2f"), _fmt(p.p_dm, ".3f"),
                      _fmt(p.p_holm, ".3f"), _fmt(p.p_boot, ".3f"),
                      f"yes ({p.better} better)" if p.significant else "no")
        console.print(s)
    console.print(board.note, highlight=False, soft_wrap=True)
    console.print(f"data hash {c.data_hash[:16]}, code {c.code_version}", highlight=False)


def _write(board: Any, json_path: str | None, report: str | None) -> None:
    if json_path:
        write_json_output(board.to_json_dict(), json_path)
        console.print(f"wrote {json_path}")
    if report:
        from nofx.arena.report import write_competition_report

        write_competition_report(board, report)
        console.print(f"wrote {report}")


@app.command("compete")
def compete(
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="competition TOML/YAML "
                                          "(see examples/competition.toml)"),
    runs: Optional[int] = typer.Option(None, "--runs", help="repeat each AI trader K times (seeds seed..seed+K-1)"),
    resume: bool = typer.Option(False, "--resume", help="continue a killed competition from its ledgers and "
                                                        "reply cache (same config)"),
    mock: bool = typer.Option(False, "--mock", help="start a local mock model server for traders on mock-* models"),
    rescore: Optional[str] = typer.Option(None, "--rescore", help="re-rank a stored competition (by id) from "
                                                                  "its ledgers, without model calls"),
    start: Optional[str] = typer.Option(None, help="with --rescore: first date scored, YYYY-MM-DD"),
    end: Optional[str] = typer.Option(None, help="with --rescore: last date scored, YYYY-MM-DD"),
    rank_by: str = typer.Option("return", "--rank-by", help="return | sharpe | excess"),
    db: Optional[str] = typer.Option(None, help="database URL (default $NOFX_DB_URL or sqlite:///nofx.db)"),
    json_path: Optional[str] = typer.Option(None, "--json", help="write the results as JSON here"),
    report: Optional[str] = typer.Option(None, "--report", help="write the HTML report here"),
    live: bool = typer.Option(True, "--live/--no-live", help="live leaderboard while it runs"),
    stop_after: Optional[int] = typer.Option(None, hidden=True, help="process at most N steps (tests)"),
) -> None:
    """Run a competition of AI traders and baselines on one replay (or --rescore a stored one)."""
    from nofx.cli.backtest import _parse_date
    from nofx.cli.outputs import check_output_file
    from nofx.persistence.store import SqlLedgerStore

    if rank_by not in ("return", "sharpe", "excess"):
        raise ConfigError("--rank-by must be return, sharpe or excess", rank_by=rank_by)
    check_output_file(json_path, "--json")
    check_output_file(report, "--report")
    if rescore is not None:
        if config is not None or resume or runs is not None or mock:
            raise ConfigError("--rescore reads the stored competition: give only --start/--end/--rank-by/--db "
                              "and outputs")
        from nofx.arena.scoring import score_competition
        from nofx.cli.ledger import existing_ledger

        with existing_ledger(db) as store:  # reading must not create an empty ledger
            board = score_competition(store, rescore, _parse_date(start, "--start"), _parse_date(end, "--end"),
                                      rank_by=rank_by)
        print_board(board)
        _write(board, json_path, report)
        return
    if config is None:
        raise ConfigError("give --config (a competition TOML) or --rescore ID")
    if start or end:
        raise ConfigError("--start/--end go with --rescore; a run's period is in its config ([backtest])")
    from nofx.arena.competition import run_competition
    from nofx.arena.config import MAX_RUNS, load_competition_config

    cfg = load_competition_config(config)
    if runs is not None:
        if not 1 <= runs <= MAX_RUNS:
            raise ConfigError(f"--runs must be between 1 and {MAX_RUNS}", runs=runs)
        cfg.competition = cfg.competition.model_copy(update={"runs": runs})
    out_json = json_path or cfg.output.json_path
    out_html = report or cfg.output.report
    check_output_file(out_json, "[output] json")
    check_output_file(out_html, "[output] report")
    with SqlLedgerStore(db) as store:
        try:
            res = run_competition(cfg, store, resume=resume, mock=mock, live=live, stop_after=stop_after)
        except KeyboardInterrupt:
            console.print(f"interrupted; continue with: nofx compete --config {config} --resume"
                          + (f" --runs {runs}" if runs else "") + (" --mock" if mock else "")
                          + (f" --db {db}" if db else ""))
            raise typer.Exit(130) from None
    t = res.outcome.times
    console.print(f"{'resumed' if resume else 'ran'} {len(res.outcome.seats)} traders over {t.steps} steps; "
                  f"per step (ms): {t.per_step_ms()}", highlight=False)
    if not res.finished:
        console.print("stopped before the end of the data; continue with --resume", highlight=False)
    print_board(res.board)
    _write(res.board, out_json, out_html)
