"""``nofx rl train`` / ``nofx rl eval``: the DQN agent on one instrument, date-split periods, compared
out of sample with buy-and-hold and stable-baselines3's DQN (same environment, budget, selection)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer
from rich.markup import escape
from rich.table import Table

from nofx.cli.errors import user_errors
from nofx.cli.outputs import check_output_file
from nofx.cli.terminal import output_console

# torch, stable-baselines3 and the backtester are imported inside the commands: the CLI mounts this
# module for every `nofx ...` call, and importing torch costs seconds that other commands should not pay.
if TYPE_CHECKING:
    import pandas as pd

    from nofx.models.rl.config import RLConfig
    from nofx.models.rl.env import TradingEnv
    from nofx.models.rl.market import StockSeries

app = typer.Typer(help="Reinforcement learning: train and evaluate the DQN trading agent.", no_args_is_help=True)
console = output_console()

CONFIG_OPT = typer.Option(Path("examples/rl_dqn.toml"), "--config", "-c", help="RL experiment TOML file")
DATA_OPT = typer.Option(None, "--data", help="bars file (overrides the config)")
SYMBOL_OPT = typer.Option(None, "--symbol", help="instrument, e.g. 600036.SH (overrides the config)")
MODEL_OPT = typer.Option(None, "--model", help="checkpoint path (overrides the config)")
SEED_OPT = typer.Option(None, "--seed", help="random seed (overrides the config)")
THREADS_OPT = typer.Option(1, "--threads", min=1, max=256,
                           help="torch CPU threads (1 keeps runs reproducible and light)")


@dataclass(frozen=True)
class Experiment:
    cfg: RLConfig
    bars: pd.DataFrame
    series: StockSeries
    train: TradingEnv
    validation: TradingEnv
    test: TradingEnv


def sb3_path(model: Path) -> Path:
    """Where the SB3 reference's weights go, next to the nofx checkpoint."""
    return model.with_name(model.stem + ".sb3.pt")


def load_experiment(cfg: RLConfig) -> Experiment:
    from nofx.data.bars import read_bars
    from nofx.markets.rulebook import build_rulebook
    from nofx.models.rl.env import TradingEnv
    from nofx.models.rl.market import StockSeries

    bars = read_bars(cfg.data, symbols=[cfg.symbol])
    rules = build_rulebook(cfg.rules)
    series = StockSeries.from_bars(bars, cfg.symbol, rules, prices=cfg.prices)
    whole = cfg.env.model_copy(update={"episode_bars": None, "random_start": False})
    p = cfg.periods
    return Experiment(
        cfg, bars, series,
        TradingEnv(series, rules, p.train.start, p.train.end, cfg.env),
        TradingEnv(series, rules, p.validation.start, p.validation.end, whole),
        TradingEnv(series, rules, p.test.start, p.test.end, whole),
    )


def _config(config: Path, data: Optional[Path], symbol: Optional[str], model: Optional[Path],
            seed: Optional[int], steps: Optional[int] = None) -> RLConfig:
    from nofx.models.rl.config import load_rl_config

    cfg = load_rl_config(config, data=str(data) if data else None, symbol=symbol,
                         model=str(model) if model else None, seed=seed)
    if steps is not None:
        cfg = cfg.model_copy(update={"dqn": cfg.dqn.model_copy(update={"total_steps": steps})})
    return cfg


