"""Names shared by the bars reader and the row checks: canonical columns, provenance attrs, row locations,
and the limits a value must respect to enter nofx.

Limits (documented in docs/rules.md; a value outside them is a bad row, never a silent change):

==========================  ====================================================================
prices, ``preclose``        finite; at most :data:`MAX_PRICE` (1,000,000 per share: no A-share or HK
                            stock has printed above a few thousand; a 1e30 close is a unit error)
``volume``                  finite, >= 0, at most :data:`MAX_VOLUME` (1e13 shares)
``amount``                  finite, >= 0, at most :data:`MAX_AMOUNT` (1e16 in the quote currency)
``datetime``                between :data:`MIN_DATE` (1990-01-01: SSE opened 1990-12-19) and
                            :data:`MAX_DATE` (2100-12-31); naive exchange-local or all tz-aware
``trade_status``, ``is_st`` 0 or 1 (empty = unknown)
==========================  ====================================================================
"""

from __future__ import annotations

from typing import Any

import pandas as pd

PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close")
REQUIRED_COLUMNS: tuple[str, ...] = ("symbol", "datetime", *PRICE_COLUMNS, "volume")
OPTIONAL_FLOAT_COLUMNS: tuple[str, ...] = ("amount", "preclose")
OPTIONAL_FLAG_COLUMNS: tuple[str, ...] = ("trade_status", "is_st")
TIME_COLUMN_ALIASES: tuple[str, ...] = ("datetime", "date")

MAX_PRICE = 1_000_000.0
MAX_VOLUME = 1e13
MAX_AMOUNT = 1e16
MIN_DATE = pd.Timestamp("1990-01-01")
MAX_DATE = pd.Timestamp("2100-12-31 23:59:59")

# attrs keys that carry provenance through to check_bars / the CLI
SOURCE_ATTR = "nofx_source"
FORMAT_ATTR = "nofx_format"
TIME_COLUMN_ATTR = "nofx_time_column"  # the file's name for the "datetime" column (e.g. "date")
# {column: {file row: repr(raw value)}}: cells the reader could not turn into a number/date
UNPARSED_ATTR = "nofx_unparsed"
# ["line 3: 600519.SH 2021-03-02 [duplicate] ...", ...]: rows removed by drop_bad_rows=True
DROPPED_ATTR = "nofx_dropped"


def row_location(attrs: dict[str, Any], row: int) -> str:
    """Human location of a data row: ``file.csv line 7`` (1-based, header counted) or ``file.parquet row 5``.

    CSV users open the file in an editor, so they get line numbers; Parquet has no lines, so the
    0-based row position that pandas/pyarrow show is used.
    """
    return f"{attrs.get(SOURCE_ATTR, '<frame>')} {row_label(attrs, row)}"


def row_label(attrs: dict[str, Any], row: int) -> str:
    """``line 7`` for a CSV source (1-based, header counted), else ``row 5`` (0-based position)."""
    return f"line {row + 2}" if attrs.get(FORMAT_ATTR) == "csv" else f"row {row}"
