"""Fixtures for the market-rule tests: the shared A-share daily file, loaded once per session."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest


@pytest.fixture(scope="session")
def cn_daily(cn_daily_path: Path) -> pd.DataFrame:
    cols = ["symbol", "date", "preclose", "open", "high", "low", "close", "trade_status", "is_st"]
    return pd.read_parquet(cn_daily_path, columns=cols).sort_values(["symbol", "date"], ignore_index=True)
