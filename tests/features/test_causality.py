"""assert_causal catches look-ahead and passes causal functions, on every supported input shape."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nofx.data.bundled import load_bundled
from nofx.data.panel import BarPanel
from nofx.features.causality import assert_causal


@pytest.fixture(scope="module")
def panel() -> BarPanel:
    return BarPanel.from_frame(load_bundled(symbols=["600519.SH", "000001.SZ", "688981.SH"]))


def _trailing_mean(x: np.ndarray) -> np.ndarray:
    return pd.DataFrame(x).rolling(5, min_periods=1).mean().to_numpy()


def test_causal_functions_pass(panel):
    close = panel["close"]
    assert_causal(_trailing_mean, close)
    assert_causal(lambda x: np.cumsum(np.nan_to_num(x), axis=0), close[:, 0])
    assert_causal(lambda p: p["close"] / p["preclose"] - 1, panel, n_checks=10)
    assert_causal(lambda hlc: hlc[0] - hlc[1], (panel["high"], panel["low"], panel["close"]))
    assert_causal(lambda d: {"range": d["high"] - d["low"]}, {"high": panel["high"], "low": panel["low"]})


@pytest.mark.parametrize("leaky", [
    lambda x: np.roll(x, -1, axis=0),  # tomorrow's value
    lambda x: pd.DataFrame(x).rolling(5, center=True, min_periods=1).mean().to_numpy(),  # centred window
    lambda x: x / np.nanmean(x, axis=0),  # full-sample normalisation
    lambda x: x - np.nanmax(x, axis=0),  # peeks at the final maximum
])
def test_look_ahead_is_caught(panel, leaky):
    with pytest.raises(AssertionError, match="not causal"):
        assert_causal(leaky, panel["close"])


def test_message_names_row_column_symbol_and_cut(panel):
    with pytest.raises(AssertionError) as err:
        assert_causal(lambda p: p["close"] / np.nanmean(p["close"], axis=0), panel)
    text = str(err.value)
    assert "row 0" in text and "000001.SZ" in text and "rows after" in text


def test_panel_flags_stay_binary_and_prices_consistent(panel):
    seen = {}

    def probe(p):
        seen["status"] = np.unique(p["trade_status"][np.isfinite(p["trade_status"])])
        ok = np.isfinite(p["high"])
        seen["ordered"] = bool((p["high"][ok] >= p["low"][ok]).all())
        return p["close"]

    assert_causal(probe, panel, n_checks=2)
    assert set(seen["status"]) <= {0.0, 1.0} and seen["ordered"]


def test_dataframe_and_series_inputs():
    idx = pd.date_range("2021-01-01", periods=60)
    frame = pd.DataFrame({"a": np.arange(60.0) + 1, "b": np.arange(60.0) * 2 + 1}, index=idx)
    assert_causal(lambda d: d.rolling(3).sum(), frame)
    assert_causal(lambda s: s.expanding().max(), frame["a"])
    with pytest.raises(AssertionError, match="not causal"):
        assert_causal(lambda d: d.shift(-2), frame)


def test_output_must_align_in_time(panel):
    with pytest.raises(AssertionError, match="cannot align"):
        assert_causal(lambda x: x[1:], panel["close"])
