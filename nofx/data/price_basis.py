"""Whether a bars file's prices are raw (as traded) or adjusted for corporate actions, and what follows.

Booking a dividend or a split is only right on raw prices: on adjusted prices the action is already in
the price path (the close before an ex-date is lowered, or every earlier price divided by the split
ratio), so booking it again pays a dividend twice or multiplies a holding with no price drop to match.

Where the answer comes from, first match wins:

1. the run's setting ``prices = "raw" | "adjusted"`` (``--prices``; ``auto`` = ask the file);
2. the file's own declaration: Parquet key-value metadata ``nofx.prices`` (``raw``/``adjusted``), or a
   sidecar ``FILE.meta.toml`` next to any bars file holding ``prices = "raw"`` (or ``"adjusted"``);
3. a documented default for the shared data files (:data:`KNOWN_FILES`, from their README);
4. a file that carries non-zero ``dividends``/``splits`` columns and says nothing is refused (the
   columns would be booked or ignored on a guess); any other file is taken as raw, which only matters
   where a ``preclose`` gap reveals an action (the exchange's ``preclose`` exists only for raw prices).

:func:`action_mismatches` checks the columns against the price path: on raw prices a split must show
its gap (previous close / open near the ratio), on adjusted prices it must not; a large cash dividend on
raw prices must not be followed by a price rise.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from nofx.data.bars import SOURCE_ATTR, row_location
from nofx.domain.errors import DataError

PriceBasis = Literal["raw", "adjusted"]
PRICE_SETTINGS: tuple[str, ...] = ("auto", "raw", "adjusted")
PRICES_ATTR = "nofx_prices"  # DataFrame.attrs key: {"basis", "source"} (plain, JSON-able) or None
PARQUET_KEY = b"nofx.prices"
SIDECAR_SUFFIX = ".meta.toml"

# The shared data set's files, as its README describes them (../shared/data/README.md).
KNOWN_FILES: dict[str, PriceBasis] = {
    "cn_daily.parquet": "raw",  # "A-share daily bars, unadjusted" (ex-dates show as preclose gaps)
    "cn_15min.parquet": "raw",  # "A-share 15-minute bars, unadjusted"
    "hk_daily.parquet": "adjusted",  # "back-adjusted by the source for dividends and distributions"
}

# a split is "seen" in the prices when the gap is nearer its ratio than 1, in log terms
_MIN_SPLIT_CHECKED = 1.2  # smaller ratios drown in ordinary daily moves
_DIVIDEND_CHECKED = 0.05  # dividends of at least 5% of the previous close are checked on raw prices


@dataclass(frozen=True, slots=True)
class PriceDeclaration:
    basis: PriceBasis
    source: str  # where it was declared, for the report ("--prices", "sidecar x.meta.toml", ...)

    def to_attrs(self) -> dict[str, str]:
        return {"basis": self.basis, "source": self.source}


def _parse_basis(value: object, where: str) -> PriceBasis:
    if value in ("raw", "adjusted"):
        return value  # type: ignore[return-value]
    raise DataError(f"prices must be 'raw' or 'adjusted', found {value!r}", where=where)


def declared_prices(path: Path, fmt: str) -> PriceDeclaration | None:
    """What the file says about its prices (metadata, sidecar, or the known-file default), or None."""
    sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
    if sidecar.is_file():
        try:
            meta = tomllib.loads(sidecar.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise DataError(f"cannot parse {sidecar.name}: {exc}", file=str(sidecar)) from None
        if "prices" in meta:
            return PriceDeclaration(_parse_basis(meta["prices"], str(sidecar)), f"sidecar {sidecar.name}")
    if fmt == "parquet":
        meta = pq.read_schema(path).metadata or {}
        if PARQUET_KEY in meta:
            value = meta[PARQUET_KEY].decode("utf-8", "replace")
            return PriceDeclaration(_parse_basis(value, f"{path} metadata"), "file metadata nofx.prices")
    if path.name in KNOWN_FILES:
        return PriceDeclaration(KNOWN_FILES[path.name], f"documented default for {path.name}")
    return None


def has_action_columns(bars: pd.DataFrame) -> bool:
    return any(c in bars.columns and (bars[c].fillna(0) > 0).any() for c in ("dividends", "splits"))


def resolve_prices(bars: pd.DataFrame, setting: str = "auto") -> PriceDeclaration:
    """The run's price basis: ``setting`` unless ``auto``, else what the file declared.

    Raises :class:`DataError` when the file carries dividends/splits and nobody said which it is."""
    if setting in ("raw", "adjusted"):
        return PriceDeclaration(setting, "--prices / backtest.prices")  # type: ignore[arg-type]
    if setting != "auto":
        raise DataError(f"prices must be one of {', '.join(PRICE_SETTINGS)}, found {setting!r}")
    declared = bars.attrs.get(PRICES_ATTR)
    if isinstance(declared, dict):
        return PriceDeclaration(_parse_basis(declared.get("basis"), "DataFrame.attrs"), str(declared.get("source")))
    if has_action_columns(bars):
        raise DataError("the bars carry dividends/splits but do not say whether prices are raw or adjusted: "
                        "pass --prices raw|adjusted (backtest.prices), or declare it in FILE.meta.toml",
                        file=bars.attrs.get(SOURCE_ATTR, "<frame>"))
    return PriceDeclaration("raw", "assumed: the file does not say and carries no dividends/splits")


@dataclass(frozen=True, slots=True)
class ActionMismatch:
    """A dividend/split row the price path contradicts. ``fatal``: booking it would corrupt the ledger."""

    where: str  # file and row/line
    symbol: str
    date: str
    message: str
    fatal: bool

    def __str__(self) -> str:
        return f"{self.where} ({self.symbol} {self.date}): {self.message}"


def action_mismatches(bars: pd.DataFrame, basis: PriceBasis) -> list[ActionMismatch]:
    """Dividend/split rows that the prices contradict under ``basis`` (see the module doc)."""
    cols = [c for c in ("dividends", "splits") if c in bars.columns]
    if not cols or bars.empty:
        return []
    df = bars.sort_values(["symbol", "datetime"], kind="stable")
    prev = df.groupby("symbol", sort=False)["close"].shift().to_numpy(dtype="float64")
    opn = df["open"].to_numpy(dtype="float64")
    split = df["splits"].fillna(0).to_numpy(dtype="float64") if "splits" in cols else np.zeros(len(df))
    div = df["dividends"].fillna(0).to_numpy(dtype="float64") if "dividends" in cols else np.zeros(len(df))
    out: list[ActionMismatch] = []
    for k in np.flatnonzero((split > 0) | (div > 0)):
        p, o, r, d = prev[k], opn[k], split[k], div[k]
        if not (np.isfinite(p) and np.isfinite(o) and p > 0 and o > 0):
            continue  # first bar of a symbol: nothing to compare with
        row = df.index[k]
        where = row_location(bars.attrs, int(row)) if isinstance(row, (int, np.integer)) else str(row)
        sym, day = str(df["symbol"].iloc[k]), f"{pd.Timestamp(df['datetime'].iloc[k]):%Y-%m-%d}"
        gap = math.log(p / o)  # + when the price fell into the ex-date
        if r > 0 and abs(math.log(r)) >= math.log(_MIN_SPLIT_CHECKED):
            nearer_split = abs(gap - math.log(r)) < abs(gap)
            if basis == "raw" and not nearer_split:
                out.append(ActionMismatch(where, sym, day, f"split ratio {r:g} but the price did not move with it "
                                          f"(previous close {p:.4g}, open {o:.4g}): prices look adjusted "
                                          "(use --prices adjusted)", fatal=True))
            elif basis == "adjusted" and nearer_split:
                out.append(ActionMismatch(where, sym, day, f"split ratio {r:g} shows as a price gap (previous "
                                          f"close {p:.4g}, open {o:.4g}): prices look raw (use --prices raw)",
                                          fatal=False))
        if basis == "raw" and d > 0:
            if d >= p:
                out.append(ActionMismatch(where, sym, day, f"dividend {d:g} is not below the previous close {p:.4g}",
                                          fatal=True))
            elif d / p >= _DIVIDEND_CHECKED and o > p and (r <= 0 or r == 1):
                out.append(ActionMismatch(where, sym, day, f"dividend {d:g} ({d / p:.0%} of the previous close "
                                          f"{p:.4g}) but the price opened higher ({o:.4g}): prices look adjusted",
                                          fatal=False))
    return out
