"""Synthetic bars for fast model tests (real-data tests use the shared fixtures in tests/conftest.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def synthetic_bars(n_stocks: int = 24, n_days: int = 260, seed: int = 0, start: str = "2019-01-01") -> pd.DataFrame:
    """Random-walk OHLCV in the canonical long schema, with a few suspended days."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range(start, periods=n_days)
    rows = []
    for k in range(n_stocks):
        sym = f"{600000 + k:06d}.SH"
        r = rng.normal(0, 0.02, n_days)
        close = 10 * np.exp(np.cumsum(r))
        open_ = close * np.exp(rng.normal(0, 0.005, n_days))
        high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.01, n_days))
        low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.01, n_days))
        vol = rng.integers(1_000, 10_000, n_days).astype(float) * 100
        status = np.ones(n_days)
        susp = rng.random(n_days) < 0.01
        status[susp] = 0
        vol[susp] = 0
        pre = np.r_[close[0], close[:-1]]
        rows.append(pd.DataFrame({"symbol": sym, "datetime": dates, "open": open_, "high": high, "low": low,
                                  "close": close, "volume": vol, "amount": vol * close, "preclose": pre,
                                  "trade_status": status, "is_st": 0.0}))
    return pd.concat(rows, ignore_index=True)


@pytest.fixture(scope="session")
def synth_frame() -> pd.DataFrame:
    return synthetic_bars()
