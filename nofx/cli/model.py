"""``nofx model train | eval | predict | results``: the deep-learning and baseline return predictors.

Evaluation lives here rather than in ``nofx.models`` because it runs a backtest, and the backtest layer
sits above the models layer.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import typer
from rich.table import Table

from nofx.cli.bars_options import DATE_FORMAT_HELP, DROP_BAD_ROWS_HELP, report_dropped
from nofx.cli.errors import user_errors
from nofx.cli.outputs import check_output_file, check_output_folder
from nofx.cli.terminal import output_console
from nofx.domain.errors import ConfigError

app = typer.Typer(help="Train, evaluate and apply return predictors (Transformer, BiLSTM, GAT, LightGBM, linear).",
                  no_args_is_help=True, add_completion=False)
console = output_console(markup=False)  # user text (paths, params, "[strategy]") is printed as is

DEFAULT_DATA = "../shared/data/cn_daily.parquet"
BENCHMARK = "000300.SH"
WARMUP_DAYS = 200  # calendar days of history loaded before a test/predict start (windows + graphs)


def _step_callback(progress: Any) -> Callable[[str], None]:
    """One step of ``progress`` (a :class:`nofx.progress.Progress`) per call, noting what was done."""
    def cb(msg: str) -> None:
        progress.advance(note=msg)
    return cb


# ---------------------------------------------------------------------------------------------
# train
# ---------------------------------------------------------------------------------------------

def build_run_config(model: str, data: str, train: str, valid: str, universe: int, seed: int, epochs: int,
                     seq_len: int | None, features: str, hidden: int, layers: int, day_stride: int, valid_stride: int,
                     device: str, frame: pd.DataFrame) -> Any:
    from nofx.models.config import ModelConfig, RunConfig, Segment, TrainConfig
    from nofx.models.dataset import FeatureConfig
    from nofx.models.run import select_universe

    from nofx.models.config import default_seq_len

    tr, va = Segment.parse(train, "--train"), Segment.parse(valid, "--valid")
    symbols = select_universe(frame, tr.start, tr.end, universe)
    if not symbols:
        raise ConfigError("no stocks in the training period", data=data, train=train)
    return RunConfig(
        data=str(data), universe=tuple(symbols), train=tr, valid=va,
        features=FeatureConfig(set=features, seq_len=seq_len or default_seq_len(model, features)),
        model=ModelConfig(kind=model, hidden=hidden, layers=layers),
        training=TrainConfig(epochs=epochs, day_stride=day_stride, valid_stride=valid_stride, device=device), seed=seed,
        universe_rule=f"top {universe} stocks by average traded amount over the training period",
    )


def train_and_save(cfg: Any, frame: pd.DataFrame, out: Path, show_progress: bool = True) -> Any:
    import pandas as pd

    from nofx.models.run import train_run

    from nofx.models.config import TABULAR_KINDS
    from nofx.progress import Progress

    tc = cfg.training
    n_days = len(pd.bdate_range(cfg.train.start, cfg.train.end)) // tc.day_stride
    if cfg.model.kind in TABULAR_KINDS:  # stack the training and validation days, then boosting rounds
        n_valid = len(pd.bdate_range(cfg.valid.start, cfg.valid.end)) // tc.valid_stride
        total = n_days + n_valid + (cfg.model.num_rounds if cfg.model.kind == "lightgbm" else 0)
    else:  # training days per epoch (a rough count: early stopping may end sooner)
        total = tc.epochs * n_days
    with Progress(f"train {cfg.model.kind}", total, enabled=show_progress) as p:
        run = train_run(cfg, frame, _step_callback(p))
    run.save(out)
    return run


@app.command("train")
@user_errors
def train(
    model: str = typer.Option(..., "--model", help="transformer | lstm | gat | lightgbm | linear"),
    data: str = typer.Option(DEFAULT_DATA, "--data", help="bars file with the shared schema"),
    drop_bad_rows: bool = typer.Option(False, "--drop-bad-rows", help=DROP_BAD_ROWS_HELP),
    date_format: Optional[str] = typer.Option(None, "--date-format", help=DATE_FORMAT_HELP),
    train_seg: str = typer.Option("2017-01-01:2019-12-31", "--train", help="START:END"),
    valid_seg: str = typer.Option("2020-01-01:2020-12-31", "--valid", help="START:END"),
    out: Path = typer.Option(..., "--out", help="run directory to write"),
    universe: int = typer.Option(300, min=1, help="number of most liquid stocks (by training-period amount)"),
    seed: int = typer.Option(0),
    epochs: int = typer.Option(8),
    seq_len: Optional[int] = typer.Option(
        None, help="window length in days [default: 60; 1 for lightgbm/linear on alpha158: one day's 158 features]"),
    features: str = typer.Option("alpha360", help="alpha360 (raw window) | alpha158"),
    hidden: int = typer.Option(32),
    layers: int = typer.Option(1),
    day_stride: int = typer.Option(1, help="train on every k-th day per epoch (offset rotates)"),
    valid_stride: int = typer.Option(1, help="early-stop on every k-th validation day"),
    device: str = typer.Option("auto", help="auto | cpu | cuda"),
) -> None:
    """Train a model; writes config.json, scaler.json, weights and train_report.json to --out."""
    from nofx.models.run import load_frame

    check_output_folder(out, "--out")
    frame = load_frame(data, drop_bad_rows=drop_bad_rows, date_format=date_format)
    report_dropped(frame)
    cfg = build_run_config(model, data, train_seg, valid_seg, universe, seed, epochs, seq_len, features, hidden,
                           layers, day_stride, valid_stride, device, frame)
    t0 = time.perf_counter()
    run = train_and_save(cfg, frame, out)
    console.print(f"trained {model} on {len(cfg.universe)} stocks in {time.perf_counter() - t0:.0f}s; "
                  f"best validation rank IC {run.report.get('best_valid_rank_ic', float('nan')):.4f}; wrote {out}")


# ---------------------------------------------------------------------------------------------
# eval
# ---------------------------------------------------------------------------------------------

@dataclass
class Evaluation:
    summary: dict[str, float]  # ic, icir, rank_ic, rank_icir, n_days (+ backtest metrics)
    dates: np.ndarray
    ic: np.ndarray
    rank_ic: np.ndarray
    quantiles: np.ndarray
    scores: pd.DataFrame
    backtest: Any = None


def evaluate_run(run: Any, frame: pd.DataFrame, start: Any, end: Any, topk: int = 50, n_drop: int = 5,
                 benchmark: str | None = BENCHMARK, backtest: bool = True, progress: bool = False) -> Evaluation:
    """IC statistics of ``run`` on [start, end] and a costed top-k backtest of its scores."""
    import numpy as np
    import pandas as pd

    from nofx.data.panel import BarPanel
    from nofx.features.adjusted import adjust_panel
    from nofx.features.labels import forward_return
    from nofx.models.metrics import daily_ic, ic_summary, quantile_returns
    from nofx.models.run import row_range
    from nofx.progress import Progress

    start, end = pd.Timestamp(start), pd.Timestamp(end)
    present = set(frame["symbol"].unique())
    symbols = [s for s in run.cfg.universe if s in present]
    if not symbols:
        raise ConfigError("none of the run's stocks are in the data")
    lo = start - pd.Timedelta(days=WARMUP_DAYS)
    f = frame[frame["symbol"].isin(symbols) & (frame["datetime"] >= lo)]
    # rows after `end` are loaded only for the labels of the last test days; scores never read them
    panel = BarPanel.from_frame(f)
    with Progress(f"score {run.kind}", int(np.count_nonzero((panel.timestamps >= np.datetime64(start))
                                                            & (panel.timestamps <= np.datetime64(end)))),
                  enabled=progress) as p:
        scores = run.predict_panel(panel, start, end, _step_callback(p))
    label = forward_return(adjust_panel(panel).close, run.cfg.label.horizon, run.cfg.label.delay)
    a, b = row_range(panel.timestamps, start, end)
    s, y = scores[a:b + 1], label[a:b + 1]
    summ = ic_summary(s, y)
    summary: dict[str, Any] = {"model": run.kind, "seed": run.cfg.seed, **summ.to_dict(),
                               "universe_ew_return": _equal_weight_annual_return(adjust_panel(panel).close, a, b,
                                                                                   panel.timestamps)}
    t, n = np.nonzero(np.isfinite(s))
    score_frame = pd.DataFrame({"datetime": pd.to_datetime(panel.timestamps[a:b + 1][t]),
                                "symbol": np.asarray(panel.symbols, dtype=object)[n], "score": s[t, n]})
    ev = Evaluation(summary, panel.timestamps[a:b + 1], daily_ic(s, y), daily_ic(s, y, rank=True),
                    quantile_returns(s, y), score_frame)
    if backtest:
        from nofx.backtest.config import BacktestConfig
        from nofx.backtest.runner import run_backtest
        from nofx.strategies.ml_topk import MLTopKParams, MLTopKStrategy

        bars = frame[(frame["datetime"] >= start) & (frame["datetime"] <= end)
                     & (frame["symbol"].isin(symbols + ([benchmark] if benchmark else [])))]
        strat = MLTopKStrategy(MLTopKParams(model="(scores)", topk=topk, n_drop=n_drop), scores=score_frame)
        cfg = BacktestConfig(start=start.date(), end=end.date(), rules="cn", fees="default", benchmark=benchmark)
        res = run_backtest(bars, strat, cfg, progress=progress, symbols=symbols)
        ev.backtest = res
        for k in ("total_return", "annual_return", "benchmark_return", "excess_return", "max_drawdown",
                  "sharpe", "turnover", "fees_paid", "n_trades"):
            summary[k] = res.metrics.get(k)
        summary["rejections"] = len(res.rejections)
    return ev


def _equal_weight_annual_return(close: np.ndarray, a: int, b: int, timestamps: np.ndarray) -> float:
    """Annualised return of holding the whole universe equally weighted (daily rebalanced, no costs) over
    rows a..b: the reference that separates stock picking from the universe's tilt against the index.
    Compounded over calendar time, as the backtest's annual return is (nofx.backtest.annualisation)."""
    import numpy as np

    with np.errstate(invalid="ignore", divide="ignore"):
        r = close[a + 1: b + 1] / close[a: b] - 1.0
    daily = np.nanmean(np.where(np.isfinite(r), r, np.nan), axis=1)
    daily = daily[np.isfinite(daily)]
    if len(daily) == 0:
        return float("nan")
    days = (timestamps[b] - timestamps[a]) / np.timedelta64(1, "D")
    if days <= 0:
        return float("nan")
    return float(np.prod(1 + daily) ** (365.25 / days) - 1)


