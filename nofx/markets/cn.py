"""China A-share rules (SSE, SZSE, BSE) read from the effective-dated tables in ``tables/cn_*.csv``.

- Lots (``cn_lots.csv``): main board and ChiNext 100-share lots; STAR 200 then steps of 1; BSE 100
  then steps of 1. Odd lots only when selling out a holding's odd remainder (see ``nofx.markets.lots``).
- Price limits (``cn_price_limits.csv``, ``cn_listing_limits.csv``): ``preclose * (1 +/- pct)`` rounded
  half up to 0.01; new-listing exceptions (no limit for the first N days, or the old +44%/-36% day-1
  band). The new-listing rows are chosen by the *trading* date, so a stock that listed a few days
  before a reform date is treated by the new rule on its remaining early days (a known approximation:
  we are given ``days_listed``, not the listing date).
- Fees (``cn_fees.csv`` + :class:`CommissionConfig`): commission with a minimum, stamp duty on sells,
  transfer fee on both sides; each component rounded half up to the cent.
- Ticks (``cn_tick_sizes.csv``): 0.01 for shares, 0.001 for exchange-traded funds; limit prices are
  rounded to the tick. Funds (``Board.FUND``) pay no stamp duty and no transfer fee (commission only).
- T+1, continuous sessions 09:30-11:30 and 13:00-15:00 (the opening call auction runs
  09:15-09:25 and the SZSE/SSE closing call auction 14:57-15:00; neither is a continuous session).
- Short selling only for symbols in the marginable-securities table(s).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, time
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from functools import cache
from pathlib import Path

import numpy as np

from nofx.domain.enums import Side
from nofx.domain.errors import ConfigError, OrderError
from nofx.domain.fills import FeeBreakdown
from nofx.domain.instruments import Instrument, Market, SecurityType
from nofx.domain.money import round_cents
from nofx.markets.base import MarketRules, PriceLimits
from nofx.markets.instrument_rules import InstrumentRules
from nofx.markets.fees import CN_DEFAULT_COMMISSION, CommissionConfig
from nofx.markets.lots import LotGrid
from nofx.markets.memo import DayMemo
from nofx.markets.tables import (
    ChainedTables,
    EffectiveDatedTable,
    TableRow,
    bundled_table_path,
    load_table,
    one_of,
    parse_decimal,
    parse_flag,
    parse_nonneg_decimal,
    parse_nonneg_int,
    parse_positive_int,
)

CN_SESSIONS: tuple[tuple[time, time], ...] = ((time(9, 30), time(11, 30)), (time(13, 0), time(15, 0)))
CN_OPENING_AUCTION = (time(9, 15), time(9, 25))  # documented; not a continuous session
CN_CALENDAR = "XSHG"  # SZSE and BSE follow the same holidays

_BOARDS = ("sse_main", "szse_main", "chinext", "star", "bse", "fund")
_SECURITIES = ("stock", "fund")
_BP = Decimal(10000)  # basis points per unit: the vectorised limits work in integer basis points


def _symbol(text: str) -> str:
    # Deferred import keeps parse errors typed; table symbols are normalised like user input.
    from nofx.domain.instruments import parse_symbol

    inst = parse_symbol(text)
    if inst.market is not Market.CN:
        raise ValueError(f"{text!r} is not an A-share symbol")
    return inst.symbol


@cache
def _bundled(filename: str) -> EffectiveDatedTable:
    """Bundled tables are immutable, so each is parsed once per process."""
    return _load(bundled_table_path(filename), filename)


def _load(path: Path, kind: str) -> EffectiveDatedTable:
    if kind == "cn_lots.csv":
        return load_table(path, name="A-share lot", key_columns={"board": one_of(*_BOARDS)},
                          value_columns={"min_buy": parse_positive_int, "buy_step": parse_positive_int})
    if kind == "cn_price_limits.csv":
        return load_table(path, name="A-share price limit",
                          key_columns={"board": one_of(*_BOARDS), "is_st": parse_flag},
                          value_columns={"limit_pct": _parse_pct})
    if kind == "cn_listing_limits.csv":
        return load_table(path, name="A-share new-listing limit", key_columns={"board": one_of(*_BOARDS)},
                          value_columns={"free_days": parse_nonneg_int, "first_day_up": _parse_optional_pct,
                                         "first_day_down": _parse_optional_pct})
    if kind == "cn_fees.csv":
        return load_table(path, name="A-share fee",
                          key_columns={"component": one_of("stamp_duty", "transfer_fee")},
                          value_columns={"rate": parse_nonneg_decimal, "side": one_of("buy", "sell", "both")})
    if kind == "cn_marginable.csv":
        return load_marginable_table(path)
    if kind == "cn_tick_sizes.csv":
        return load_table(path, name="A-share tick size", key_columns={"security": one_of(*_SECURITIES)},
                          value_columns={"tick": _parse_tick})
    raise ConfigError(f"unknown A-share table {kind}")  # pragma: no cover - programming error


def _parse_pct(text: str) -> Decimal:
    value = parse_decimal(text)
    if not Decimal(0) <= value < 1:
        raise ValueError(f"a limit must be a fraction in [0, 1): {text!r}")
    if (value * _BP) != (value * _BP).to_integral_value():
        raise ValueError(f"a limit must be a whole number of basis points: {text!r}")
    return value


def _parse_tick(text: str) -> Decimal:
    value = parse_decimal(text)
    if value <= 0 or (value * 10**8) != (value * 10**8).to_integral_value():
        raise ValueError(f"a tick must be positive with at most 8 decimals: {text!r}")
    return value


def _parse_optional_pct(text: str) -> Decimal | None:
    return None if text == "" else _parse_pct(text)


def load_marginable_table(path: str | Path) -> EffectiveDatedTable:
    """A user CSV of A-share symbols that may be sold short: ``symbol,valid_from,valid_to[,note]``."""
    return load_table(path, name="A-share marginable securities", key_columns={"symbol": _symbol},
                      value_columns={})


class ChinaRules(MarketRules):
    """A-share rules. ``commission`` is the account's broker commission; ``marginable_tables`` are the
    user's CSV files of short-sellable (securities-lending) symbols. Without one, nothing may be sold
    short: a short sale needs a margin account, so it is opt-in. The bundled ``cn_marginable.csv`` is an
    example of the format (pass ``include_example_marginable=True`` to use it)."""

    name = "cn"

    def __init__(
        self,
        commission: CommissionConfig | None = None,
        marginable_tables: Sequence[str | Path] = (),
        include_example_marginable: bool = False,
    ) -> None:
        self.commission = commission if commission is not None else CN_DEFAULT_COMMISSION
        self._lots = _bundled("cn_lots.csv")
        self._limits = _bundled("cn_price_limits.csv")
        self._listing = _bundled("cn_listing_limits.csv")
        self._fees = _bundled("cn_fees.csv")
        self._ticks = _bundled("cn_tick_sizes.csv")
        self._marginable = ChainedTables(
            [load_marginable_table(p) for p in marginable_tables]
            + ([_bundled("cn_marginable.csv")] if include_example_marginable else [])
        )
        # the answers of the days being traded only (a size-bounded cache grew with the run: issue 9)
        self._grid_memo: DayMemo[LotGrid] = DayMemo(self._grid_uncached)
        self._fee_rates_memo: DayMemo[tuple[tuple[Decimal, str], tuple[Decimal, str]]] = DayMemo(
            self._fee_rates_uncached)

    def instrument_rules(self, inst: Instrument) -> InstrumentRules:
        """``inst``'s rows kept while they hold (:class:`~nofx.markets.cn_instrument.ChinaInstrumentRules`);
        a subclass, which may change an answer, gets the generic forwarding object instead."""
        if type(self) is not ChinaRules:
            return super().instrument_rules(inst)
        from nofx.markets.cn_instrument import ChinaInstrumentRules  # it builds on this module

        return ChinaInstrumentRules(self, inst)

    # --- quantities -------------------------------------------------------------------------------
    def _grid_uncached(self, board: str, on: date) -> LotGrid:
        row = self._lots.lookup(board, on=on)
        return LotGrid(row["min_buy"], row["buy_step"])

    def lot_grid(self, inst: Instrument, on: date) -> LotGrid:
        _require_stock(inst)
        return self._grid_memo((inst.board.value,), on)

    def round_buy_quantity(self, inst: Instrument, on: date, quantity: int) -> int:
        if inst.is_index:
            return 0
        return self._grid_memo((inst.board.value,), on).round_down(quantity)

    def quantity_error(self, inst: Instrument, on: date, side: Side, quantity: int, holding: int) -> str | None:
        if inst.is_index:
            return f"{inst.symbol} is an index, not a tradable security"
        grid = self._grid_memo((inst.board.value,), on)
        may_short, note = False, ""
        if side is Side.SELL and quantity > max(holding, 0):  # only then is shorting asked (and explained)
            may_short = self.allows_short(inst, on)
            note = "" if may_short else f"{inst.symbol} is not in the marginable securities table on {on}"
        return grid.error(side, quantity, holding, may_short, note)

    # --- prices -----------------------------------------------------------------------------------
    def _listing_row(self, board: str, on: date) -> TableRow:
        return self._listing.lookup(board, on=on)

    def price_limits(
        self, inst: Instrument, on: date, preclose: Decimal, is_st: bool, days_listed: int | None
    ) -> PriceLimits | None:
        """``None`` for indices, for a non-positive preclose (no reference price) and in the
        no-limit days of a new listing; ``days_listed=None`` (unknown) means a seasoned stock."""
        if inst.is_index or preclose <= 0:
            return None
        board = inst.board.value
        tick = self.tick_size(inst, on, preclose)
        if days_listed is not None:
            row = self._listing_row(board, on)
            if days_listed <= row["free_days"]:
                return None
            if days_listed == 1 and row["first_day_up"] is not None:
                return _band(preclose, row["first_day_up"], row["first_day_down"], tick)
        pct = self._limits.lookup(board, bool(is_st), on=on)["limit_pct"]
        return _band(preclose, pct, pct, tick)

    def limit_arrays(
        self,
        inst: Instrument,
        dates: np.ndarray,
        preclose: np.ndarray,
        is_st: np.ndarray,
        days_listed: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Array version of :meth:`price_limits`, exact to the cent: preclose is taken as its shortest
        decimal form (as ``Decimal(repr(x))``), scaled to integer micro-units, and the band is computed
        in integers with half-up rounding. Rows whose preclose has more than 6 decimals fall back to
        the scalar method."""
        n = len(dates)
        lo = np.full(n, np.nan)
        hi = np.full(n, np.nan)
        if inst.is_index or n == 0:
            return lo, hi
        board = inst.board.value
        d = np.asarray(dates).astype("datetime64[D]")
        pc = np.asarray(preclose, dtype=np.float64)
        st = np.asarray(is_st).astype(bool)
        dl = np.asarray(days_listed).astype(np.int64)
        valid = np.isfinite(pc) & (pc > 0) & ~np.isnat(d)  # no reference price or no date: no band

        up_bp = np.zeros(n, dtype=np.int64)
        down_bp = np.zeros(n, dtype=np.int64)
        for flag in (False, True):
            sel = np.flatnonzero(valid & (st == flag))
            if sel.size == 0:
                continue
            rows = self._limits.rows(board, flag)
            idx, ok = self._limits.row_index(board, flag, dates=d[sel])
            _raise_uncovered(self._limits, (board, flag), d[sel], ok)
            bp = np.array([int(r["limit_pct"] * _BP) for r in rows], dtype=np.int64)
            up_bp[sel] = bp[idx]
            down_bp[sel] = bp[idx]

        limited = valid.copy()
        sel = np.flatnonzero(valid & (dl >= 0))
        if sel.size:
            rows = self._listing.rows(board)
            idx, ok = self._listing.row_index(board, dates=d[sel])
            _raise_uncovered(self._listing, (board,), d[sel], ok)
            free = np.array([r["free_days"] for r in rows], dtype=np.int64)[idx]
            has_first = np.array([r["first_day_up"] is not None for r in rows], dtype=bool)[idx]
            f_up = np.array([int((r["first_day_up"] or 0) * _BP) for r in rows], dtype=np.int64)[idx]
            f_dn = np.array([int((r["first_day_down"] or 0) * _BP) for r in rows], dtype=np.int64)[idx]
            days = dl[sel]
            free_now = days <= free
            limited[sel[free_now]] = False
            first = ~free_now & (days == 1) & has_first
            up_bp[sel[first]] = f_up[first]
            down_bp[sel[first]] = f_dn[first]

        # Exact integer arithmetic: micro-units of preclose times (1 +/- bp/10000), back to whole ticks
        # (half up), then ticks to a price as num/den (one correctly rounded division).
        num, den = self._tick_fractions(inst, d, limited)
        with np.errstate(invalid="ignore", over="ignore"):
            micro = np.round(np.where(limited, pc, 0.0) * 1e6)
            exact = limited & (micro / 1e6 == pc) & (pc < 1e8)
        m = micro.astype(np.int64)
        # 1e6 micro-units per unit * 1e4 basis points * tick (= num/den, at most 8 decimals, so den
        # divides 1e10 * num): 1e8 for a 0.01 tick, 1e7 for 0.001
        denom = 10_000_000_000 * num // den
        hi_t = (m * (10_000 + up_bp) + denom // 2) // denom
        lo_t = (m * (10_000 - down_bp) + denom // 2) // denom
        hi[exact] = (hi_t * num)[exact] / den[exact]
        lo[exact] = (lo_t * num)[exact] / den[exact]
        for k in np.flatnonzero(limited & ~exact):  # rare: preclose with more than 6 decimals
            dl_k = None if dl[k] < 0 else int(dl[k])
            lim = self.price_limits(inst, d[k].item(), Decimal(repr(float(pc[k]))), bool(st[k]), dl_k)
            if lim is not None:
                lo[k], hi[k] = float(lim.lower), float(lim.upper)
        return lo, hi

    def tick_size(self, inst: Instrument, on: date, price: Decimal) -> Decimal:
        """The step of ``cn_tick_sizes.csv`` for the instrument's security type on ``on`` (any price)."""
        return self._ticks.lookup(_security(inst), on=on)["tick"]

    def _tick_fractions(self, inst: Instrument, days: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Tick of each date as an integer fraction ``num/den`` (1 where ``rows`` is False)."""
        num = np.ones(len(days), dtype=np.int64)
        den = np.ones(len(days), dtype=np.int64)
        sel = np.flatnonzero(rows)
        if sel.size:
            key = (_security(inst),)
            idx, ok = self._ticks.row_index(*key, dates=days[sel])
            _raise_uncovered(self._ticks, key, days[sel], ok)
            fr = [Fraction(r["tick"]) for r in self._ticks.rows(*key)]
            num[sel] = np.array([f.numerator for f in fr], dtype=np.int64)[idx]
            den[sel] = np.array([f.denominator for f in fr], dtype=np.int64)[idx]
        return num, den

    # --- settlement and sessions ------------------------------------------------------------------
    def sell_locked_until_next_day(self, inst: Instrument, on: date) -> bool:
        return True

    def allows_short(self, inst: Instrument, on: date) -> bool:
        if inst.is_index:
            return False
        return self._marginable.find(inst.symbol, on=on) is not None

    def sessions(self, inst: Instrument, on: date) -> tuple[tuple[time, time], ...]:
        return CN_SESSIONS

    def calendar_name(self, inst: Instrument) -> str | None:
        return CN_CALENDAR

    # --- fees -------------------------------------------------------------------------------------
    def _fee_rates_uncached(self, on: date) -> tuple[tuple[Decimal, str], tuple[Decimal, str]]:
        stamp = self._fees.lookup("stamp_duty", on=on)
        transfer = self._fees.lookup("transfer_fee", on=on)
        return (stamp["rate"], stamp["side"]), (transfer["rate"], transfer["side"])

    def fees(self, inst: Instrument, on: date, side: Side, quantity: int, price: Decimal) -> FeeBreakdown:
        _require_stock(inst)
        if quantity <= 0 or price <= 0:
            raise OrderError("fees need a positive quantity and price (a bar with a non-positive price?)",
                             symbol=inst.symbol, day=on, quantity=quantity, price=price)
        turnover = price * quantity
        if inst.security_type is SecurityType.FUND:
            # funds are not stocks: no securities stamp duty and no share transfer fee (commission only)
            return FeeBreakdown(commission=self.commission.charge(turnover))
        (stamp_rate, stamp_side), (transfer_rate, transfer_side) = self._fee_rates_memo((), on)
        return FeeBreakdown(
            commission=self.commission.charge(turnover),
            stamp_duty=_charged(turnover, stamp_rate, stamp_side, side),
            transfer_fee=_charged(turnover, transfer_rate, transfer_side, side),
        )


def _charged(turnover: Decimal, rate: Decimal, payer: str, side: Side) -> Decimal:
    if payer != "both" and payer != side.value:
        return Decimal("0.00")
    return round_cents(turnover * rate)


def _band(preclose: Decimal, up: Decimal, down: Decimal, tick: Decimal) -> PriceLimits:
    def on_tick(x: Decimal) -> Decimal:
        return ((x / tick).to_integral_value(rounding=ROUND_HALF_UP) * tick).quantize(tick)

    return PriceLimits(lower=on_tick(preclose * (1 - down)), upper=on_tick(preclose * (1 + up)))


def _security(inst: Instrument) -> str:
    return "fund" if inst.security_type is SecurityType.FUND else "stock"


def _require_stock(inst: Instrument) -> None:
    if inst.is_index:
        raise OrderError(f"{inst.symbol} is an index, not a tradable security", symbol=inst.symbol)
    if inst.market is not Market.CN:
        raise ConfigError(f"A-share rules asked about a non A-share symbol {inst.symbol}", symbol=inst.symbol)


def _raise_uncovered(table: EffectiveDatedTable, key: tuple[object, ...], dates: np.ndarray, ok: np.ndarray) -> None:
    """Raise exactly what the scalar lookup raises, for the first date no row covers."""
    if not ok.all():
        first = dates[np.flatnonzero(~ok)[0]].item()
        table.lookup(*key, on=first)
