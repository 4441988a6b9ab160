"""What the rules say about one instrument, bound once for the order path.

The order path asks the same questions many times per order (the lot grid for the router, the risk check
and the venue; the tick for the risk check, the venue and the fill price; fees for the estimate, the
affordability check and the fill), each time through the rule book (instrument parsed, market looked up,
table rows found by key and date). :class:`InstrumentRules` binds the instrument and its market's rules;
a market may return a subclass that also keeps the rule-table rows it found, reused while the day asked
lies within the row's ``valid_from``..``valid_to`` (``ChinaRules.instrument_rules``). The generic class
forwards to :class:`MarketRules`, so it is exact for every market by construction; a subclass must give
the same answers and raise the same errors (``tests/engine/test_parity.py`` holds the engine to that).

:class:`InstrumentRulesCache` keeps one object per symbol for the engine and the venues, with the fee
function of the account's fee model; it forgets everything past its bound, so memory stays flat.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Callable

from nofx.domain.enums import Side
from nofx.domain.instruments import Instrument, parse_symbol

if TYPE_CHECKING:
    from nofx.markets.base import MarketRules
    from nofx.markets.fees import FeeModel
    from nofx.markets.rulebook import RuleBook

# total fee of one fill: (day, side, quantity, price, turnover already filled by the order that day) -> Decimal
FeeTotal = Callable[[date, Side, int, Decimal, Decimal], Decimal]


class InstrumentRules:
    """One instrument's rules on any day (generic: forwards to the market rules)."""

    __slots__ = ("inst", "rules", "symbol", "is_index", "fee_total", "_short_on", "_short", "_locked_on",
                 "_locked")

    def __init__(self, rules: MarketRules, inst: Instrument) -> None:
        self.rules = rules
        self.inst = inst
        self.symbol = inst.symbol
        self.is_index = inst.is_index
        self.fee_total: FeeTotal | None = None  # set by InstrumentRulesCache from the account's fee model
        self._short_on: date | None = None  # last day asked, and the answer (pure functions of the day)
        self._short = False
        self._locked_on: date | None = None
        self._locked = False

    # -- quantities ----------------------------------------------------------------------------
    def round_buy_quantity(self, on: date, quantity: int) -> int:
        return self.rules.round_buy_quantity(self.inst, on, quantity)

    def quantity_error(self, on: date, side: Side, quantity: int, holding: int) -> str | None:
        return self.rules.quantity_error(self.inst, on, side, quantity, holding)

    def min_buy_quantity(self, on: date) -> int:
        return self.rules.min_buy_quantity(self.inst, on)

    # -- prices --------------------------------------------------------------------------------
    def tick_size(self, on: date, price: Decimal) -> Decimal:
        return self.rules.tick_size(self.inst, on, price)

    def price_on_tick(self, on: date, price: Decimal) -> bool:
        return self.rules.price_on_tick(self.inst, on, price)

    def round_price_to_tick(self, on: date, price: Decimal, side: Side) -> Decimal:
        return self.rules.round_price_to_tick(self.inst, on, price, side)

    def fill_price(self, on: date, price: float, side: Side) -> Decimal:
        return self.rules.fill_price(self.inst, on, price, side)

    def market_fee_total(self) -> FeeTotal | None:
        """The market's own fees (``MarketRules.fees``, with ``MarketFees``' per-order commission minimum)
        as a fast total function, or ``None``: the fee model then asks ``MarketRules.fees``."""
        return None

    # -- settlement ----------------------------------------------------------------------------
    def sell_locked(self, on: date) -> bool:
        """T+1: shares bought on ``on`` cannot be sold that day."""
        if on != self._locked_on:
            self._locked = self.rules.sell_locked_until_next_day(self.inst, on)
            self._locked_on = on
        return self._locked

    def allows_short(self, on: date) -> bool:
        if on != self._short_on:
            self._short = self.rules.allows_short(self.inst, on)
            self._short_on = on
        return self._short


class InstrumentRulesCache:
    """``get(symbol)`` -> the :class:`InstrumentRules` of that symbol, with its fee function from
    ``fee_model`` (when given). Built on first use; everything is forgotten past ``bound`` symbols."""

    __slots__ = ("rulebook", "fee_model", "bound", "_map")

    def __init__(self, rulebook: RuleBook, fee_model: FeeModel | None = None, bound: int = 20_000) -> None:
        self.rulebook = rulebook
        self.fee_model = fee_model
        self.bound = bound
        self._map: dict[str, InstrumentRules] = {}

    def get(self, symbol: str) -> InstrumentRules:
        ir = self._map.get(symbol)
        if ir is None:
            inst = parse_symbol(symbol)  # raises InvalidSymbolError, as the order path always did
            ir = self.rulebook.rules_for(inst).instrument_rules(inst)  # ConfigError for a market it lacks
            if self.fee_model is not None:
                ir.fee_total = self.fee_model.instrument_fee_total(ir)
            if len(self._map) >= self.bound:
                self._map.clear()
            self._map[symbol] = ir
        return ir

    def __len__(self) -> int:
        return len(self._map)