def _print_summary(summary: dict[str, Any]) -> None:
    t = Table(show_header=False)
    for k, v in summary.items():
        t.add_row(k, f"{v:.4f}" if isinstance(v, float) else str(v))
    console.print(t)


@app.command("eval")
@user_errors
def eval_cmd(
    run_dir: Path = typer.Argument(..., help="run directory written by `nofx model train`"),
    test: str = typer.Option(..., "--test", help="START:END"),
    data: Optional[str] = typer.Option(None, "--data", help="bars file (default: the one the run trained on)"),
    drop_bad_rows: bool = typer.Option(False, "--drop-bad-rows", help=DROP_BAD_ROWS_HELP),
    date_format: Optional[str] = typer.Option(None, "--date-format", help=DATE_FORMAT_HELP),
    topk: int = typer.Option(50),
    n_drop: int = typer.Option(5),
    benchmark: str = typer.Option(BENCHMARK),
    report: Optional[Path] = typer.Option(None, help="HTML report path (default RUN/eval_report.html)"),
    backtest: bool = typer.Option(True, help="also run the costed top-k backtest"),
) -> None:
    """IC, ICIR, rank IC, rank ICIR on the test period, a costed top-k backtest and an HTML report."""
    from nofx.models.config import Segment
    from nofx.models.report import write_eval_report
    from nofx.models.run import TrainedRun, load_frame

    seg = Segment.parse(test, "--test")
    check_output_file(report if report is not None else run_dir / "eval_report.html", "--report")
    check_output_file(run_dir / "eval.json", "RUN_DIR")
    run = TrainedRun.load(run_dir)
    frame = load_frame(data or run.cfg.data, drop_bad_rows=drop_bad_rows, date_format=date_format)
    report_dropped(frame)
    ev = evaluate_run(run, frame, seg.start, seg.end, topk, n_drop, benchmark, backtest, progress=True)
    _print_summary(ev.summary)
    (run_dir / "eval.json").write_text(json.dumps(ev.summary, indent=1, default=str))
    bt = ev.backtest
    path = write_eval_report(report or run_dir / "eval_report.html", f"{run.kind} (seed {run.cfg.seed}) on {seg}",
                             ev.summary, ev.dates, ev.ic, ev.rank_ic, ev.quantiles,
                             bt.equity["equity"] if bt is not None else None, bt.benchmark if bt is not None else None)
    console.print(f"wrote {path}")


