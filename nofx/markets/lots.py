"""Order-size grids shared by the A-share and HK rules.

A grid is "at least ``minimum`` shares, then steps of ``step``": A-share main board (100, 100),
STAR (200, 1), Beijing SE (100, 1), an HK stock with a 500-share board lot (500, 500).

Our sell rule (one rule for every board, documented here because exchanges word it differently):
a sell of ``q`` shares out of a long holding ``h`` is valid when

1. ``q`` is on the grid (a valid buy size), or
2. ``q == h`` (selling the whole holding out, whatever its size), or
3. ``q`` sells the holding's whole *odd remainder* ``r`` plus a grid quantity (``q == r`` or
   ``q - r`` on the grid). ``r`` is ``h`` when ``h < minimum``, else ``(h - minimum) % step``.

So with 100-share lots and ``h = 250``: 50, 100, 150, 200 and 250 are valid, 30 or 120 are not
(SSE/SZSE: "the odd remainder must be sold in one order"). On STAR (200, 1) with ``h = 350``: any
``q >= 200`` or ``q == 350``; with ``h = 150`` only 150 (STAR: "a balance under 200 shares must be
sold in one order"). A sell beyond the long holding opens a short: allowed only if the market says so,
and the short part (``q - h``) must itself be on the grid. A buy of exactly a short position's size
(covering it) is always valid, so an odd short can be closed.
"""

from __future__ import annotations

from dataclasses import dataclass

from nofx.domain.enums import Side


@dataclass(frozen=True, slots=True)
class LotGrid:
    minimum: int
    step: int
    unit: str = "shares"  # only used in messages ("a board lot of 500 shares")

    def on_grid(self, quantity: int) -> bool:
        return quantity >= self.minimum and (quantity - self.minimum) % self.step == 0

    def round_down(self, quantity: int) -> int:
        """Largest grid quantity <= ``quantity``, 0 below the minimum."""
        if quantity < self.minimum:
            return 0
        return self.minimum + (quantity - self.minimum) // self.step * self.step

    def odd_remainder(self, holding: int) -> int:
        if holding <= 0:
            return 0
        if holding < self.minimum:
            return holding
        return (holding - self.minimum) % self.step

    def describe(self) -> str:
        if self.step == self.minimum:
            return f"a multiple of {self.step} shares"
        if self.step == 1:
            return f"at least {self.minimum} shares"
        return f"at least {self.minimum} shares in steps of {self.step}"

    def error(self, side: Side, quantity: int, holding: int, may_short: bool, short_note: str = "") -> str | None:
        """Why ``quantity`` is not a valid order size (see the module docstring), or ``None``."""
        if quantity <= 0:
            return f"quantity must be a positive number of shares, got {quantity}"
        if side is Side.BUY:
            if holding < 0 and quantity == -holding:
                return None  # covering a short exactly, odd size or not
            if self.on_grid(quantity):
                return None
            return f"buy quantity {quantity} is not valid: buys must be {self.describe()}"
        long = max(holding, 0)
        if quantity > long:
            short = quantity - long
            if not may_short:
                why = f" ({short_note})" if short_note else ""
                return (f"sell quantity {quantity} exceeds the holding of {long} shares; "
                        f"short selling is not allowed{why}")
            if not self.on_grid(short):
                return (f"short part of the sell ({short} shares beyond the holding of {long}) must be "
                        f"{self.describe()}")
            return None
        if self.on_grid(quantity) or quantity == long:
            return None
        odd = self.odd_remainder(long)
        if odd and quantity >= odd and (quantity == odd or self.on_grid(quantity - odd)):
            return None
        if odd:
            return (f"sell quantity {quantity} is not valid: sells must be {self.describe()}, or include the "
                    f"holding's whole odd remainder of {odd} shares (holding {long})")
        return f"sell quantity {quantity} is not valid: sells must be {self.describe()} or the whole holding ({long})"
