"""``nofx backtest``, ``nofx demo`` and ``nofx strategies``."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer
from rich.table import Table

from nofx.cli.outputs import check_output_file, check_output_folder
from nofx.cli.terminal import output_console
from nofx.domain.bounds import check_date
from nofx.cli.bars_options import DATE_FORMAT_HELP, DROP_BAD_ROWS_HELP, print_dropped
from nofx.domain.errors import ConfigError, DataError
from nofx.domain.instruments import Market, parse_symbols
from nofx.domain.money import check_cash_amount

if TYPE_CHECKING:  # imported where used: `nofx --help` must not pay for pandas (see tests/cli/test_startup.py)
    from nofx.backtest.result import BacktestResult
    from nofx.backtest.run_config import RunConfig

console = output_console(markup=False)  # user text (paths, params, "[strategy]") is printed as is


def execute(cfg: RunConfig, progress: bool = True, strategy: Any = None) -> BacktestResult:
    """:func:`nofx.backtest.execute.execute`, imported when a command runs (it needs pandas)."""
    from nofx.backtest.execute import execute as run

    return run(cfg, progress=progress, strategy=strategy)


def _load_bars(path: str | None, symbols: list[str] | None, benchmark: str | None, start: date | None,
               end: date | None, *, drop_bad_rows: bool = False, date_format: str | None = None):
    from nofx.backtest.execute import load_bars

    return load_bars(path, symbols, benchmark, start, end, drop_bad_rows=drop_bad_rows, date_format=date_format)


PRICES_HELP = "raw | adjusted: whether the bars already include dividends/splits (default: what the file declares)"
INVESTOR_HELP = "individual | institution: dividend tax of the account holder (default individual)"
COMMISSION_BASIS_HELP = "per_order | per_fill: what the commission minimum applies to (default per_order)"


def _auto_rules(symbols: list[str] | None) -> str:
    """``--rules`` default: the market of the symbols (mixed or unknown: per symbol)."""
    if not symbols:
        return "auto"
    markets = {i.market for i in parse_symbols(",".join(symbols))}
    if markets == {Market.CN}:
        return "cn"
    if markets == {Market.HK}:
        return "hk"
    return "auto"


def _parse_date(text: str | None, what: str) -> date | None:
    if not text:
        return None
    try:
        return check_date(date.fromisoformat(text))
    except ValueError as exc:
        raise ConfigError(f"{what} must be a date like 2019-01-31 ({exc})", value=text) from None


LANG_HELP = "report and metric labels: en | zh (Simplified Chinese)"
PLOTLY_HELP = ("how reports load plotly.js: shared (one plotly.min.js beside the reports, default) | inline-gz "
               "(compressed in each file) | inline")


def check_report_options(lang: str, plotly: str) -> None:
    from nofx.report.i18n import check_lang
    from nofx.report.options import check_plotly_mode

    check_lang(lang)
    check_plotly_mode(plotly)


def _write_outputs(result: BacktestResult, json_path: str | None, report: str | None, lang: str = "en",
                   plotly: str = "shared") -> None:
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        result.write_json(json_path)
        console.print(f"wrote {json_path}")
    if report:
        from nofx.report.html import trades_csv_path, write_backtest_report

        Path(report).parent.mkdir(parents=True, exist_ok=True)
        write_backtest_report(result, report, lang=lang, plotly=plotly)  # type: ignore[arg-type]
        console.print(f"wrote {report} (trade list: {trades_csv_path(Path(report)).name})")


def parse_cash_option(text: str) -> Decimal:
    """``--cash``: a plain number of the currency, refused (never rounded) unless usable as an account."""
    try:
        return check_cash_amount(Decimal(text.strip()))
    except InvalidOperation:
        raise ConfigError("--cash must be a number", value=text) from None
    except ValueError as exc:
        raise ConfigError(f"--{exc}", value=text) from None


def run_config_from_options(config: Path | str | None, **opts: Any) -> RunConfig:
    """A validated run config: the file's (if any) with the command-line options laid over it.
    Shared by ``nofx backtest`` and ``nofx paper`` so both read options the same way."""
    from nofx.backtest.run_config import RunConfig, load_run_config
    from nofx.strategies.base import parse_params_text

    cfg = load_run_config(config) if config else RunConfig()
    raw: dict[str, Any] = cfg.model_dump(by_alias=True, mode="json")
    if opts.get("strategy"):
        raw["strategy"] = {"name": opts["strategy"], "params": (raw.get("strategy") or {}).get("params", {})}
    if opts.get("params"):
        if raw.get("strategy") is None:
            raise ConfigError("--params given without a strategy")
        raw["strategy"]["params"] = {**raw["strategy"]["params"], **parse_params_text(opts["params"])}
    for key, value in opts.items():  # an empty option is a mistake, never "use the default"
        if value is not None and not str(value).strip():
            raise ConfigError(f"--{key} is empty")
    for key in ("data", "symbols"):
        if opts.get(key):
            raw["data"]["path" if key == "data" else "symbols"] = opts[key]
    if opts.get("drop_bad_rows"):
        raw["data"]["drop_bad_rows"] = True
    if opts.get("date_format"):
        raw["data"]["date_format"] = opts["date_format"]
    b = raw["backtest"]
    for key in ("start", "end"):
        if opts.get(key):
            b[key] = _parse_date(opts[key], f"--{key}")
    if opts.get("cash") is not None:
        b["cash"] = parse_cash_option(opts["cash"])
    for key in ("fees", "fill", "benchmark", "prices", "investor", "commission_min_basis", "at_limit"):
        if opts.get(key):
            b[key] = opts[key]
    if opts.get("at_limit_fraction"):
        try:
            b["at_limit_fraction"] = float(opts["at_limit_fraction"])
        except ValueError:
            raise ConfigError("--at-limit-fraction must be a number in (0, 1]",
                              value=opts["at_limit_fraction"]) from None
    if opts.get("rules"):
        b["rules"] = opts["rules"]
    elif not config:
        syms = raw["data"]["symbols"]
        b["rules"] = _auto_rules(syms if isinstance(syms, list) else
                                 (None if syms == "all" else syms.split(",")))
    return RunConfig.model_validate(raw)


def backtest(
    strategy: Optional[str] = typer.Option(None, "--strategy", "-s", help="registered strategy name"),
    data: Optional[str] = typer.Option(None, "--data", "-d", help="bars file (Parquet/CSV); default: bundled demo"),
    symbols: Optional[str] = typer.Option(None, help="comma-separated symbols (default: all tradable in file)"),
    start: Optional[str] = typer.Option(None, help="first date, YYYY-MM-DD"),
    end: Optional[str] = typer.Option(None, help="last date, YYYY-MM-DD"),
    cash: Optional[str] = typer.Option(None, help="initial cash (default 1000000)"),
    params: Optional[str] = typer.Option(None, help="strategy params: key=value,key=value"),
    json_path: Optional[str] = typer.Option(None, "--json", help="write trades/equity/metrics JSON here"),
    report: Optional[str] = typer.Option(None, "--report", help="write the HTML report here"),
    rules: Optional[str] = typer.Option(None, help="cn | hk | none (default: from the symbols)"),
    fees: Optional[str] = typer.Option(None, help="default | zero"),
    fill: Optional[str] = typer.Option(None, help="next_open | close"),
    at_limit: Optional[str] = typer.Option(None, "--at-limit",
                                           help="a buy at limit-up / sell at limit-down: refuse | fraction"),
    at_limit_fraction: Optional[str] = typer.Option(None, "--at-limit-fraction",
                                                    help="with --at-limit fraction: share of the bar's volume"),
    benchmark: Optional[str] = typer.Option(None, help="benchmark symbol, e.g. 000300.SH"),
    prices: Optional[str] = typer.Option(None, help=PRICES_HELP),
    investor: Optional[str] = typer.Option(None, help=INVESTOR_HELP),
    commission_min_basis: Optional[str] = typer.Option(None, help=COMMISSION_BASIS_HELP),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="TOML/YAML run config"),
    progress: bool = typer.Option(True, help="show a progress bar"),
    drop_bad_rows: bool = typer.Option(False, "--drop-bad-rows", help=DROP_BAD_ROWS_HELP),
    date_format: Optional[str] = typer.Option(None, "--date-format", help=DATE_FORMAT_HELP),
    lang: str = typer.Option("en", "--lang", help=LANG_HELP),
    plotly: str = typer.Option("shared", "--plotly", help=PLOTLY_HELP),
) -> None:
    """Backtest a strategy on bars and print its metrics; optionally write JSON and an HTML report."""
    from nofx.report.console import print_metrics

    check_report_options(lang, plotly)

    cfg = run_config_from_options(config, strategy=strategy, params=params, data=data, symbols=symbols,
                                  start=start, end=end, cash=cash, rules=rules, fees=fees, fill=fill,
                                  benchmark=benchmark, prices=prices, investor=investor,
                                  commission_min_basis=commission_min_basis, at_limit=at_limit,
                                  at_limit_fraction=at_limit_fraction, drop_bad_rows=drop_bad_rows,
                                  date_format=date_format)
    json_out = check_output_file(json_path if json_path is not None else cfg.output.json_path, "--json")
    report_out = check_output_file(report if report is not None else cfg.output.report, "--report")
    result = execute(cfg, progress=progress)
    print_dropped(result.messages)
    # one line naming the run (a parameter dict printed raw spreads over a dozen lines)
    console.print(f"{result.strategy}: {params_text(result.params)}", markup=False, highlight=False, soft_wrap=True)
    print_metrics(result.metrics, title="Backtest metrics" if lang == "en" else "回测指标", console=console,
                  lang=lang)
    console.print(f"{len(result.trades)} fills, {len(result.rejections)} refused orders")
    for note in result.messages:  # what the run and the strategy say the user must know (in-sample...)
        if note.startswith(("prices:", "warning:", "dividend tax:")):
            console.print(note, markup=False, highlight=False)
    if result.annualisation is not None:
        console.print(f"annualisation: {result.annualisation.describe()}; annual return over calendar time",
                      markup=False, soft_wrap=True)
    _write_outputs(result, json_out and str(json_out), report_out and str(report_out), lang, plotly)


def demo(
    out: Path = typer.Option(Path("out"), help="folder for the reports"),
    progress: bool = typer.Option(True, help="show a progress bar"),
    lang: str = typer.Option("en", "--lang", help=LANG_HELP),
    plotly: str = typer.Option("shared", "--plotly", help=PLOTLY_HELP),
) -> None:
    """The quick-start job: dual MA versus buy-and-hold on the bundled real A-share slice (2019-2021,
    CSI 300 benchmark), with a metrics table and HTML reports."""
    from nofx.backtest.run_config import RunConfig
    from nofx.data.bundled import bundled_bars_path

    check_output_folder(out, "--out")
    check_report_options(lang, plotly)
    runs = {
        "dual_ma": {"fast": 5, "slow": 20, "target_percent": 0.03},
        "buy_and_hold": {"percent": 0.98},
    }
    results: dict[str, BacktestResult] = {}
    for name, p in runs.items():
        cfg = RunConfig.model_validate({
            "data": {"path": str(bundled_bars_path()), "symbols": "all"},
            "backtest": {"start": "2019-01-01", "end": "2021-12-31", "cash": 1_000_000, "rules": "cn",
                         "benchmark": "000300.SH"},
            "strategy": {"name": name, "params": p},
        })
        results[name] = execute(cfg, progress=progress)
        out.mkdir(parents=True, exist_ok=True)
        _write_outputs(results[name], str(out / f"demo_{name}.json"), str(out / f"demo_{name}.html"), lang, plotly)
    console.print(comparison_table(results))


def comparison_table(results: dict[str, BacktestResult]) -> Table:
    from nofx.report.format import metric_label, metric_text

    t = Table(title="nofx demo: bundled A-share slice 2019-2021, A-share rules and fees, benchmark CSI 300")
    t.add_column("metric")
    for name in results:
        t.add_column(name, justify="right")
    keys = [k for k in next(iter(results.values())).metrics]
    for k in keys:
        t.add_row(metric_label(k), *[metric_text(r.metrics, k) for r in results.values()])
    return t


def strategies() -> None:
    """List registered strategies and their parameters."""
    import nofx.strategies.builtin  # noqa: F401  (declares them: no strategy module is imported)
    from nofx.strategies.registry import REGISTRY

    t = Table(title="strategies", show_lines=True)
    t.add_column("name", no_wrap=True)
    t.add_column("what it does")
    t.add_column("parameters (default)")
    for name in REGISTRY.names():
        t.add_row(name, REGISTRY.summary(name), "\n".join(param_defaults(REGISTRY.params_model(name))))
    console.print(t)


def param_defaults(model: Any) -> list[str]:
    """``name=default`` per field of a pydantic model: a default factory is called, a field without a
    default reads ``(required)`` (never pydantic's internal ``PydanticUndefined``)."""
    out = []
    for key, field in model.model_fields.items():
        if field.is_required():
            out.append(f"{key} (required)")
        else:
            out.append(f"{key}={_default_text(field.get_default(call_default_factory=True))}")
    return out


def params_text(params: Any) -> str:
    """``key=value, ...`` of a run's strategy parameters, on one line."""
    return ", ".join(f"{k}={_default_text(v)}" for k, v in dict(params or {}).items()) or "(default parameters)"


def _default_text(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_default_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_default_text(v) for v in value) + "]"
    return str(value)


__all__ = ["backtest", "demo", "strategies", "execute", "DataError"]
