"""``nofx system run``: the same replay through real broker, market-data, engine and strategy processes
gives the backtester's result, byte for byte in its JSON (trades, equity, refusals, metrics)."""

from __future__ import annotations

import json

import pytest

from tests.messaging.system.helpers import backtest_json, run_config, system_json


def test_fifteen_minute_bars_same_json_as_backtest(cn_15min_path, tmp_path):
    cfg = run_config(cn_15min_path, ["000001.SZ", "600000.SH"], end="2025-01-15", params={"fast": 3, "slow": 8})
    expected = backtest_json(cfg, tmp_path)
    got, codes = system_json(cfg, tmp_path / "sys")
    assert len(expected["trades"]) >= 4  # the run trades: parity is not about an empty list
    assert got == expected
    assert codes["engine"] == 0 and codes["broker"] == 0


@pytest.mark.slow
def test_daily_bars_same_json_as_backtest_over_tcp(cn_daily_path, tmp_path):
    cfg = run_config(cn_daily_path, ["600519.SH", "000001.SZ", "000858.SZ"], start="2019-01-01", end="2019-12-31")
    expected = backtest_json(cfg, tmp_path)
    got, _ = system_json(cfg, tmp_path / "sys", transport="tcp")
    assert len(expected["trades"]) >= 6
    assert got == expected


@pytest.mark.slow
def test_fills_at_the_close_same_json_as_backtest(cn_15min_path, tmp_path):
    # --fill close: an order meets its own bar as it arrives, inside the strategy's slice
    cfg = run_config(cn_15min_path, ["600009.SH", "600000.SH", "000001.SZ"], end="2025-01-24", fill="close",
                     params={"fast": 3, "slow": 8})
    expected = backtest_json(cfg, tmp_path)
    got, _ = system_json(cfg, tmp_path / "sys")
    assert len(expected["trades"]) >= 4
    assert got == expected


@pytest.mark.slow
def test_cli_writes_the_backtest_json(cn_15min_path, tmp_path, nofx_cli):
    args = ["--strategy", "dual_ma", "--data", str(cn_15min_path), "--symbols", "600000.SH", "--end", "2025-01-10",
            "--params", "fast=3,slow=8"]
    bt = nofx_cli("backtest", *args, "--json", str(tmp_path / "bt.json"), "--no-progress")
    assert bt.code == 0, bt.err
    res = nofx_cli("system", "run", *args, "--speed", "0", "--json", str(tmp_path / "sys.json"),
                   "--workdir", str(tmp_path / "wd"))
    assert res.code == 0, res.err
    assert "System run metrics" in res.out
    assert json.loads((tmp_path / "sys.json").read_text()) == json.loads((tmp_path / "bt.json").read_text())


def test_cli_bad_input_is_one_line(tmp_path, nofx_cli):
    res = nofx_cli("system", "run", "--strategy", "dual_ma", "--symbols", "600000.SH", "--transport", "udp",
                   "--workdir", str(tmp_path / "wd"))
    assert res.code == 2
    assert "--transport must be ipc or tcp" in res.error_line()


def test_cli_missing_data_file_is_one_line(tmp_path, nofx_cli):
    """Found before any process starts (it used to be found by the market-data process, five processes in)."""
    res = nofx_cli("system", "run", "--strategy", "dual_ma", "--symbols", "600000.SH", "--data",
                   str(tmp_path / "none.parquet"), "--workdir", str(tmp_path / "wd"))
    line = res.error_line()
    assert "bars file not found" in line and "none.parquet" in line and "process stopped" not in line
    assert not (tmp_path / "wd" / "logs").exists()
