"""Bad configs, options and output paths through the real ``nofx`` entry point: exit code 2, one line
saying what and where, no traceback, and nothing run (or written) before the input is known good.

Bad values inside bars files are tested with the data readers (tests/data); ledger databases in
tests/persistence/test_ledger_open_errors.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from nofx.domain.money import MAX_CASH

BT = ("backtest", "-s", "dual_ma", "--symbols", "600519.SH", "--start", "2020-01-01", "--end", "2020-03-31",
      "--no-progress")
PAPER = ("paper", "-s", "dual_ma", "--symbols", "600519.SH", "--start", "2020-01-01", "--end", "2020-01-31",
         "--no-progress")


# --- non-finite and absurd numbers entering through options and configs --------------------------

@pytest.mark.parametrize("cash,needle", [
    ("1e26", "at most 10,000,000,000,000"),  # was an internal "ledger does not reconcile" assertion (28 digits)
    ("1e3000", "at most 10,000,000,000,000"),  # was accepted and reported as "Final equity n/a"
    ("0.001", "whole number of cents"),  # was accepted
    ("nan", "finite"),
    ("-5", "above 0"),
    ("", "empty"),  # was silently the default 1,000,000
])
def test_cash_option_out_of_range_is_refused(nofx_cli, cash, needle):
    line = nofx_cli(*BT, "--cash", cash).error_line()
    assert "--cash" in line and needle in line


def test_cash_at_the_limit_runs_and_reconciles(nofx_cli, tmp_path):
    out = tmp_path / "o.json"
    r = nofx_cli(*BT, "--cash", str(MAX_CASH), "--json", str(out))
    assert r.code == 0, r.err
    first = json.loads(out.read_text())["equity"][0]
    assert Decimal(str(first["equity"])) == MAX_CASH


@pytest.mark.parametrize("body,key", [
    ("[backtest]\ncash = inf\n", "backtest.cash"),
    ("[backtest]\ncash = 1e300\n", "backtest.cash"),
    ("[backtest]\ncash = 100.001\n", "backtest.cash"),
    ("[backtest]\nparticipation = nan\n", "backtest.participation"),
    ("[backtest]\ncommission_rate = 0.5\n", "backtest.commission_rate"),
    ("[backtest]\nstart = 9999-01-01\n", "backtest.start"),  # was an OverflowError deep in pandas
    ("[risk]\nrate_window_seconds = inf\n", "risk.rate_window_seconds"),
    ("[strategy.params]\ntarget_percent = nan\n", "target_percent"),
])
def test_config_numbers_are_validated_where_they_enter(nofx_cli, tmp_path, body, key):
    cfg = tmp_path / "run.toml"
    cfg.write_text('[strategy]\nname = "dual_ma"\n' + body if "[strategy.params]" in body else body)
    line = nofx_cli(*BT, "--config", str(cfg)).error_line()
    assert key in line
    if "[strategy.params]" not in body:  # strategy parameters are named with their strategy instead
        assert "run.toml" in line


def test_option_dates_out_of_range(nofx_cli):
    line = nofx_cli(*BT[:5], "--start", "9999-01-01", "--no-progress").error_line()
    assert "--start" in line and "1900-01-01" in line


# --- config files that are not what they claim ----------------------------------------------------

def test_toml_that_is_not_utf8(nofx_cli, tmp_path):
    cfg = tmp_path / "gbk.toml"
    cfg.write_bytes('[strategy]\nname = "dual_ma"\n# 双均线\n'.encode("gbk"))
    line = nofx_cli("backtest", "--config", str(cfg), "--no-progress").error_line()
    assert "not UTF-8" in line and str(cfg) in line and "line=3" in line


def test_rl_config_that_is_not_utf8(nofx_cli, tmp_path):
    cfg = tmp_path / "rl.toml"
    cfg.write_bytes("symbol = '600519.SH'\n# 强化学习\n".encode("gbk"))
    line = nofx_cli("rl", "eval", "-c", str(cfg)).error_line()
    assert "not UTF-8" in line and str(cfg) in line


def test_yaml_error_is_one_line_with_its_position(nofx_cli, tmp_path):
    cfg = tmp_path / "run.yaml"
    cfg.write_text("strategy:\n  name: dual_ma\n   params: [\n")
    line = nofx_cli("backtest", "--config", str(cfg), "--no-progress").error_line()
    assert "YAML" in line and "line=3" in line and str(cfg) in line


def test_config_path_that_is_a_folder(nofx_cli, tmp_path):
    line = nofx_cli("backtest", "--config", str(tmp_path), "--no-progress").error_line()
    assert "folder" in line and str(tmp_path) in line


# --- output paths are checked before the run --------------------------------------------------------

def test_json_naming_a_folder_fails_before_running(nofx_cli, tmp_path):
    r = nofx_cli(*BT, "--json", str(tmp_path))
    assert "--json" in r.error_line() and "folder" in r.error_line()
    assert "fills" not in r.out  # nothing ran


def test_json_below_a_file_fails_before_running(nofx_cli, tmp_path):
    (tmp_path / "some.csv").write_text("a\n")
    r = nofx_cli(*BT, "--json", str(tmp_path / "some.csv" / "x.json"))
    line = r.error_line()
    assert "--json" in line and "some.csv is a file" in line and "fills" not in r.out


def test_report_path_from_the_config_is_checked_too(nofx_cli, tmp_path):
    cfg = tmp_path / "run.toml"
    cfg.write_text(f'[strategy]\nname = "dual_ma"\n[output]\nreport = "{tmp_path.as_posix()}"\n')
    r = nofx_cli(*BT, "--config", str(cfg))
    assert "--report" in r.error_line() and "fills" not in r.out


def test_other_commands_check_their_outputs_first(nofx_cli, tmp_path):
    (tmp_path / "f").write_text("x")
    line = nofx_cli("factors", "report", "--data", "missing.parquet", "--html", str(tmp_path / "f" / "r.html")
                    ).error_line()
    assert "--html" in line  # not "bars file not found": outputs are checked first
    line = nofx_cli("model", "train", "--model", "linear", "--data", "missing.parquet", "--out",
                    str(tmp_path / "f")).error_line()
    assert "--out" in line and "not a folder" in line
    line = nofx_cli("demo", "--out", str(tmp_path / "f"), "--no-progress").error_line()
    assert "--out" in line


def _can_mount_read_only() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount --bind -o ro / / 2>/dev/null"],
                           capture_output=True)
    return probe.returncode == 0


needs_ro_mount = pytest.mark.skipif(not _can_mount_read_only(),
                                    reason="needs `unshare -m` to mount a read-only folder (a real EROFS)")


def run_on_read_only(folder: Path, *args: str) -> subprocess.CompletedProcess:
    """``nofx ARGS`` in a private mount namespace where ``folder`` is a read-only filesystem."""
    cmd = " ".join(["mount --bind -o ro", str(folder), str(folder), "&&", "exec", sys.executable, "-m",
                    "nofx.cli.main", *(f"'{a}'" for a in args)])
    return subprocess.run(["unshare", "-m", "sh", "-c", cmd], capture_output=True, text=True, timeout=300)


@needs_ro_mount
def test_json_in_a_read_only_folder_fails_before_running(tmp_path):
    r = run_on_read_only(tmp_path, *BT, "--json", str(tmp_path / "o.json"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "--json" in lines[0] and "read-only" in lines[0]
    assert "fills" not in r.stdout


# --- options ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("opt,value", [
    ("--speed", "nan"), ("--speed", "-1"), ("--speed", "inf"),
    ("--latency-ms", "-5"), ("--latency-ms", "nan"), ("--latency-ms", "1e9"),
])
def test_paper_pacing_options_are_finite_and_in_range(nofx_cli, tmp_path, opt, value):
    db = tmp_path / "l.db"
    line = nofx_cli(*PAPER, opt, value, "--db", str(db)).error_line()
    assert opt in line
    assert not db.exists()  # refused before the ledger was opened


@pytest.mark.parametrize("trader", ["", " x", "x" * 65, "a\tb"])
def test_paper_trader_id_is_never_renamed(nofx_cli, tmp_path, trader):
    db = tmp_path / "l.db"
    line = nofx_cli(*PAPER, "--trader", trader, "--db", str(db)).error_line()
    assert "trader id" in line and not db.exists()


@pytest.mark.parametrize("opt", ["--symbols", "--strategy", "--params", "--start"])
def test_empty_option_is_an_error_not_the_default(nofx_cli, opt):
    args = [a for a in BT]
    if opt in args:
        i = args.index(opt)
        args[i + 1] = ""
    else:
        args += [opt, ""]
    assert opt in nofx_cli(*args).error_line()


def test_usage_errors_are_one_line(nofx_cli):
    line = nofx_cli("backtest", "--bogus").error_line()
    assert "--bogus" in line and "nofx backtest --help" in line
    line = nofx_cli("orders", "--limit", "0").error_line()
    assert "--limit" in line
    line = nofx_cli("sweep", "-s", "dual_ma", "-d", "x.parquet", "--start", "2020-02-30").error_line()
    assert "--start" in line


# --- messages ---------------------------------------------------------------------------------------

def test_bracketed_words_survive(nofx_cli, tmp_path):
    line = nofx_cli("backtest", "--no-progress").error_line()
    assert "[strategy]" in line


def test_model_level_validator_names_the_section_not_an_empty_name(nofx_cli):
    line = nofx_cli(*BT, "--params", "fast=30,slow=10").error_line()
    assert "''" not in line and "params" in line and "fast (30) must be shorter than slow (10)" in line


def test_fee_error_names_the_day():
    from datetime import date

    from nofx.domain.enums import Side
    from nofx.domain.errors import OrderError
    from nofx.domain.instruments import parse_symbol
    from nofx.markets.rulebook import build_rulebook

    book = build_rulebook("cn")
    with pytest.raises(OrderError) as exc:
        book.fees(parse_symbol("600519.SH"), date(2020, 3, 2), Side.BUY, 100, Decimal(0))
    assert "day=2020-03-02" in str(exc.value) and "600519.SH" in str(exc.value)


def test_an_internal_error_names_the_command_and_asks_for_a_report(nofx_cli, monkeypatch):
    import nofx.cli.backtest as bt

    def broken(*_a, **_k):
        raise KeyError("boom")

    monkeypatch.setattr(bt, "execute", broken)
    r = nofx_cli(*BT)
    assert r.code == 70 and "Traceback" not in r.err
    lines = [x for x in r.err.splitlines() if x.strip()]
    assert len(lines) == 1 and "`nofx backtest`" in lines[0] and "bug" in lines[0] and "KeyError" in lines[0]


def test_sweep_ray_address_is_checked_before_joining(nofx_cli):
    from nofx.data.bundled import bundled_bars_path

    line = nofx_cli("sweep", "-s", "dual_ma", "-d", str(bundled_bars_path()), "--symbols", "600519.SH",
                    "--grid", "fast=5", "--address", "nowhere").error_line()
    assert "--address" in line and "nowhere" in line


@pytest.mark.parametrize("text,needle", [("fast", "key=value"), ("=5", "key=value"),
                                         ("fast=5,fast=6", "given twice")])
def test_params_text_is_never_guessed(nofx_cli, text, needle):
    line = nofx_cli(*BT, "--params", text).error_line()
    assert "--params" in line and needle in line and "CONFIG_ERROR" in line


def test_paper_sqlite_sync_is_full_or_normal(nofx_cli, tmp_path):
    db = tmp_path / "l.db"
    line = nofx_cli(*PAPER, "--sqlite-sync", "off", "--db", str(db)).error_line()
    assert "--sqlite-sync" in line and "FULL" in line and "NORMAL" in line
    assert not db.exists()  # refused before the ledger was opened
