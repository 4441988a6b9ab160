"""Parameter sweeps: grid syntax, job expansion, ranking, and that a sweep row run on Ray equals the
same backtest run alone."""

from __future__ import annotations

import pandas as pd
import pytest

from nofx.backtest.config import BacktestConfig
from nofx.backtest.runner import run_backtest
from nofx.backtest.sweep import expand_jobs, parse_grid, run_sweep, sort_results
from nofx.data.bars import read_bars
from nofx.domain.errors import ConfigError
from nofx.strategies.registry import REGISTRY


def test_grid_values_and_inclusive_ranges():
    grid = parse_grid(["fast=5, 10", "slow=20:40:10", "target_percent=0.2:0.6:0.2"])
    assert grid == {"fast": ["5", "10"], "slow": ["20", "30", "40"], "target_percent": ["0.2", "0.4", "0.6"]}


@pytest.mark.parametrize("spec", ["fast", "fast=", "=5", "slow=40:20:10", "slow=1:5", "slow=a:b:c", "x=1:5:0"])
def test_bad_grid_specs_are_config_errors(spec):
    with pytest.raises(ConfigError):
        parse_grid([spec])


def test_duplicate_grid_parameter_is_refused():
    with pytest.raises(ConfigError, match="twice"):
        parse_grid(["fast=5", "fast=10"])


def test_jobs_are_the_cross_product_over_fixed_params():
    jobs = expand_jobs({"fast": ["5", "10"], "slow": ["20", "30"]}, [["600000.SH"], ["000001.SZ", "600000.SH"]],
                       {"size": "100", "fast": "99"})
    assert len(jobs) == 8
    assert [j.index for j in jobs] == list(range(8))
    assert jobs[0].params == {"size": "100", "fast": "5", "slow": "20"} and jobs[0].symbols == ("600000.SH",)
    assert jobs[1].symbols == ("000001.SZ", "600000.SH")
    assert {(j.params["fast"], j.params["slow"], j.symbols) for j in jobs} == {
        (f, s, sy) for f in ("5", "10") for s in ("20", "30") for sy in (("600000.SH",), ("000001.SZ", "600000.SH"))
    }


def test_sort_is_best_first_with_missing_last():
    t = pd.DataFrame({"job": [0, 1, 2, 3], "sharpe": [0.5, None, 1.5, -1.0], "max_drawdown": [-0.1, -0.3, -0.2, 0.0]})
    assert sort_results(t, "sharpe")["job"].tolist() == [2, 0, 3, 1]
    assert sort_results(t, "max_drawdown")["job"].tolist() == [3, 0, 2, 1]
    assert sort_results(t, "sharpe", ascending=True)["job"].tolist() == [3, 0, 2, 1]
    with pytest.raises(ConfigError, match="unknown metric"):
        sort_results(t, "nope")


def test_invalid_combination_fails_before_any_ray_work():
    # fast >= slow is refused by dual_ma's Params: reported at once, naming the parameter
    jobs = expand_jobs({"fast": ["30"], "slow": ["20"]})
    with pytest.raises(ConfigError, match="dual_ma"):
        run_sweep(pd.DataFrame(), "dual_ma", jobs, BacktestConfig())


SYMBOLS = ["600036.SH", "000001.SZ"]


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray instance (2 CPUs) for the module's tests; run_sweep reuses a running Ray."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def small_bars(cn_daily_path):
    return read_bars(cn_daily_path, symbols=SYMBOLS, start="2020-01-01", end="2020-12-31")


@pytest.mark.slow  # starting a local Ray instance takes 10-20 s on a shared 2-core machine
def test_sweep_on_ray_equals_each_backtest_alone(local_ray, small_bars):
    symbols, bars = SYMBOLS, small_bars
    config = BacktestConfig(cash=1_000_000)
    jobs = expand_jobs(parse_grid(["fast=5,10", "slow=20,30"]), fixed={"size": "1000"})
    table = run_sweep(bars, "dual_ma", jobs, config, symbols=symbols, workers=2, progress=False)
    assert len(table) == 4 and sorted(table["job"]) == [0, 1, 2, 3]
    sharpe = table["sharpe"].astype(float)
    assert sharpe.is_monotonic_decreasing
    for _, row in table.iterrows():
        alone = run_backtest(bars, REGISTRY.create("dual_ma", {"fast": row["fast"], "slow": row["slow"],
                                                              "size": "1000"}), config, symbols=symbols)
        for key in ("total_return", "sharpe", "max_drawdown", "n_trades", "fees_paid", "final_equity"):
            assert row[key] == alone.metrics[key], key
    # the grid did change the outcome (otherwise the comparison proves little)
    assert table["final_equity"].nunique() == 4


@pytest.mark.slow
def test_symbol_screen_rows_equal_backtests_on_each_subset(local_ray, small_bars):
    config = BacktestConfig(cash=1_000_000)
    sets = [["600036.SH"], ["000001.SZ"], SYMBOLS]
    jobs = expand_jobs({}, sets, {"fast": "5", "slow": "20", "size": "1000"})
    table = run_sweep(small_bars, "dual_ma", jobs, config, metric="total_return", progress=False)
    assert set(table["symbols"]) == {"600036.SH", "000001.SZ", "600036.SH,000001.SZ"}
    for _, row in table.iterrows():
        alone = run_backtest(small_bars, REGISTRY.create("dual_ma", {"fast": 5, "slow": 20, "size": 1000}), config,
                             symbols=row["symbols"].split(","))
        assert row["final_equity"] == alone.metrics["final_equity"]
        assert row["n_trades"] == alone.metrics["n_trades"]
    assert table["total_return"].astype(float).is_monotonic_decreasing