# ---------------------------------------------------------------------------------------------
# predict
# ---------------------------------------------------------------------------------------------

@app.command("predict")
@user_errors
def predict(
    run_dir: Path = typer.Argument(...),
    data: str = typer.Option(..., "--data"),
    drop_bad_rows: bool = typer.Option(False, "--drop-bad-rows", help=DROP_BAD_ROWS_HELP),
    date_format: Optional[str] = typer.Option(None, "--date-format", help=DATE_FORMAT_HELP),
    start: str = typer.Option(..., "--start"),
    end: str = typer.Option(..., "--end"),
    out: Path = typer.Option(..., "--out", help="parquet file: datetime, symbol, score"),
) -> None:
    """One score per (datetime, symbol) from --start to --end, each from data available at that datetime.
    Works on any bars file with the shared schema (stocks and dates the model never saw included)."""
    import numpy as np
    import pandas as pd

    from nofx.data.panel import BarPanel
    from nofx.domain.instruments import parse_symbol
    from nofx.models.run import TrainedRun, load_frame
    from nofx.strategies.ml_topk import PERIODS_ATTR, write_predictions

    check_output_file(out, "--out")
    from nofx.models.config import Segment

    seg = Segment.parse(f"{start}:{end}", "--start/--end")
    run = TrainedRun.load(run_dir)
    s, e = pd.Timestamp(seg.start), pd.Timestamp(seg.end)
    frame = load_frame(data, start=s - pd.Timedelta(days=WARMUP_DAYS), end=e, drop_bad_rows=drop_bad_rows,
                       date_format=date_format)
    report_dropped(frame)
    stocks = [x for x in frame["symbol"].unique() if not _index(parse_symbol, x)]
    panel = BarPanel.from_frame(frame[frame["symbol"].isin(stocks)])
    from nofx.progress import Progress

    in_range = (panel.timestamps >= np.datetime64(s)) & (panel.timestamps <= np.datetime64(e))
    with Progress("predict", int(in_range.sum())) as p:
        preds = run.predict_frame(panel, s, e, _step_callback(p))
    out.parent.mkdir(parents=True, exist_ok=True)
    # the run's training and validation periods travel with the scores, so that a backtest on them can
    # warn when it is in-sample (nofx.strategies.ml_topk)
    preds.attrs[PERIODS_ATTR] = {"train": f"{run.cfg.train.start}:{run.cfg.train.end}",
                                 "valid": f"{run.cfg.valid.start}:{run.cfg.valid.end}"}
    write_predictions(preds, out)
    console.print(f"wrote {len(preds)} scores for {preds['symbol'].nunique()} stocks to {out}")


