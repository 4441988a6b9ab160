"""Hong Kong (SEHK main board) rules read from ``tables/hk_*.csv``.

- T+0 trading (T+2 settlement): shares bought today may be sold today.
- No daily price limit (the volatility control mechanism is intraday and not modelled).
- Board lot per stock (``hk_board_lots.csv``, extendable with user CSVs); buys in whole lots; odd lots
  only to sell out a holding's odd remainder (see ``nofx.markets.lots``). In reality odd lots trade on
  a separate odd-lot market at worse prices: a simplification.
- Tick sizes from the spread table (``hk_spread_table.csv``).
- Continuous sessions 09:30-12:00 and 13:00-16:00 (pre-opening 09:00-09:30 and closing auction
  16:00-16:10 are not continuous sessions); calendar XHKG.
- Fees per side (``hk_fees.csv`` + :class:`CommissionConfig`, default 0.03% min HKD 3): stamp duty
  rounded UP to a whole HKD; SFC levy, AFRC levy and HKEX trading fee each rounded half up to the cent.
  The CCASS settlement fee and the pre-2023 HKD 0.50 trading tariff are broker charges, not modelled.
- Short selling only for designated securities (``hk_shortable.csv`` + user CSVs).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from datetime import date, time
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from functools import cache
from pathlib import Path

import numpy as np

from nofx.domain.enums import Side
from nofx.domain.errors import ConfigError, OrderError
from nofx.domain.fills import FeeBreakdown
from nofx.domain.instruments import Instrument, Market
from nofx.domain.money import CENT, ceil_to, round_cents, round_to_step
from nofx.markets.base import MarketRules, PriceLimits
from nofx.markets.fees import HK_DEFAULT_COMMISSION, CommissionConfig
from nofx.markets.lots import LotGrid
from nofx.markets.memo import DayMemo
from nofx.markets.tables import (
    OPEN_END,
    ChainedTables,
    EffectiveDatedTable,
    RuleNotFoundError,
    bundled_table_path,
    load_table,
    one_of,
    parse_decimal,
    parse_nonneg_decimal,
    parse_positive_int,
)

HK_SESSIONS: tuple[tuple[time, time], ...] = ((time(9, 30), time(12, 0)), (time(13, 0), time(16, 0)))
HK_CALENDAR = "XHKG"
BOARD_LOT_FILE = "hk_board_lots.csv"
_DOLLAR = Decimal(1)


def hk_key(symbol: str) -> str:
    """Canonical HK table key: the code as a number padded to 4 digits (``09988.HK`` -> ``9988.HK``)."""
    from nofx.domain.instruments import parse_symbol

    inst = parse_symbol(symbol)
    if inst.market is not Market.HK:
        raise ValueError(f"{symbol!r} is not a Hong Kong symbol")
    return f"{int(inst.code):04d}.HK"


def _lot_table(path: str | Path) -> EffectiveDatedTable:
    return load_table(path, name="HK board lot", key_columns={"symbol": hk_key},
                      value_columns={"board_lot": parse_positive_int}, require_valid_from=False)


def _short_table(path: str | Path) -> EffectiveDatedTable:
    return load_table(path, name="HK designated short-sell securities", key_columns={"symbol": hk_key},
                      value_columns={}, require_valid_from=False)


def load_board_lot_table(path: str | Path) -> EffectiveDatedTable:
    """Validate and load a user board-lot CSV (``symbol,valid_from,valid_to,board_lot[,note]``);
    pass the path (or several) to ``HongKongRules(lot_tables=...)``."""
    return _lot_table(path)


def load_shortable_table(path: str | Path) -> EffectiveDatedTable:
    """Validate and load a user designated-securities CSV (``symbol,valid_from,valid_to[,note]``)."""
    return _short_table(path)


@cache
def _bundled(filename: str) -> EffectiveDatedTable:
    """Bundled tables are immutable, so each is parsed once per process."""
    path = bundled_table_path(filename)
    if filename == BOARD_LOT_FILE:
        return _lot_table(path)
    if filename == "hk_shortable.csv":
        return _short_table(path)
    if filename == "hk_fees.csv":
        return load_table(path, name="HK fee",
                          key_columns={"component": one_of("stamp_duty", "sfc_levy", "afrc_levy", "trading_fee")},
                          value_columns={"rate": parse_nonneg_decimal, "rounding": one_of("up_dollar", "cent")})
    if filename == "hk_spread_table.csv":
        return load_table(path, name="HK spread", key_columns={"band": parse_positive_int},
                          value_columns={"from_price": parse_nonneg_decimal, "to_price": parse_decimal,
                                         "tick": parse_decimal})
    raise ConfigError(f"unknown HK table {filename}")  # pragma: no cover - programming error


def _spread_bands_uncached(on: date) -> tuple[tuple[Decimal, ...], tuple[Decimal, ...]]:
    """Upper edges and ticks of the bands in force on ``on``, sorted by price."""
    table = _bundled("hk_spread_table.csv")
    rows = sorted(table.rows_on(on), key=lambda r: r["from_price"])
    if not rows:
        raise RuleNotFoundError(f"no HK spread-table rows cover {on}", file=table.source)
    for lower, upper in zip(rows, rows[1:]):
        if lower["to_price"] != upper["from_price"]:
            raise ConfigError("HK spread-table bands must be contiguous", file=table.source, line=upper.line)
    return tuple(r["to_price"] for r in rows), tuple(r["tick"] for r in rows)


# process-wide (the bundled table is): the bands of the days being traded only
_SPREAD_BANDS: DayMemo[tuple[tuple[Decimal, ...], tuple[Decimal, ...]]] = DayMemo(_spread_bands_uncached)


def spread_tick(price: Decimal, on: date = OPEN_END) -> Decimal:
    """Tick at ``price``: the band ``(from_price, to_price]`` containing it (a price on an edge belongs
    to the lower band). Prices above the top band use its tick. ``on`` defaults to the latest rules."""
    edges, ticks = _SPREAD_BANDS((), on)
    return ticks[min(bisect_left(edges, price), len(ticks) - 1)]


def round_price_to_tick(price: Decimal, side: Side, on: date = OPEN_END) -> Decimal:
    """Round ``price`` onto the spread table: buys down, sells up (never a worse price than asked)."""
    tick = spread_tick(price, on)
    return round_to_step(price, tick, ROUND_FLOOR if side is Side.BUY else ROUND_CEILING)


class HongKongRules(MarketRules):
    """HK rules. ``commission`` is the broker commission; ``lot_tables`` and ``short_tables`` are user
    CSV paths asked before the bundled board-lot and designated-securities tables."""

    name = "hk"

    def __init__(
        self,
        commission: CommissionConfig | None = None,
        lot_tables: Sequence[str | Path] = (),
        short_tables: Sequence[str | Path] = (),
    ) -> None:
        self.commission = commission if commission is not None else HK_DEFAULT_COMMISSION
        self._lots = ChainedTables([_lot_table(p) for p in lot_tables] + [_bundled(BOARD_LOT_FILE)])
        self._shortable = ChainedTables([_short_table(p) for p in short_tables] + [_bundled("hk_shortable.csv")])
        self._fees = _bundled("hk_fees.csv")
        # the answers of the days being traded only (a size-bounded cache grew with the run: issue 9)
        self._grid_memo: DayMemo[LotGrid] = DayMemo(self._grid_uncached)
        self._fee_rates_memo: DayMemo[tuple[tuple[Decimal, str], ...]] = DayMemo(self._fee_rates_uncached)

    # --- quantities -------------------------------------------------------------------------------
    def board_lot(self, inst: Instrument, on: date) -> int:
        return self._grid_memo((inst.symbol,), on).step

    def _grid_uncached(self, symbol: str, on: date) -> LotGrid:
        try:
            key = hk_key(symbol)
        except ValueError:
            raise ConfigError(f"Hong Kong rules asked about a non-HK symbol {symbol}", symbol=symbol) from None
        row = self._lots.find(key, on=on)
        if row is None:
            raise ConfigError(
                f"no board lot known for {symbol} on {on}: add a row 'symbol,valid_from,valid_to,board_lot' "
                f"to {bundled_table_path(BOARD_LOT_FILE)} or to your own CSV passed as "
                f"HongKongRules(lot_tables=[...])",
                symbol=symbol, file=str(bundled_table_path(BOARD_LOT_FILE)),
            )
        lot = row["board_lot"]
        return LotGrid(lot, lot)

    def round_buy_quantity(self, inst: Instrument, on: date, quantity: int) -> int:
        return self._grid_memo((inst.symbol,), on).round_down(quantity)

    def quantity_error(self, inst: Instrument, on: date, side: Side, quantity: int, holding: int) -> str | None:
        grid = self._grid_memo((inst.symbol,), on)
        may_short, note = False, ""
        if side is Side.SELL and quantity > max(holding, 0):  # only then is shorting asked (and explained)
            may_short = self.allows_short(inst, on)
            note = "" if may_short else f"{inst.symbol} is not a designated short-sell security on {on}"
        err = grid.error(side, quantity, holding, may_short, note)
        if err is not None:
            err = f"{err} (board lot {grid.step})"
        return err

    # --- prices -----------------------------------------------------------------------------------
    def price_limits(
        self, inst: Instrument, on: date, preclose: Decimal, is_st: bool, days_listed: int | None
    ) -> PriceLimits | None:
        return None

    def limit_arrays(
        self, inst: Instrument, dates: np.ndarray, preclose: np.ndarray, is_st: np.ndarray, days_listed: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        return np.full(len(dates), np.nan), np.full(len(dates), np.nan)

    def tick_size(self, inst: Instrument, on: date, price: Decimal) -> Decimal:
        return spread_tick(price, on)

    # --- settlement and sessions ------------------------------------------------------------------
    def sell_locked_until_next_day(self, inst: Instrument, on: date) -> bool:
        return False

    def allows_short(self, inst: Instrument, on: date) -> bool:
        if inst.market is not Market.HK:
            return False
        return self._shortable.find(hk_key(inst.symbol), on=on) is not None

    def sessions(self, inst: Instrument, on: date) -> tuple[tuple[time, time], ...]:
        return HK_SESSIONS

    def calendar_name(self, inst: Instrument) -> str | None:
        return HK_CALENDAR

    # --- fees -------------------------------------------------------------------------------------
    def _fee_rates_uncached(self, on: date) -> tuple[tuple[Decimal, str], ...]:
        """(rate, rounding) of stamp duty, SFC levy, AFRC levy and trading fee on ``on``."""
        rows = (self._fees.lookup(c, on=on) for c in ("stamp_duty", "sfc_levy", "afrc_levy", "trading_fee"))
        return tuple((row["rate"], row["rounding"]) for row in rows)

    def fees(self, inst: Instrument, on: date, side: Side, quantity: int, price: Decimal) -> FeeBreakdown:
        if inst.market is not Market.HK:
            raise ConfigError(f"HK rules asked about a non-HK symbol {inst.symbol}", symbol=inst.symbol)
        if quantity <= 0 or price <= 0:
            raise OrderError("fees need a positive quantity and price (a bar with a non-positive price?)",
                             symbol=inst.symbol, day=on, quantity=quantity, price=price)
        turnover = price * quantity
        stamp, sfc, afrc, trading = (_charge(turnover, rate, rounding) for rate, rounding in self._fee_rates_memo((), on))
        # Each levy is charged (and rounded) on its own, then reported together as ``levies``.
        return FeeBreakdown(
            commission=self.commission.charge(turnover),
            stamp_duty=stamp,
            levies=sfc + afrc,
            trading_fee=trading,
        )


def _charge(turnover: Decimal, rate: Decimal, rounding: str) -> Decimal:
    amount = turnover * rate
    if rounding == "up_dollar":
        return ceil_to(amount, _DOLLAR).quantize(CENT)
    return round_cents(amount)
