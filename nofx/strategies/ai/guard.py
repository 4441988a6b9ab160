"""Contamination guard: an LLM may remember 2019-2021 prices and news. With the guard on, everything the
model sees names symbols by stable aliases (``S01``...), dates by day offsets from the run's first day
(``day 57``), prices rescaled per symbol (the first visible close becomes 100) and money (cash, equity,
position values, money limits and amounts in the reasons it is shown) rescaled by one factor per run,
so that the first cycle's equity is a keyed, unround amount (between 150,000 and 250,000). The engine
maps the model's decisions back (alias -> symbol; limit, stop and take-profit prices / scale, then onto
the tick grid) before any limit or order sees them.

Quantities stay real shares (board lots are real). Because prices are rescaled per symbol and money by
one factor, ``quantity x shown price`` is not the shown value of a position: size with
``target_weight`` (a fraction of equity, scale-free) under the guard. Volumes and percentages are
unchanged. A price with no scale yet (a symbol not seen trading) is not shown at all.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Mapping, Sequence

import numpy as np

_SIG = Decimal("0.0001")


def money_target(seed: int) -> float:
    """What the first cycle's equity is shown as: keyed by the guard seed, never a round amount."""
    h = int(hashlib.sha256(f"money:{seed}".encode()).hexdigest()[:12], 16)
    return round(150_000 + (h % 10_000_000) / 100, 2) + 0.37


@dataclass(frozen=True, slots=True)
class ContaminationGuard:
    alias_of: Mapping[str, str]  # real symbol -> alias
    symbol_of: Mapping[str, str]  # alias -> real symbol
    scale: Mapping[str, float]  # real symbol -> model price / real price
    origin: date  # shown as "day 0"
    money: float = 1.0  # model money / real money
    _vec: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def build(cls, symbols: Sequence[str], first_close: Mapping[str, float], origin: date,
              seed: int = 0, money: float = 1.0) -> "ContaminationGuard":
        """Aliases are stable for a (universe, seed): ordered by a keyed hash, not by code, so an alias
        says nothing about the exchange or the listing order."""
        ranked = sorted(symbols, key=lambda s: hashlib.sha256(f"{seed}:{s}".encode()).hexdigest())
        width = max(2, len(str(len(ranked))))
        alias_of = {s: f"S{k + 1:0{width}d}" for k, s in enumerate(ranked)}
        scale = {s: 100.0 / first_close[s] for s in symbols if first_close.get(s, 0) and first_close[s] > 0}
        return cls(alias_of, {a: s for s, a in alias_of.items()}, scale, origin, money)

    # ---- real -> what the model sees ----------------------------------------------------------
    def symbol_out(self, symbol: str) -> str:
        return self.alias_of.get(symbol, symbol)

    def scale_vector(self, symbols: Sequence[str]) -> np.ndarray:
        """Per-symbol price scales in ``symbols`` order; NaN where none is known (hides the price)."""
        key = tuple(symbols)
        v = self._vec.get(key)
        if v is None:
            v = self._vec[key] = np.array([self.scale.get(s, np.nan) for s in symbols], dtype="float64")
        return v

    def price_out(self, symbol: str, price: float | Decimal | None) -> float | None:
        s = self.scale.get(symbol)
        if price is None or price != price or s is None:
            return None
        return round(float(price) * s, 4)

    def money_out(self, amount: float | Decimal | None) -> float | None:
        if amount is None or amount != amount:
            return None
        return round(float(amount) * self.money, 2)

    def date_out(self, day: date) -> str:
        return f"day {(day - self.origin).days}"

    def text_out(self, text: str) -> str:
        """Free text (news, notes) with every real code replaced by its alias."""
        for s, a in self.alias_of.items():
            if s in text:
                text = text.replace(s, a)
            code = s.split(".")[0]
            if code in text:
                text = text.replace(code, a)
        return text

    # ---- what the model said -> real ----------------------------------------------------------
    def symbol_in(self, alias: str) -> str | None:
        """Real symbol of an alias; None for anything else (a real code is not accepted either,
        so a model that remembers codes cannot bypass the guard)."""
        return self.symbol_of.get(alias.strip().upper())

    def price_in(self, symbol: str, price: Decimal | None) -> Decimal | None:
        """A model price in real units (4 decimals; the caller snaps it onto the tick grid)."""
        if price is None:
            return None
        return (price / Decimal(repr(self.scale.get(symbol, 1.0)))).quantize(_SIG)
