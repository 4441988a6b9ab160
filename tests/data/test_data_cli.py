"""``nofx data info`` / ``nofx data check`` through typer's test runner."""

from __future__ import annotations

from typer.testing import CliRunner

from nofx.cli.data import app
from nofx.data.bundled import bundled_bars_path

runner = CliRunner()


def test_check_lists_bad_rows_and_exits_1(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(
        "symbol,date,open,high,low,close,volume\n"
        "600519.SH,2021-01-04,10,11,9,10.5,100\n"
        "600519.SH,2021-01-05,10,9.5,9,10.5,100\n"
        "BAD,2021-01-06,10,11,9,10.5,100\n"
    )
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 1
    out = " ".join(result.output.split())  # rich may wrap long lines
    assert "line 3: 600519.SH 2021-01-05 [ohlc_inconsistent]" in out
    assert "line 4: BAD 2021-01-06 [unknown_symbol]" in out
    assert "2 problem(s) on 2 row(s)" in out


def test_check_ok_on_clean_data():
    result = runner.invoke(app, ["check", str(bundled_bars_path())])
    assert result.exit_code == 0
    assert result.output.startswith("OK: 23,000 rows, 33 symbols")


def test_info_shows_summary_and_symbols():
    result = runner.invoke(app, ["info", str(bundled_bars_path()), "-s", "000792.SZ", "-s", "600519.SH"])
    assert result.exit_code == 0, result.output
    assert "000792.SZ" in result.output and "600519.SH" in result.output
    assert "suspended days" in result.output and "2019-01-02 .. 2021-12-31" in result.output


def test_user_errors_are_nofx_errors(tmp_path):
    from nofx.domain.errors import DataError

    result = runner.invoke(app, ["info", str(tmp_path / "missing.parquet")])
    assert result.exit_code != 0 and isinstance(result.exception, DataError)
