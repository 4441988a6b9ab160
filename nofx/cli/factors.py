"""``nofx factors report``: IC, rank IC and ICIR of each stock-selection factor and of the composite,
printed as a table, with an optional HTML report (quantile returns of the composite, cumulative IC).

    nofx factors report --config examples/multi_factor.toml --html runs/factors.html
    nofx factors report --data ../shared/data/cn_daily.parquet \\
        --valuation ../shared/data/cn_valuation.parquet --fundamentals ../shared/data/cn_fundamentals.parquet \\
        --start 2019-01-01 --end 2021-12-31 --horizon 20

With ``--config`` the data path, symbols, dates and the ``multi_factor`` parameters (input files,
weights, winsorisation, coverage, listing age, window) come from the run file; options override them.
"""

from __future__ import annotations

import html
from datetime import date
from pathlib import Path
from typing import Any, Optional

import typer
from rich.markup import escape
from rich.table import Table

from nofx.cli.bars_options import DATE_FORMAT_HELP, DROP_BAD_ROWS_HELP
from nofx.cli.outputs import check_output_file
from nofx.cli.terminal import output_console
from nofx.domain.bounds import check_date
from nofx.domain.errors import ConfigError, validation_problem

app = typer.Typer(help="Stock-selection factor research (IC, rank IC, quantile returns).",
                  no_args_is_help=True, pretty_exceptions_enable=False)
console = output_console()


@app.callback()
def _factors() -> None:
    """Stock-selection factor research (IC, rank IC, quantile returns)."""
    # a callback keeps ``report`` a sub-command even while it is the only one


