"""``evaluate_factors`` and the ``nofx factors report`` command on a real slice."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from nofx.cli.factors import app
from nofx.data.bars import read_bars
from nofx.data.panel import BarPanel
from nofx.domain.errors import ConfigError
from nofx.features.factors import FACTOR_NAMES, adjusted_close, compute_factors, evaluate_factors, forward_returns

SYMBOLS = "600000.SH,600036.SH,600519.SH,000001.SZ,000002.SZ,000333.SZ,000858.SZ,601318.SH,600276.SH," \
          "002415.SZ,600030.SH,601166.SH,000651.SZ,600887.SH,600309.SH,600900.SH"


@pytest.fixture(scope="module")
def files(cn_daily_path):
    v, f = cn_daily_path.parent / "cn_valuation.parquet", cn_daily_path.parent / "cn_fundamentals.parquet"
    if not (v.exists() and f.exists()):
        pytest.skip("shared valuation/fundamentals not present")
    return str(cn_daily_path), str(v), str(f)


def test_a_factor_equal_to_the_future_return_has_ic_one(cn_daily_path):
    panel = BarPanel.from_frame(read_bars(cn_daily_path, symbols=SYMBOLS.split(","), start="2020-01-01",
                                          end="2020-12-31"))
    fwd = forward_returns(adjusted_close(panel), 20)
    factors = compute_factors(panel)
    factors["roe"] = fwd  # an oracle, to check the plumbing (dates, rows, masks) end to end
    ev = evaluate_factors(panel, factors, {"roe": 1.0}, horizon=20, quantiles=4, min_coverage=1.0,
                          n_mad=1e9)
    assert ev.summary.loc["roe", "rank_ic"] == pytest.approx(1.0)
    assert ev.summary.loc["composite", "rank_ic"] == pytest.approx(1.0)
    assert (ev.quantiles.diff(axis=1).iloc[:, 1:] > 0).all().all()
    assert ev.summary.loc["roe", "periods"] == len(range(21, panel.shape[0] - 20, 20))


def test_report_prints_every_factor_and_writes_html(files, tmp_path):
    data, val, fun = files
    out = tmp_path / "factors.html"
    result = CliRunner().invoke(app, ["report", "--data", data, "--valuation", val, "--fundamentals", fun,
                                      "--symbols", SYMBOLS, "--start", "2020-01-01", "--end", "2020-12-31",
                                      "--html", str(out)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for name in (*FACTOR_NAMES, "composite"):
        assert name in result.output
    assert "rank IC" in result.output and "ICIR" in result.output
    page = out.read_text(encoding="utf-8")
    assert "Composite quantiles" in page and "Plotly" in page


def test_bad_weights_are_a_config_error(files):
    data, val, fun = files
    result = CliRunner().invoke(app, ["report", "--data", data, "--weights", "pe=1", "--symbols", SYMBOLS])
    assert isinstance(result.exception, ConfigError)
    result = CliRunner().invoke(app, ["report", "--symbols", SYMBOLS])
    assert isinstance(result.exception, ConfigError)
