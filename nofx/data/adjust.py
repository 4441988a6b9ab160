"""Price adjustment for dividends, bonus shares and rights issues, derived from ``preclose``.

On an ex-date the exchange publishes a ``preclose`` below the previous day's close (the "ex-rights
reference price"). The ratio ``close[t-1] / preclose[t]`` is therefore the day's adjustment step, and
its running product per symbol is the backward-adjustment (hfq) factor. No corporate-action table is
needed, and the adjusted return of every day equals ``close / preclose - 1``, which is what the
exchange (and the data's ``pct_chg``) reports.

- **hfq** (backward adjusted, 后复权): the first bar keeps its price, later prices are scaled up by the
  factor. Stable history, so it suits caching; prices drift away from today's quotes.
- **qfq** (forward adjusted, 前复权): the latest bar keeps its price, earlier ones are scaled down.
  Matches what a trader sees today, but every new ex-date rewrites the whole history, so qfq series
  must never be cached across data updates (and a backtest must not use future ex-dates: for point-in-time
  work use hfq or raw prices with the factor).

Only prices (open, high, low, close, preclose) are adjusted; ``volume`` and ``amount`` stay as traded.
"""

from __future__ import annotations

from enum import Enum

import numpy as np
import pandas as pd

from nofx.domain.errors import DataError

ADJUSTED_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "preclose")
FACTOR_COLUMN = "adj_factor"
# preclose and close are both quoted to 0.01 and stored as the same doubles on ordinary days; anything
# closer than this is float noise, not a corporate action
_STEP_TOLERANCE = 1e-9


class AdjustMethod(str, Enum):
    NONE = "none"
    FORWARD = "qfq"
    BACKWARD = "hfq"


def _sorted_order(df: pd.DataFrame) -> np.ndarray:
    """Positions that sort the frame by (symbol, datetime): factors need each symbol's bars in time order."""
    for col in ("symbol", "datetime", "close", "preclose"):
        if col not in df.columns:
            raise DataError(f"missing column {col!r} (needed for adjustment factors)")
    sym_codes, _ = pd.factorize(df["symbol"], sort=True)
    times = df["datetime"].to_numpy(dtype="datetime64[ns]")
    return np.lexsort((times, sym_codes))


def adjustment_factors(df: pd.DataFrame) -> pd.Series:
    """Backward (hfq) cumulative adjustment factor of every row, aligned to ``df.index``.

    1.0 on each symbol's first bar; multiplied by ``close[t-1] / preclose[t]`` on each day where the
    exchange's ``preclose`` differs from the previous close. Rows with a missing or non-positive
    ``preclose`` carry the factor forward unchanged.
    """
    order = _sorted_order(df)
    sym = df["symbol"].to_numpy(dtype=object)[order]
    close = df["close"].to_numpy(dtype="float64")[order]
    preclose = df["preclose"].to_numpy(dtype="float64")[order]
    same_symbol = np.zeros(len(order), dtype=bool)
    same_symbol[1:] = sym[1:] == sym[:-1]
    prev_close = np.full(len(order), np.nan)
    prev_close[1:] = close[:-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        step = prev_close / preclose
    usable = same_symbol & np.isfinite(step) & (preclose > 0) & (prev_close > 0)
    step = np.where(usable & (np.abs(step - 1.0) > _STEP_TOLERANCE), step, 1.0)
    # cumulative product per symbol, vectorised with groupby.cumprod (rows are already in time order)
    factor_sorted = pd.Series(step).groupby(sym, sort=False).cumprod().to_numpy()
    factor = np.empty(len(order))
    factor[order] = factor_sorted
    return pd.Series(factor, index=df.index, name=FACTOR_COLUMN)


def adjust_bars(df: pd.DataFrame, method: AdjustMethod | str = AdjustMethod.FORWARD) -> pd.DataFrame:
    """A copy of ``df`` with adjusted prices and an ``adj_factor`` column (the multiplier applied).

    ``qfq``: factor = hfq / (the symbol's last hfq factor), so the latest prices are unchanged.
    ``hfq``: factor = hfq, so the first prices are unchanged. ``none`` returns a copy with factor 1.
    """
    try:
        method = AdjustMethod(method)
    except ValueError:
        raise DataError("unknown adjustment method (use qfq, hfq or none)", method=str(method)) from None
    out = df.copy()
    if method is AdjustMethod.NONE:
        out[FACTOR_COLUMN] = 1.0
        return out
    hfq = adjustment_factors(df)
    if method is AdjustMethod.BACKWARD:
        factor = hfq.to_numpy()
    else:
        order = _sorted_order(df)
        last = pd.Series(hfq.to_numpy()[order]).groupby(df["symbol"].to_numpy(dtype=object)[order], sort=False)
        last_sorted = last.transform("last").to_numpy()
        latest = np.empty(len(order))
        latest[order] = last_sorted
        factor = hfq.to_numpy() / latest
    for col in ADJUSTED_COLUMNS:
        if col in out.columns:
            out[col] = out[col].to_numpy(dtype="float64") * factor
    out[FACTOR_COLUMN] = factor
    return out
