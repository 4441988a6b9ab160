"""A-share rules of one instrument (:class:`ChinaInstrumentRules`), for the order path.

Same answers as :class:`~nofx.markets.cn.ChinaRules` and the same errors, raised at the same point. The
lot, tick and fee rows are looked up in the same effective-dated tables, then kept with the dates they
hold for (``valid_from``..``valid_to``): a later day inside that span needs no look-up.

Fees are computed in integers: a price is the exact fraction ``n/d`` (``Decimal.as_integer_ratio``), a
rate likewise, and each component is rounded half up to whole cents with one integer division; the total
becomes a ``Decimal`` of cents only at the end (the ledger's type). That is what the ``Decimal`` path
computes whenever its products are exact (below 28 significant digits); inputs beyond the fast path's
bounds are sent through the ``Decimal`` path itself.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_DOWN, ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from nofx.domain.enums import Side
from nofx.domain.errors import OrderError
from nofx.domain.instruments import Instrument, SecurityType
from nofx.domain.money import ZERO
from nofx.markets.instrument_rules import FeeTotal, InstrumentRules
from nofx.markets.lots import LotGrid

if TYPE_CHECKING:
    from nofx.markets.cn import ChinaRules

_BUY = Side.BUY
_SELL = Side.SELL
_BIG = 10**15  # fast fee path bound on a price's numerator and a quantity (products stay far below 28 digits)
_RATE_DIGITS = 12  # rates / minimums with more significant digits go through the Decimal path
_NEVER = (date.max, date.min)  # an empty span: nothing cached yet


def _cents(num: int, den: int) -> int:
    """``num/den`` (>= 0) rounded half up to a whole number of cents."""
    return (200 * num + den) // (2 * den)


def _short_digits(*xs: Decimal) -> bool:
    return all(len(x.as_tuple().digits) <= _RATE_DIGITS for x in xs)


class _FeeRows:
    """The day's stamp duty and transfer fee as integer fractions, and who pays them."""

    __slots__ = ("s_num", "s_den", "s_buy", "s_sell", "t_num", "t_den", "t_buy", "t_sell")