def _parse_weights(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        if "=" not in part:
            raise ConfigError("weights must look like roe=1,momentum_20=0.5", weights=text)
        k, v = part.split("=", 1)
        try:
            out[k.strip()] = float(v)
        except ValueError:
            raise ConfigError("factor weight is not a number", factor=k.strip(), value=v) from None
    return out


def _parse_date(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return check_date(date.fromisoformat(text))
    except ValueError as exc:
        raise ConfigError(f"--start/--end: dates look like 2019-01-31 ({exc})", value=text) from None


def _fmt(v: float) -> str:
    import numpy as np

    return "-" if not np.isfinite(v) else f"{v:+.4f}"


@app.command("report")
def report(
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="run file (TOML/YAML) of a multi_factor backtest"),
    data: Optional[str] = typer.Option(None, "--data", help="bars file (Parquet/CSV)"),
    valuation: Optional[str] = typer.Option(None, "--valuation", help="valuation file (symbol, date, pe_ttm, pb_mrq)"),
    fundamentals: Optional[str] = typer.Option(None, "--fundamentals", help="fundamentals file (symbol, pub_date, ...)"),
    symbols: Optional[str] = typer.Option(None, "--symbols", help="comma-separated symbols (default: all stocks)"),
    start: Optional[str] = typer.Option(None, "--start", help="first date, e.g. 2019-01-01"),
    end: Optional[str] = typer.Option(None, "--end", help="last date"),
    weights: Optional[str] = typer.Option(None, "--weights", help="composite weights, e.g. roe=1,momentum_20=0.5"),
    horizon: int = typer.Option(20, "--horizon", min=1, max=250, help="forward-return horizon and sampling step, trading days"),
    quantiles: int = typer.Option(5, "--quantiles", min=2, max=100, help="number of composite quantiles"),
    html_path: Optional[Path] = typer.Option(None, "--html", help="write an HTML report here"),
    drop_bad_rows: bool = typer.Option(False, "--drop-bad-rows", help=DROP_BAD_ROWS_HELP),
    date_format: Optional[str] = typer.Option(None, "--date-format", help=DATE_FORMAT_HELP),
) -> None:
    """Print each factor's IC, rank IC and ICIR (and the composite's) over the period."""
    from nofx.backtest.run_config import load_run_config
    from nofx.cli.bars_options import report_dropped
    from nofx.data.bars import read_bars
    from nofx.data.panel import BarPanel
    from nofx.features.factors import FUNDAMENTAL_SOURCE, VALUATION_SOURCE, compute_factors, evaluate_factors
    from nofx.features.fundamentals import align_fundamentals, align_valuation, load_fundamentals, load_valuation
    from nofx.progress import Progress
    from nofx.strategies.params import MultiFactorParams

    check_output_file(html_path, "--html")
    params: dict[str, Any] = {}
    sym_list: list[str] | None = None
    first = last = None
    if config is not None:
        cfg = load_run_config(config)
        data = data or cfg.data.path
        if cfg.data.symbols != "all":
            sym_list = list(cfg.data.symbols)
        first, last = cfg.backtest.start, cfg.backtest.end
        if cfg.strategy is not None and cfg.strategy.name == "multi_factor":
            params = dict(cfg.strategy.params)
    if valuation:
        params["valuation_path"] = valuation
    if fundamentals:
        params["fundamentals_path"] = fundamentals
    if weights:
        params["weights"] = _parse_weights(weights)
    if symbols:
        sym_list = [s.strip() for s in symbols.split(",") if s.strip()]
    first = _parse_date(start) or first
    last = _parse_date(end) or last
    if not data:
        raise ConfigError("no bars file: give --data or a --config with [data] path")
    from pydantic import ValidationError

    try:
        p = MultiFactorParams.model_validate(params)
    except ValidationError as exc:
        where, what = validation_problem(exc, "params")
        raise ConfigError(f"invalid multi_factor parameter {where}: {what}",
                          file=config or "--weights/--valuation/--fundamentals") from None

    if config is not None:
        drop_bad_rows = drop_bad_rows or cfg.data.drop_bad_rows
        date_format = date_format or cfg.data.date_format
    with Progress("factors report", 4) as bar:  # stages: a line with elapsed time and ETA off a terminal
        bars = read_bars(data, symbols=sym_list, start=first, end=last, drop_bad_rows=drop_bad_rows,
                         date_format=date_format)
        report_dropped(bars)
        panel = BarPanel.from_frame(bars)
        bar.advance(note="bars read")
        val = fun = None
        if p.valuation_path:
            val = align_valuation(load_valuation(p.valuation_path), panel.timestamps, panel.symbols,
                                  fields=tuple(VALUATION_SOURCE.values()))
        if p.fundamentals_path:
            fun = align_fundamentals(load_fundamentals(p.fundamentals_path), panel.timestamps, panel.symbols,
                                     fields=tuple(FUNDAMENTAL_SOURCE.values()))
        bar.advance(note="valuation and fundamentals aligned")
        factors = compute_factors(panel, val, fun, window=p.window)
        bar.advance(note="factors computed")
        ev = evaluate_factors(panel, factors, p.weights, horizon=horizon, quantiles=quantiles, n_mad=p.n_mad,
                              min_coverage=p.min_coverage, min_listed_days=p.min_listed_days,
                              start_row=p.window + 1, weighting=p.weighting, ic_horizon=p.ic_horizon,
                              ic_lookback=p.ic_lookback)
        bar.advance(note="evaluated")

    span = f"{panel.timestamps[0].astype('datetime64[D]')} .. {panel.timestamps[-1].astype('datetime64[D]')}"
    title = f"Factor IC, {len(panel.symbols)} symbols, {span}, {horizon}-day forward returns"
    table = Table(title=title)
    for col in ("factor", "sign", "weight", "IC", "rank IC", "ICIR", "rank ICIR", "periods"):
        table.add_column(col, justify="left" if col == "factor" else "right", no_wrap=True)
    for name, row in ev.summary.iterrows():
        sign, w = _sign_and_weight(name, row)
        table.add_row(str(name), sign, w, _fmt(row["ic"]), _fmt(row["rank_ic"]), _fmt(row["icir"]),
                      _fmt(row["rank_icir"]), str(int(row["periods"])))
    console.print(table)
    console.print(_weighting_note(p), markup=False, highlight=False, soft_wrap=True)
    console.print("[dim]IC: cross-sectional Pearson correlation of the winsorised z-score with the next "
                  f"{horizon}-day total return, on non-overlapping dates; ICIR = mean / std over dates. "
                  "The shared stock list is survivor-biased.[/dim]")
    q = ev.quantiles.mean()
    console.print("composite mean return by quantile (1 = lowest score): "
                  + ", ".join(f"Q{k} {v:+.2%}" for k, v in q.items()))

    if html_path is not None:
        _write_html(ev, html_path, title, p.weights)
        console.print(f"wrote {escape(str(html_path))}")


def _sign_and_weight(name: Any, row: Any) -> tuple[str, str]:
    """The factor's direction in the composite and its mean weight there (absolute weights sum to 1)."""
    import numpy as np

    if name == "composite" or not np.isfinite(row["weight"]):
        return "", ""
    w = float(row["weight"])
    return ("+" if w > 0 else "-" if w < 0 else "0"), f"{w:+.3f}"


def _weighting_note(p: Any) -> str:
    if p.weighting == "ic":
        return (f"Composite weights learned point in time: each factor's mean daily rank IC against the "
                f"{p.ic_horizon}-day forward return over the trailing {p.ic_lookback} rows whose returns are "
                "already known (sign and size from the data; the configured weights until then). "
                "weight: mean over the sampled dates, absolute weights summing to 1.")
    return "Composite weights as configured (weighting = \"static\"), absolute weights summing to 1."


def _write_html(ev: Any, path: Path, title: str, weights: dict[str, float]) -> None:
    from nofx.report.figures import cumulative_ic_figure, quantile_returns_figure, write_html_report

    rows = "".join(
        f"<tr><td>{html.escape(str(name))}</td>"
        + "".join(f"<td class='num'>{html.escape(x)}</td>" for x in _sign_and_weight(name, r))
        + "".join(f"<td class='num'>{_fmt(r[c])}</td>" for c in ("ic", "rank_ic", "icir", "rank_icir"))
        + f"<td class='num'>{int(r['periods'])}</td></tr>"
        for name, r in ev.summary.iterrows())
    table = ("<table class='nofx'><tr><th>factor</th><th>sign</th><th>weight</th><th>IC</th><th>rank IC</th><th>ICIR</th>"
             f"<th>rank ICIR</th><th>periods</th></tr>{rows}</table>"
             "<p class='note'>Winsorised z-scores of eligible stocks (traded, not ST, listed long enough) against "
             f"the next {ev.horizon}-day total return, non-overlapping dates. Survivor-biased stock list.</p>")
    # each period's outcome is plotted when it is known, at the end of its holding period, and the
    # compounded curves start from 0 at the first formation date
    sections = [
        ("Information coefficients", table),
        ("Composite: cumulative return by quantile", quantile_returns_figure(
            ev.by_realisation(ev.quantiles), title=f"Composite quantiles, {ev.horizon}-day returns compounded")),
        ("Composite: mean return by quantile", quantile_returns_figure(
            ev.quantiles, title="Mean return per period by quantile", cumulative=False)),
        ("Composite: rank IC", cumulative_ic_figure(ev.by_realisation(ev.rank_ic[["composite"]])["composite"],
                                                    title="Composite rank IC")),
    ]
    write_html_report(sections, path, title)
