"""Row-level quality checks on bars: every bad row, each located in its file.

:func:`read_bars` stops at the first structural problem (missing column, unreadable value); these
checks look at the values and list *all* the rows a human should look at, which is what
``nofx data check`` prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np
import pandas as pd

from nofx.data.bars import PRICE_COLUMNS, REQUIRED_COLUMNS, row_label
from nofx.domain.errors import DataError, InvalidSymbolError
from nofx.domain.instruments import parse_symbol


class IssueKind(str, Enum):
    MISSING_VALUE = "missing_value"  # NaN/empty in a required field
    UNKNOWN_SYMBOL = "unknown_symbol"  # not a code parse_symbol understands
    DUPLICATE = "duplicate"  # (symbol, datetime) seen on an earlier row
    OHLC_INCONSISTENT = "ohlc_inconsistent"  # high below open/close/low, or low above them
    NON_POSITIVE_PRICE = "non_positive_price"  # price <= 0 on a traded row
    NEGATIVE_VOLUME = "negative_volume"


@dataclass(frozen=True, slots=True)
class BarIssue:
    row: int  # 0-based data row in the file (the index read_bars gives); see bars.row_location
    symbol: str | None
    datetime: pd.Timestamp | None
    kind: IssueKind
    message: str


def check_bars(df: pd.DataFrame) -> list[BarIssue]:
    """Every bad row of a bars frame, sorted by row (several issues per row are possible).

    Rows are located by the frame's index, which :func:`nofx.data.bars.read_bars` sets to the file
    row position. A row is "traded" unless ``trade_status`` is 0 or its volume is 0; suspended rows may carry
    placeholder prices and are not checked for positivity; neither are rows with zero volume.
    """
    missing_cols = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing_cols:
        raise DataError(f"missing column {missing_cols[0]!r}", missing=",".join(missing_cols))
    rows = np.asarray(df.index, dtype=np.int64) if pd.api.types.is_integer_dtype(df.index) else np.arange(len(df))
    symbols = df["symbol"].to_numpy(dtype=object)
    times = pd.to_datetime(df["datetime"]).to_numpy()
    o, h, l, c = (df[name].to_numpy(dtype="float64") for name in PRICE_COLUMNS)
    vol = df["volume"].to_numpy(dtype="float64")
    found: list[tuple[int, int, BarIssue]] = []  # (row, order) -> issue, sorted at the end

    def add(mask: np.ndarray, kind: IssueKind, message_of) -> None:
        for i in np.flatnonzero(mask):
            t = times[i]
            found.append((int(rows[i]), len(found), BarIssue(
                int(rows[i]),
                symbols[i] if isinstance(symbols[i], str) else None,
                pd.Timestamp(t) if not pd.isna(t) else None,
                kind,
                message_of(i),
            )))

    # missing values: one issue per row naming every empty field
    field_names = list(REQUIRED_COLUMNS)
    nan_matrix = np.column_stack([
        pd.isna(symbols) | (symbols == ""),
        pd.isna(times),
        np.isnan(o), np.isnan(h), np.isnan(l), np.isnan(c), np.isnan(vol),
    ])
    add(nan_matrix.any(axis=1), IssueKind.MISSING_VALUE,
        lambda i: "missing or non-numeric value in " + ", ".join(n for n, bad in zip(field_names, nan_matrix[i]) if bad))

    # symbol format: parse once per distinct symbol
    bad_symbols = set()
    for sym in pd.unique(symbols[~nan_matrix[:, 0]]):
        try:
            parse_symbol(sym)
        except InvalidSymbolError:
            bad_symbols.add(sym)
    if bad_symbols:
        add(np.isin(symbols, list(bad_symbols)) & ~nan_matrix[:, 0], IssueKind.UNKNOWN_SYMBOL,
            lambda i: f"unknown symbol format {symbols[i]!r}")

    # duplicates of (symbol, datetime): report each later copy and where the first one is
    key = pd.DataFrame({"s": symbols, "t": times})
    later = key.duplicated(keep="first").to_numpy()
    if later.any():
        first_row = (
            pd.Series(rows).groupby([key["s"], key["t"]], dropna=False, sort=False).transform("first").to_numpy()
        )
        add(later, IssueKind.DUPLICATE, lambda i: f"duplicate of {row_label(df.attrs, int(first_row[i]))} (same symbol and datetime)")

    with np.errstate(invalid="ignore"):
        top = np.fmax(np.fmax(o, c), l)
        bottom = np.fmin(np.fmin(o, c), h)
        high_bad = h < top
        low_bad = l > bottom
        add(high_bad | low_bad, IssueKind.OHLC_INCONSISTENT,
            lambda i: f"OHLC inconsistent: open={o[i]:g} high={h[i]:g} low={l[i]:g} close={c[i]:g}")

        # suspension placeholders (trade_status 0, or zero volume: cn_15min has all-zero prices on
        # suspended days) carry no real price, so only traded rows must have positive prices
        traded = vol != 0
        if "trade_status" in df.columns:
            traded &= df["trade_status"].to_numpy(dtype="float64") != 0
        prices = np.column_stack([o, h, l, c])
        nonpos = (prices <= 0).any(axis=1) & traded
        add(nonpos, IssueKind.NON_POSITIVE_PRICE,
            lambda i: "non-positive price on a traded row: " + ", ".join(
                f"{n}={v:g}" for n, v in zip(PRICE_COLUMNS, prices[i]) if v <= 0))
        add(vol < 0, IssueKind.NEGATIVE_VOLUME, lambda i: f"negative volume {vol[i]:g}")

    found.sort(key=lambda item: (item[0], item[1]))
    return [issue for _, _, issue in found]