class ChinaInstrumentRules(InstrumentRules):
    __slots__ = ("_board", "_security", "_stock", "_grid", "_grid_span", "_tick", "_tick_span", "_fees",
                 "_fees_span", "_c_num", "_c_den", "_min_cents", "_per_fill", "_fast_fees")

    def __init__(self, rules: ChinaRules, inst: Instrument) -> None:
        super().__init__(rules, inst)
        self._board = inst.board.value
        self._stock = inst.security_type is not SecurityType.FUND
        self._security = "stock" if self._stock else "fund"  # cn._security
        self._grid: LotGrid | None = None
        self._grid_span = _NEVER
        self._tick: Decimal | None = None
        self._tick_span = _NEVER
        self._fees: _FeeRows | None = None
        self._fees_span = _NEVER
        c = rules.commission
        self._c_num, self._c_den = c.rate.as_integer_ratio()
        self._min_cents = _cents(*c.minimum.as_integer_ratio())
        self._per_fill = c.minimum_basis == "per_fill"
        self._fast_fees = _short_digits(c.rate, c.minimum)

    # -- rows, reused within their validity ------------------------------------------------------------
    def _lots(self, on: date) -> LotGrid:
        lo, hi = self._grid_span
        if lo <= on <= hi:
            return self._grid  # type: ignore[return-value]
        row = self.rules._lots.lookup(self._board, on=on)  # type: ignore[attr-defined]
        grid = self._grid = LotGrid(row["min_buy"], row["buy_step"])  # as ChinaRules._grid builds it
        self._grid_span = (row.valid_from, row.valid_to)
        return grid

    def tick_size(self, on: date, price: Decimal) -> Decimal:
        """The tick of the instrument's security type on ``on`` (any price)."""
        lo, hi = self._tick_span
        if lo <= on <= hi:
            return self._tick  # type: ignore[return-value]
        row = self.rules._ticks.lookup(self._security, on=on)  # type: ignore[attr-defined]
        tick = self._tick = row["tick"]
        self._tick_span = (row.valid_from, row.valid_to)
        return tick

    def _fee_rows(self, on: date) -> _FeeRows:
        lo, hi = self._fees_span
        if lo <= on <= hi:
            return self._fees  # type: ignore[return-value]
        table = self.rules._fees  # type: ignore[attr-defined]
        stamp = table.lookup("stamp_duty", on=on)  # the look-ups (and errors) of ChinaRules._fee_rates
        transfer = table.lookup("transfer_fee", on=on)
        r = _FeeRows()
        r.s_num, r.s_den = stamp["rate"].as_integer_ratio()
        r.s_buy, r.s_sell = stamp["side"] in ("both", "buy"), stamp["side"] in ("both", "sell")
        r.t_num, r.t_den = transfer["rate"].as_integer_ratio()
        r.t_buy, r.t_sell = transfer["side"] in ("both", "buy"), transfer["side"] in ("both", "sell")
        if not _short_digits(stamp["rate"], transfer["rate"]):
            self._fast_fees = False
        self._fees = r
        self._fees_span = (max(stamp.valid_from, transfer.valid_from), min(stamp.valid_to, transfer.valid_to))
        return r

    # -- quantities (ChinaRules.round_buy_quantity / quantity_error) ----------------------------------
    def round_buy_quantity(self, on: date, quantity: int) -> int:
        if self.is_index:
            return 0
        return self._lots(on).round_down(quantity)

    def quantity_error(self, on: date, side: Side, quantity: int, holding: int) -> str | None:
        if self.is_index:
            return f"{self.symbol} is an index, not a tradable security"
        grid = self._lots(on)
        may_short, note = False, ""
        if side is _SELL and quantity > max(holding, 0):  # only then is shorting asked (and explained)
            may_short = self.allows_short(on)
            note = "" if may_short else f"{self.symbol} is not in the marginable securities table on {on}"
        return grid.error(side, quantity, holding, may_short, note)

    # -- prices (MarketRules.price_on_tick / fill_price with the instrument's tick) ----------------------
    def price_on_tick(self, on: date, price: Decimal) -> bool:
        return price > 0 and price % self.tick_size(on, price) == 0

    def fill_price(self, on: date, price: float, side: Side) -> Decimal:
        px = Decimal(repr(round(float(price), 6)))
        tick = self.tick_size(on, px)
        steps = (px / tick).to_integral_value(rounding=ROUND_HALF_UP if side is _BUY else ROUND_HALF_DOWN)
        return (steps * tick).quantize(tick) if steps > 0 else tick

    # -- fees (ChinaRules.fees + MarketFees.fill_fees, summed) -------------------------------------------
    def market_fee_total(self) -> FeeTotal | None:
        return self._fee_total

    def _decimal_total(self, on: date, side: Side, quantity: int, price: Decimal, prior: Decimal) -> Decimal:
        """The Decimal path, as MarketFees.fill_fees computes it."""
        rules: ChinaRules = self.rules  # type: ignore[assignment]
        full = rules.fees(self.inst, on, side, quantity, price)
        commission = full.commission
        if prior > 0:
            commission = rules.commission.charge_fill(price * quantity, prior)
        return commission + full.stamp_duty + full.transfer_fee + full.levies + full.trading_fee

    def _fee_total(self, on: date, side: Side, quantity: int, price: Decimal, prior_turnover: Decimal = ZERO
                   ) -> Decimal:
        if self.is_index or not self._fast_fees:
            return self._decimal_total(on, side, quantity, price, prior_turnover)  # its errors, its way
        if quantity <= 0 or price <= 0:  # ChinaRules.fees' check, before its table look-up
            raise OrderError("fees need a positive quantity and price (a bar with a non-positive price?)",
                             symbol=self.symbol, day=on, quantity=quantity, price=price)
        r = self._fee_rows(on) if self._stock else None
        n, d = price.as_integer_ratio()
        if n >= _BIG or quantity >= _BIG or not self._fast_fees:
            return self._decimal_total(on, side, quantity, price, prior_turnover)
        tn = n * quantity  # turnover = tn / d, exactly
        c_num, c_den, floor = self._c_num, self._c_den, self._min_cents
        if prior_turnover > 0 and not self._per_fill:
            # per-order minimum: this fill pays what the order-day's commission grows by
            pn, pd = prior_turnover.as_integer_ratio()
            before = _cents(pn * c_num, pd * c_den)
            after = _cents((pn * d + tn * pd) * c_num, pd * d * c_den)
            cents = (after if after > floor else floor) - (before if before > floor else floor)
        else:
            cents = _cents(tn * c_num, d * c_den)
            if cents < floor:
                cents = floor
        if r is not None:
            if r.s_sell if side is _SELL else r.s_buy:
                cents += _cents(tn * r.s_num, d * r.s_den)
            if r.t_sell if side is _SELL else r.t_buy:
                cents += _cents(tn * r.t_num, d * r.t_den)
        return Decimal(cents).scaleb(-2)
