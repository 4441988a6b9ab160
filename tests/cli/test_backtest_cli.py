"""`nofx backtest` end to end through the real CLI process: outputs and clear errors on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from nofx.data.bundled import bundled_bars_path


def nofx(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nofx.cli.main", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def test_backtest_writes_json_and_report(tmp_path):
    out, rep = tmp_path / "out.json", tmp_path / "out.html"
    r = nofx("backtest", "--strategy", "dual_ma", "--data", str(bundled_bars_path()), "--symbols",
             "600519.SH,000001.SZ", "--start", "2019-01-01", "--end", "2021-12-31", "--cash", "1000000",
             "--params", "fast=5,slow=20,size=100", "--json", str(out), "--report", str(rep),
             "--benchmark", "000300.SH", "--no-progress")
    assert r.returncode == 0, r.stderr
    d = json.loads(out.read_text())
    assert set(d) >= {"metrics", "trades", "equity", "rejections"}
    t = d["trades"][0]
    assert set(t) == {"order_id", "symbol", "datetime", "side", "quantity", "price", "fee"}
    assert t["side"] in ("buy", "sell") and t["quantity"] == 100
    # money to the cent, and the equity curve's last cash reconciles with the trades
    cash = Decimal(1_000_000)
    for t in d["trades"]:
        fee = Decimal(str(t["fee"]))
        assert fee == fee.quantize(Decimal("0.01"))
        amt = Decimal(str(t["price"])) * t["quantity"]
        cash += -(amt + fee) if t["side"] == "buy" else amt - fee
    for a in d["corporate_actions"]:  # dividends booked on ex-dates (600519.SH pays one a year)
        cash += Decimal(str(a["cash"]))
    assert d["corporate_actions"], "a 3-year 600519.SH run crosses ex-dividend dates"
    for t in d["dividend_tax"]["deductions"]:  # an individual's dividend tax, deducted at sale
        cash -= Decimal(str(t["amount"]))
    assert d["dividend_tax"]["deductions"], "dual_ma sells 600519.SH within a year of its dividends"
    assert Decimal(str(d["equity"][-1]["cash"])) == cash
    assert d["metrics"]["n_trades"] == len(d["trades"])
    html = rep.read_text()
    assert "plotly" in html.lower() and "600519.SH" in html


def test_rules_none_and_zero_fees_charge_nothing(tmp_path):
    out = tmp_path / "o.json"
    r = nofx("backtest", "-s", "dual_ma", "--symbols", "600519.SH", "--rules", "none", "--fees", "zero",
             "--fill", "close", "--json", str(out), "--no-progress")
    assert r.returncode == 0, r.stderr
    assert all(t["fee"] == 0 for t in json.loads(out.read_text())["trades"])


def _bad_file(tmp_path: Path, mutate) -> Path:
    df = pd.read_parquet(bundled_bars_path())
    df = df[df.symbol.isin(["600519.SH", "000001.SZ"])].head(400).copy()
    df = mutate(df)
    p = tmp_path / "bad.csv"
    df.to_csv(p, index=False)
    return p


@pytest.mark.parametrize("mutate,needle", [
    (lambda d: d.drop(columns=["close"]), "close"),
    (lambda d: d.assign(open=d["open"].astype(str).where(d.index != d.index[5], "abc")), "open"),
    (lambda d: d.assign(symbol=d["symbol"].where(d.index != d.index[3], "ABC123")), "ABC123"),
])
def test_bad_data_gives_one_clear_line(tmp_path, mutate, needle):
    p = _bad_file(tmp_path, mutate)
    r = nofx("backtest", "-s", "dual_ma", "--data", str(p), "--no-progress")
    assert r.returncode != 0
    lines = [x for x in r.stderr.strip().splitlines() if x.strip()]
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr and needle in lines[0]


@pytest.mark.parametrize("args,needle", [
    (["--strategy", "nope"], "unknown strategy"),
    (["--strategy", "dual_ma", "--start", "2030-01-01", "--end", "2030-12-31"], "no bars"),
    (["--strategy", "dual_ma", "--symbols", "600519.XX"], "symbol"),
    (["--strategy", "dual_ma", "--params", "fast=30,slow=10"], "fast"),
    (["--strategy", "dual_ma", "--params", "speed=3"], "speed"),
    (["--strategy", "dual_ma", "--rules", "us"], "rules"),
    (["--strategy", "dual_ma", "--data", "/nonexistent/bars.parquet"], "bars.parquet"),
])
def test_bad_options_give_one_clear_line(args, needle):
    r = nofx("backtest", *args, "--no-progress")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    assert needle in r.stderr.lower() or needle in r.stderr, r.stderr


def test_config_file_runs_and_reports_bad_keys(tmp_path):
    good = tmp_path / "run.toml"
    good.write_text(f'''
[data]
path = "{bundled_bars_path()}"
symbols = ["600036.SH"]
[backtest]
start = 2020-01-01
end = 2020-12-31
rules = "cn"
[strategy]
name = "dual_ma"
[strategy.params]
fast = 3
slow = 8
size = 200
''')
    out = tmp_path / "o.json"
    r = nofx("backtest", "--config", str(good), "--json", str(out), "--no-progress")
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text())["trades"][0]["quantity"] == 200
    bad = tmp_path / "bad.toml"
    bad.write_text(good.read_text().replace("rules = \"cn\"", "rulez = \"cn\""))
    r = nofx("backtest", "--config", str(bad), "--no-progress")
    assert r.returncode == 2 and "rulez" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("args,needle", [
    (["--prices", "raw", "--symbols", "9901.HK", "--start", "2021-02-01", "--end", "2021-04-30"],
     "hk_daily.parquet row 21500 (9901.HK 2021-03-10): split ratio 10"),
    (["--prices", "bogus", "--symbols", "0700.HK"], "backtest.prices"),
    (["--investor", "retail", "--symbols", "0700.HK"], "backtest.investor"),
    (["--commission-min-basis", "per_day", "--symbols", "0700.HK"], "backtest.commission_min_basis"),
])
def test_money_settings_refuse_bad_input_in_one_line(hk_daily_path, args, needle):
    r = nofx("backtest", "--strategy", "buy_and_hold", "--data", str(hk_daily_path), *args, "--no-progress")
    assert r.returncode == 2, r.stdout + r.stderr
    lines = [x for x in r.stderr.strip().splitlines() if x.strip()]
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in r.stderr, r.stderr


def test_adjusted_prices_are_reported(hk_daily_path, tmp_path):
    out = tmp_path / "out.json"
    r = nofx("backtest", "--strategy", "buy_and_hold", "--data", str(hk_daily_path), "--symbols", "0700.HK",
             "--start", "2023-05-01", "--end", "2023-06-30", "--json", str(out), "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "prices: adjusted (documented default for hk_daily.parquet)" in " ".join(r.stdout.split())
    d = json.loads(out.read_text())
    assert d["price_basis"] == "adjusted" and d["corporate_actions"] == []
