"""Market data prepared for the engine: the traded universe as a panel, each bar's limit band from the
market rules, the rule book and fee model. Shared by the backtest and paper/live runners."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np
import pandas as pd

from nofx.data.panel import BarPanel, day_preclose
from nofx.domain.errors import ConfigError, DataError
from nofx.domain.instruments import parse_symbol
from nofx.markets.dividend_tax import DividendTax
from nofx.markets.fees import CN_DEFAULT_COMMISSION, HK_DEFAULT_COMMISSION, CommissionConfig, FeeModel
from nofx.markets.rulebook import RuleBook, build_fee_model, build_rulebook


class MarketSettings(Protocol):
    """The market part of a run's config (BacktestConfig has these fields)."""

    start: object
    end: object
    rules: str
    fees: str
    benchmark: str | None
    commission_rate: object
    commission_min: object
    rule_tables: dict[str, str]


@dataclass(frozen=True)
class PreparedMarket:
    """Bars as the engine needs them: the panel plus each bar's limit band (NaN = none)."""

    panel: BarPanel
    lower: np.ndarray
    upper: np.ndarray
    rulebook: RuleBook
    fee_model: FeeModel
    dividend_tax: DividendTax | None = None  # None: no dividend tax (``rules = "none"``)


def select_bars(bars: pd.DataFrame, config: MarketSettings,
                symbols: Sequence[str] | None) -> tuple[pd.DataFrame, pd.Series | None]:
    """Split bars into the traded universe and the benchmark's close, within the configured dates."""
    if config.start is not None or config.end is not None:
        lo = pd.Timestamp(config.start) if config.start else pd.Timestamp.min
        hi = pd.Timestamp(config.end) + pd.Timedelta(days=1) if config.end else pd.Timestamp.max
        span = (bars["datetime"].min(), bars["datetime"].max())
        warm = getattr(config, "warmup_bars", 0)
        if warm and config.start:
            earlier = np.unique(bars.loc[bars["datetime"] < lo, "datetime"].to_numpy())
            if len(earlier):
                lo = pd.Timestamp(earlier[-warm:][0])
        in_range = bars[(bars["datetime"] >= lo) & (bars["datetime"] < hi)]
        if in_range.empty or (config.start and not (in_range["datetime"] >= pd.Timestamp(config.start)).any()):
            raise DataError("no bars between start and end", start=config.start, end=config.end,
                            data_span=f"{span[0]:%Y-%m-%d}..{span[1]:%Y-%m-%d}")
        bars = in_range
    bench = None
    if config.benchmark:
        b = bars[bars["symbol"] == config.benchmark]
        if b.empty:
            raise DataError("benchmark symbol has no bars in the data", benchmark=config.benchmark)
        bench = b.set_index("datetime")["close"].sort_index()
    if symbols:
        missing = sorted(set(symbols) - set(bars["symbol"].unique()))
        if missing:
            raise DataError("symbols not in the data", symbols=",".join(missing))
        universe = bars[bars["symbol"].isin(list(symbols))]
    else:
        # default universe: every tradable instrument in the file (indices are benchmarks, not trades)
        syms = [s for s in bars["symbol"].unique() if not parse_symbol(s).is_index]
        universe = bars[bars["symbol"].isin(syms)]
    if universe.empty:
        raise DataError("no tradable symbols in the data")
    return universe, bench


def prepare_market(universe: pd.DataFrame, config: MarketSettings) -> PreparedMarket:
    panel = BarPanel.from_frame(universe)
    rulebook = build_rulebook_for(config)
    fee_model = build_fee_model(config.fees, rulebook)
    lower = np.full(panel.shape, np.nan)
    upper = np.full(panel.shape, np.nan)
    days = panel.timestamps.astype("datetime64[D]")
    close = panel.fields["close"]
    # the band is a daily rule: every bar of a day gets the band of the previous trading day's close
    reference = day_preclose(panel.timestamps, close, panel.fields["preclose"])
    for col, sym in enumerate(panel.symbols):
        inst = parse_symbol(sym)
        listed = _days_listed(close[:, col], days)
        lo, hi = rulebook.rules_for(inst).limit_arrays(
            inst, days, reference[:, col], panel.fields["is_st"][:, col], listed)
        lower[:, col], upper[:, col] = lo, hi
    return PreparedMarket(panel, lower, upper, rulebook, fee_model, build_dividend_tax_for(config))


def build_dividend_tax_for(config: MarketSettings) -> DividendTax | None:
    """The account's dividend tax: investor type and rate tables (``rule_tables.dividend_tax`` and
    ``rule_tables.hk_security_kinds`` extend the bundled ones). None under ``rules = "none"``."""
    if config.rules == "none":
        return None
    t = config.rule_tables
    return DividendTax(getattr(config, "investor", "individual"),
                       tables=[t["dividend_tax"]] if "dividend_tax" in t else (),
                       kind_tables=[t["hk_security_kinds"]] if "hk_security_kinds" in t else ())


def build_rulebook_for(config: MarketSettings) -> RuleBook:
    """The rule book a config asks for: mode, commission overrides, and the user's extra tables
    (``rule_tables`` keys: ``cn_marginable``, ``hk_lots``, ``hk_short``)."""
    over: dict[str, object] = {}
    if config.commission_rate is not None:
        over["rate"] = config.commission_rate
    if config.commission_min is not None:
        over["minimum"] = config.commission_min
    basis = getattr(config, "commission_min_basis", None)
    if basis is not None and basis != CN_DEFAULT_COMMISSION.minimum_basis:
        over["minimum_basis"] = basis
    known = {"cn_marginable", "hk_lots", "hk_short", "dividend_tax", "hk_security_kinds"}
    unknown = set(config.rule_tables) - known
    if unknown:
        raise ConfigError(f"unknown rule table {sorted(unknown)[0]!r}; known: {', '.join(sorted(known))}")
    t = config.rule_tables
    return build_rulebook(
        config.rules,
        cn_commission=CommissionConfig(**{**CN_DEFAULT_COMMISSION.model_dump(), **over}) if over else None,
        hk_commission=CommissionConfig(**{**HK_DEFAULT_COMMISSION.model_dump(), **over}) if over else None,
        cn_marginable_tables=[t["cn_marginable"]] if "cn_marginable" in t else (),
        hk_lot_tables=[t["hk_lots"]] if "hk_lots" in t else (),
        hk_short_tables=[t["hk_short"]] if "hk_short" in t else (),
    )


def _days_listed(close: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Trading days since the symbol's first bar (1 = first day); -1 where unknown (it was already
    trading when the data starts, or has no bar)."""
    out = np.full(len(close), -1, dtype=np.int64)
    have = np.flatnonzero(np.isfinite(close))
    if len(have) == 0 or have[0] == 0:
        return out
    first = have[0]
    # count distinct days from the first bar on
    new_day = np.ones(len(days) - first, dtype=bool)
    new_day[1:] = days[first + 1:] != days[first:-1]
    out[first:] = np.cumsum(new_day)
    return out