@app.command()
@user_errors
def train(
    config: Path = CONFIG_OPT,
    data: Optional[Path] = DATA_OPT,
    symbol: Optional[str] = SYMBOL_OPT,
    model: Optional[Path] = MODEL_OPT,
    seed: Optional[int] = SEED_OPT,
    steps: Optional[int] = typer.Option(None, "--steps", min=1, help="environment steps (overrides [dqn].total_steps)"),
    sb3: bool = typer.Option(True, "--sb3/--no-sb3", help="also train stable-baselines3's DQN as the reference"),
    threads: int = THREADS_OPT,
) -> None:
    """Train on the train period, keep the weights best on the validation period, report the test period."""
    from nofx.models.rl.baselines import save_sb3_policy, train_sb3_dqn
    from nofx.models.rl.dqn import DQNAgent
    from nofx.models.rl.env import ACTIONS, TradingEnv
    from nofx.models.rl.evaluate import log_return_score
    from nofx.models.rl.observation import OBS_NAMES, OBS_SIZE

    cfg = _config(config, data, symbol, model, seed, steps)
    check_output_file(cfg.model, "--model")
    if sb3:
        check_output_file(sb3_path(cfg.model), "--model (SB3 weights beside it)")
    import torch

    torch.set_num_threads(threads)
    ex = load_experiment(cfg)
    p = cfg.periods
    console.print(f"[bold]DQN[/] {cfg.symbol}  train {p.train.start}..{p.train.end}  "
                  f"validation {p.validation.start}..{p.validation.end}  test {p.test.start}..{p.test.end}  "
                  f"steps {cfg.dqn.total_steps}  seed {cfg.seed}  lot {ex.train.lot}")
    meta = {"symbol": cfg.symbol, "lot": ex.train.lot, "obs_names": list(OBS_NAMES), "actions": list(ACTIONS),
            "env": cfg.env.model_dump(mode="json"), "periods": cfg.periods.model_dump(mode="json"),
            "rules": cfg.rules}
    agent = DQNAgent(OBS_SIZE, len(ACTIONS), cfg.dqn, seed=cfg.seed, metadata=meta)
    log = agent.train(ex.train, validate=lambda a: log_return_score(ex.validation, a.act), progress=True)
    agent.save(cfg.model)
    console.print(f"nofx DQN: {log.episodes} episodes, {log.gradient_steps} gradient steps, "
                  f"best validation at step {log.best_step}; saved {escape(str(cfg.model))}")
    if sb3:
        sb3_train_env = TradingEnv(ex.series, ex.train.rules, p.train.start, p.train.end, cfg.env)
        with _bar("SB3 DQN", cfg.dqn.total_steps) as tick:
            model_sb3, best = train_sb3_dqn(sb3_train_env, cfg.dqn, cfg.seed,
                                            validate=lambda pol: log_return_score(ex.validation, pol),
                                            progress=tick)
        save_sb3_policy(model_sb3, sb3_path(cfg.model))
        console.print(f"SB3 DQN: best validation at step {best}; saved {escape(str(sb3_path(cfg.model)))}")
    _report(ex, cfg.model)


@app.command("eval")
@user_errors
def evaluate(
    config: Path = CONFIG_OPT,
    data: Optional[Path] = DATA_OPT,
    symbol: Optional[str] = SYMBOL_OPT,
    model: Optional[Path] = MODEL_OPT,
    threads: int = THREADS_OPT,
) -> None:
    """Out-of-sample table on the test period: nofx DQN, SB3 DQN, buy-and-hold."""
    cfg = _config(config, data, symbol, model, None)  # a bad file is reported before torch is imported
    import torch

    torch.set_num_threads(threads)
    _report(load_experiment(cfg), cfg.model)


class _bar:
    """Progress whose ``tick`` advances one step (for SB3's callback)."""

    def __init__(self, label: str, total: int) -> None:
        from nofx.progress import Progress

        self._progress = Progress(label, total)

    def __enter__(self):
        self._progress.start()
        return self._progress.advance

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()


# Bars of history before the test period that the backtest loads to warm the agent's features, as in
# examples/rl_dqn_backtest.toml: `nofx rl eval` runs exactly what `nofx backtest --strategy rl_dqn` runs.
RL_WARMUP_BARS = 60


