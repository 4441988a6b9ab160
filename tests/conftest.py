"""Shared fixtures. Real data comes from ../shared/data through ``shared_data``, which skips cleanly
with a message when that folder is absent; the bundled slice (nofx/data/bundled) always exists."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("NOFX_SHARED_DATA", REPO.parent / "shared" / "data"))


def shared_data_file(name: str) -> Path:
    """Path of a file in ../shared/data, or skip the calling test with a clear message."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"shared data file {path} not present (set NOFX_SHARED_DATA to its folder)")
    return path


@pytest.fixture(scope="session")
def cn_daily_path() -> Path:
    return shared_data_file("cn_daily.parquet")


@pytest.fixture(scope="session")
def hk_daily_path() -> Path:
    return shared_data_file("hk_daily.parquet")


@pytest.fixture(scope="session")
def cn_15min_path() -> Path:
    return shared_data_file("cn_15min.parquet")
