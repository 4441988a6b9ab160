"""The demo dataset shipped inside the package: 32 A-shares and the CSI 300 index, daily, 2019-2021.

See ``nofx/data/bundled/README.md`` for the source, licence, symbol list and its survivor bias.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd

from nofx.data.bars import read_bars

BUNDLED_FILE = "cn_daily_demo.parquet"


def bundled_bars_path() -> Path:
    """Filesystem path of the bundled Parquet file (the package is installed unzipped, so it is a real file)."""
    return Path(str(resources.files("nofx.data").joinpath("bundled", BUNDLED_FILE)))


def load_bundled(symbols: list[str] | None = None, start=None, end=None) -> pd.DataFrame:
    """The bundled bars in the canonical schema (see :func:`nofx.data.bars.read_bars`)."""
    return read_bars(bundled_bars_path(), symbols=symbols, start=start, end=end)