def _index(parse: Callable[[str], Any], sym: str) -> bool:
    try:
        return parse(sym).is_index
    except Exception:  # unparseable codes are kept as stocks
        return False


# ---------------------------------------------------------------------------------------------
# results: the README table
# ---------------------------------------------------------------------------------------------

RESULT_COLUMNS = ("ic", "icir", "rank_ic", "rank_icir", "excess_return", "max_drawdown", "annual_return",
                  "universe_ew_return")


def results_table(rows: list[dict[str, Any]], models: list[str]) -> str:
    """Markdown table: mean ± std over seeds per model."""
    import numpy as np

    head = ("| model | seeds | IC | ICIR | rank IC | rank ICIR | ann. excess return vs CSI 300 (after costs) "
            "| max drawdown | ann. return (after costs) | universe equal-weight ann. return |")
    lines = [head, "|" + " --- |" * 10]
    for m in models:
        rs = [r for r in rows if r["model"] == m]
        if not rs:
            continue
        cells = []
        for c in RESULT_COLUMNS:
            v = np.array([np.nan if r.get(c) is None else float(r[c]) for r in rs])
            v = v[np.isfinite(v)]
            if len(v) == 0:
                cells.append("n/a")
                continue
            pct = c in ("excess_return", "max_drawdown", "annual_return", "universe_ew_return")
            fmt = (lambda x: f"{100 * x:.1f}%") if pct else (lambda x: f"{x:.4f}")
            sd = float(np.std(v, ddof=1)) if len(v) > 1 else 0.0
            cells.append(f"{fmt(float(np.mean(v)))} ± {fmt(sd)}")
        lines.append(f"| {m} | {len(rs)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


@app.command("results")
@user_errors
def results(
    data: str = typer.Option(DEFAULT_DATA, "--data"),
    drop_bad_rows: bool = typer.Option(False, "--drop-bad-rows", help=DROP_BAD_ROWS_HELP),
    date_format: Optional[str] = typer.Option(None, "--date-format", help=DATE_FORMAT_HELP),
    out: Path = typer.Option(Path("run/results"), "--out"),
    models: str = typer.Option("linear,lightgbm,lstm,gat,transformer"),
    seeds: str = typer.Option("0,1,2"),
    universe: int = typer.Option(300),
    train_seg: str = typer.Option("2017-01-01:2019-12-31", "--train"),
    valid_seg: str = typer.Option("2020-01-01:2020-12-31", "--valid"),
    test: str = typer.Option("2021-01-01:2021-12-31", "--test"),
    seq_len: int = typer.Option(30, help="30-day windows keep the CPU run near 25 minutes"),
    epochs: int = typer.Option(4),
    hidden: int = typer.Option(32),
    day_stride: int = typer.Option(3),
    valid_stride: int = typer.Option(4),
) -> None:
    """Train and evaluate every model for every seed; write results.md / results.json under --out."""
    from nofx.models.config import Segment
    from nofx.models.run import load_frame

    check_output_folder(out, "--out")
    frame = load_frame(data, drop_bad_rows=drop_bad_rows, date_format=date_format)
    report_dropped(frame)
    seg = Segment.parse(test, "--test")
    names = [m.strip() for m in models.split(",") if m.strip()]
    rows: list[dict[str, Any]] = []
    out.mkdir(parents=True, exist_ok=True)
    from nofx.progress import Progress

    t_all = time.perf_counter()
    seed_list = [int(s) for s in seeds.split(",")]
    overall = Progress("model results", len(names) * len(seed_list)).start()
    for m in names:
        for seed in seed_list:
            t0 = time.perf_counter()
            cfg = build_run_config(m, data, train_seg, valid_seg, universe, seed, epochs, seq_len, "alpha360",
                                   hidden, 1, day_stride if m != "lightgbm" else 2, valid_stride, "auto", frame)
            run = train_and_save(cfg, frame, out / f"{m}_seed{seed}", show_progress=False)
            t1 = time.perf_counter()
            ev = evaluate_run(run, frame, seg.start, seg.end)
            row = {**ev.summary, "train_s": round(t1 - t0, 1), "eval_s": round(time.perf_counter() - t1, 1),
                   "best_valid_rank_ic": run.report.get("best_valid_rank_ic")}
            rows.append(row)
            console.print(json.dumps(row, default=str))
            (out / "results.json").write_text(json.dumps(rows, indent=1, default=str))
            overall.advance(note=f"{m} seed {seed}")
    overall.stop()
    table = results_table(rows, names)
    (out / "results.md").write_text(table + "\n")
    console.print(table)
    console.print(f"total {time.perf_counter() - t_all:.0f}s; wrote {out / 'results.md'}")
