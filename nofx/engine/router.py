"""Routing: which venue gets an order, and how a large parent order is split into child orders.

A parent order's state is derived from its children (``OrderManager.derived_parent_status``). Child
sizing follows a TWAP schedule: equal lot-rounded slices released at even intervals over a window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from nofx.domain.enums import Side
from nofx.domain.instruments import Exchange, Instrument
from nofx.engine.venue import Venue
from nofx.markets.base import MarketRules
from nofx.markets.instrument_rules import InstrumentRules


class SplitConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_child_quantity: int | None = Field(default=None, gt=0)  # split orders above this size
    twap_slices: int = Field(default=1, ge=1)
    twap_window_seconds: float = Field(default=0.0, ge=0)


@dataclass(frozen=True, slots=True)
class ChildSpec:
    quantity: int
    release_at: datetime


def twap_schedule(quantity: int, lot: int, slices: int, start: datetime, window_seconds: float) -> list[ChildSpec]:
    """Split ``quantity`` into at most ``slices`` lot-multiples released evenly over the window.
    The last child takes the remainder (which may be an odd lot only if ``quantity`` itself is)."""
    lot = max(lot, 1)
    slices = max(1, min(slices, quantity // lot if quantity >= lot else 1))
    base = (quantity // slices) // lot * lot
    qtys = [base] * slices
    qtys[-1] = quantity - base * (slices - 1)
    step = window_seconds / slices if slices > 1 else 0.0
    return [ChildSpec(q, start + timedelta(seconds=step * k)) for k, q in enumerate(qtys) if q > 0]


class Router:
    def __init__(self, venues: dict[Exchange, Venue] | Venue, split: SplitConfig | None = None) -> None:
        self._venues = venues
        self._only = None if isinstance(venues, dict) else venues  # one venue for everything: no look-up
        self.split = split or SplitConfig()

    @property
    def splits(self) -> bool:
        return self.split.max_child_quantity is not None or self.split.twap_slices > 1

    def venue_for(self, inst: Instrument) -> Venue:
        if self._only is not None:
            return self._only
        return self._venues[inst.exchange]  # type: ignore[index]

    @staticmethod
    def round_quantity(rules: MarketRules, inst: Instrument, day: date, side: Side, quantity: int,
                       holding: int) -> int:
        """The largest valid order size <= ``quantity`` under the market's lot rules (0 if none):
        buys round down to the board lot (STAR: 200 minimum, then steps of 1); sells round down to the
        lot too, except that selling a whole holding (odd lot included) is always valid."""
        return Router.round_instrument_quantity(rules.instrument_rules(inst), day, side, quantity, holding)

    @staticmethod
    def round_instrument_quantity(rules: InstrumentRules, day: date, side: Side, quantity: int, holding: int) -> int:
        """:meth:`round_quantity` with the instrument's rules already bound."""
        if rules.quantity_error(day, side, quantity, holding) is None:
            return quantity
        if side is Side.SELL and 0 < holding <= quantity:
            return holding
        q = rules.round_buy_quantity(day, quantity)
        if side is Side.SELL and holding > 0:
            # an odd-lot remainder may go with whole lots: 250 held, 180 asked -> 150 (50 + 100)
            odd = holding - rules.round_buy_quantity(day, holding)
            if 0 < odd <= quantity:
                with_odd = rules.round_buy_quantity(day, quantity - odd) + odd
                if with_odd > q and rules.quantity_error(day, side, with_odd, holding) is None:
                    return with_odd
        while q > 0 and rules.quantity_error(day, side, q, holding) is not None:
            q = rules.round_buy_quantity(day, q - 1)
        return q

    def plan(self, inst: Instrument, quantity: int, lot: int, now: datetime) -> list[ChildSpec] | None:
        """Child orders for a parent, or ``None`` to send it whole."""
        s = self.split
        if s.max_child_quantity is None or quantity <= s.max_child_quantity:
            if s.twap_slices <= 1:
                return None
        slices = s.twap_slices
        if s.max_child_quantity is not None:
            slices = max(slices, -(-quantity // s.max_child_quantity))
        return twap_schedule(quantity, lot, slices, now, s.twap_window_seconds)