def backtest_run_config(cfg: RLConfig, model_path: Path, strategy: str = "rl_dqn") -> Any:
    """The run config of the test period: the same data, symbol, cash, rules and price basis as the
    experiment, the same warm-up as ``examples/rl_dqn_backtest.toml``."""
    from nofx.backtest.run_config import RunConfig

    p = cfg.periods.test
    params = {"model": str(model_path)} if strategy == "rl_dqn" else {}
    return RunConfig.model_validate({
        "data": {"path": str(cfg.data), "symbols": [cfg.symbol]},
        "backtest": {"start": p.start, "end": p.end, "cash": cfg.env.cash, "rules": cfg.rules,
                     "prices": cfg.prices, "warmup_bars": RL_WARMUP_BARS},
        "strategy": {"name": strategy, "params": params},
    })


def _row(table: Table, name: str, result: Any) -> None:
    """One policy's figures, all from the backtester's result and metrics (the numbers `nofx backtest`
    prints for the same run)."""
    m = result.metrics

    def pct(v: object) -> str:
        return "-" if v is None else f"{float(v):+.2%}"

    sharpe = "-" if m.get("sharpe") is None else f"{m['sharpe']:.2f}"
    table.add_row(name, pct(m.get("total_return")), sharpe, pct(m.get("max_drawdown")), str(len(result.trades)),
                  f"{float(result.fees_paid):,.2f}", str(len(result.rejections)))


def _report(ex: Experiment, model_path: Path) -> None:
    """The test-period table. Every policy runs through the backtester (one order path: risk, OMS, the
    exchange's rules, fees, corporate actions), so the agent's figures are those of `nofx backtest
    --strategy rl_dqn`; the training environment is for learning and model selection only."""
    import numpy as np

    from nofx.cli.backtest import execute
    from nofx.models.rl.baselines import load_sb3_policy, sb3_policy
    from nofx.models.rl.dqn import DQNAgent
    from nofx.models.rl.env import ACTIONS
    from nofx.models.rl.evaluate import run_policy
    from nofx.strategies.rl_dqn import RLDQNStrategy

    cfg = ex.cfg
    p = cfg.periods.test
    table = Table(title=f"{cfg.symbol} test period {p.start}..{p.end} (out of sample, backtester, rules {cfg.rules}, "
                        f"cash {cfg.env.cash:,.0f})")
    for col in ("policy", "return", "sharpe", "max dd", "trades", "fees", "refused"):
        table.add_column(col, justify="left" if col == "policy" else "right")
    run_cfg = backtest_run_config(cfg, model_path)
    agent_result = execute(run_cfg, progress=False)
    _row(table, "nofx DQN", agent_result)
    sb3_file = sb3_path(model_path)
    if sb3_file.exists():
        sb3_model = load_sb3_policy(sb3_file, ex.test, cfg.dqn)
        sb3 = RLDQNStrategy(RLDQNStrategy.Params(model=str(sb3_file)), policy=sb3_policy(sb3_model), lot=ex.test.lot)
        _row(table, "SB3 DQN", execute(run_cfg, progress=False, strategy=sb3))
    _row(table, "buy-and-hold", execute(backtest_run_config(cfg, model_path, "buy_and_hold"), progress=False))
    console.print(table)
    console.print(f"Every row is a backtest of the test period through the engine (fills, fees, dividends, "
                  f"T+1 and limits as `nofx backtest` applies them), {RL_WARMUP_BARS} bars of warm-up: the agent's "
                  "row is what `nofx backtest --strategy rl_dqn` reports for a config like "
                  "examples/rl_dqn_backtest.toml.", markup=False, highlight=False, soft_wrap=True)
    # what the agent chose in its training environment (which books no dividends: a diagnostic only)
    counts = np.bincount(run_policy(ex.test, DQNAgent.load(model_path).act).actions, minlength=len(ACTIONS))
    console.print("nofx DQN actions on the test period, in the training environment: "
                  + ", ".join(f"{a} {c}" for a, c in zip(ACTIONS, counts)))
