"""Start-up cost of the CLI: what `nofx --help` and `nofx strategies` import (issue 9: 2.0 s and 6.9 s
before). Times are measured by benchmarks/bench_startup.py; these tests guard the cause, the imports."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# Libraries that take from a tenth of a second (pandas) to seconds (torch, ray) to import: only the
# commands that use them may import them.
HEAVY = ("torch", "ray", "lightgbm", "plotly", "statsmodels", "scipy", "sklearn", "pandas", "sqlalchemy",
         "torch_geometric", "stable_baselines3", "gymnasium")


def _imported_after(code: str) -> tuple[list[str], str]:
    probe = (f"import sys, json\n{code}\n"
             f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    return json.loads(lines[-1]), "\n".join(lines[:-1])


# What the bare CLI needs is typer and rich; these come only with the commands (or errors) that use them.
NOT_FOR_BARE_HELP = ("numpy", "pyarrow", "pydantic", "pydantic_core", "yaml", "exchange_calendars", "httpx")


def test_importing_the_cli_imports_no_torch():
    heavy, _ = _imported_after("import nofx.cli.main")
    assert heavy == []


def test_importing_the_cli_and_its_bare_help_import_neither_pydantic_nor_numpy():
    probe = ("from nofx.cli.main import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
             f"print('LOADED', [m for m in {NOT_FOR_BARE_HELP!r} if m in sys.modules])")
    _, out = _imported_after(probe)
    assert out.splitlines()[-1] == "LOADED []"


def test_top_level_help_mounts_every_command_without_heavy_imports():
    # bare help mounts every sub-app (their modules are imported to list them)
    heavy, out = _imported_after(
        "from nofx.cli.main import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass")
    assert heavy == []
    for command in ("backtest", "strategies", "data", "factors", "model", "rl", "paper", "sweep", "ledger"):
        assert command in out


@pytest.mark.parametrize("argv", [["backtest", "--help"], ["model", "train", "--help"], ["rl", "eval", "--help"],
                                  ["factors", "report", "--help"], ["data", "info", "--help"], ["sweep", "--help"],
                                  ["paper", "--help"], ["orders", "--help"], ["ledger", "check", "--help"],
                                  ["serve", "--help"], ["user", "create", "--help"]])
def test_each_command_help_imports_nothing_heavy(argv):
    heavy, out = _imported_after(
        f"from nofx.cli.main import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass")
    assert heavy == [], argv
    assert "--help" in out


def test_strategies_lists_every_strategy_and_parameter_without_importing_them():
    heavy, out = _imported_after(
        "from nofx.cli.main import main\ntry:\n    main(['strategies'])\nexcept SystemExit:\n    pass\n"
        "print('STRATEGY MODULES', [m for m in sys.modules if m.startswith('nofx.strategies.')])")
    assert heavy == [] and "numpy" not in out
    modules = out.splitlines()[-1]
    for impl in ("dual_ma'", "rl_dqn'", "ml_topk'", "pairs'", "multi_factor'", "buy_and_hold'"):
        assert f"nofx.strategies.{impl}" not in modules
    from nofx.strategies.params import MultiFactorParams, PairsParams, RLDQNParams

    for name in ("buy_and_hold", "dual_ma", "ml_topk", "multi_factor", "pairs", "rl_dqn"):
        assert name in out
    for model in (MultiFactorParams, PairsParams, RLDQNParams):
        for field in model.model_fields:
            assert field in out, field
    assert "PydanticUndefined" not in out
    assert "model (required)" in out  # rl_dqn's checkpoint has no default
    assert "hk_lot_tables=[]" in out and "earnings_yield: 1.0" in out  # default factories, called


def test_declared_parameter_models_are_the_strategies_own():
    import nofx.strategies.builtin  # noqa: F401
    from nofx.strategies.registry import REGISTRY

    for name in REGISTRY.names():
        assert REGISTRY.get(name).Params is REGISTRY.params_model(name), name


def test_a_backtest_imports_only_what_it_uses():
    # dual_ma on the bundled slice needs pandas, not the model, RL, Ray, plotting or statistics stacks
    heavy, out = _imported_after(
        "from nofx.cli.main import main\ntry:\n    main(['backtest', '--strategy', 'dual_ma', '--symbols', "
        "'600519.SH', '--start', '2020-01-01', '--end', '2020-03-31', '--no-progress'])\nexcept SystemExit:\n"
        "    pass")
    assert "Total return" in out
    assert set(heavy) & {"torch", "ray", "lightgbm", "plotly", "statsmodels", "torch_geometric",
                         "stable_baselines3", "gymnasium"} == set()
