"""Contamination guard: an LLM may remember 2019-2021 prices and news. With the guard on, everything the
model sees names symbols by stable aliases (``S01``...), dates by day offsets from the run's first day
(``day 57``), and prices rescaled per symbol (the first visible close becomes 100). The engine maps the
model's decisions back (alias -> symbol, price / scale) before any limit or order sees them.

Quantities and money (cash, equity) stay real: shares trade in real lots, and ``target_weight`` sizes a
position without knowing the real price. Volumes and percentages are unchanged.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Mapping, Sequence

_SIG = Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class ContaminationGuard:
    alias_of: Mapping[str, str]  # real symbol -> alias
    symbol_of: Mapping[str, str]  # alias -> real symbol
    scale: Mapping[str, float]  # real symbol -> model price / real price
    origin: date  # shown as "day 0"

    @classmethod
    def build(cls, symbols: Sequence[str], first_close: Mapping[str, float], origin: date,
              seed: int = 0) -> "ContaminationGuard":
        """Aliases are stable for a (universe, seed): ordered by a keyed hash, not by code, so an alias
        says nothing about the exchange or the listing order."""
        ranked = sorted(symbols, key=lambda s: hashlib.sha256(f"{seed}:{s}".encode()).hexdigest())
        width = max(2, len(str(len(ranked))))
        alias_of = {s: f"S{k + 1:0{width}d}" for k, s in enumerate(ranked)}
        scale = {s: (100.0 / first_close[s]) if first_close.get(s, 0) and first_close[s] > 0 else 1.0
                 for s in symbols}
        return cls(alias_of, {a: s for s, a in alias_of.items()}, scale, origin)

    # ---- real -> what the model sees ----------------------------------------------------------
    def symbol_out(self, symbol: str) -> str:
        return self.alias_of.get(symbol, symbol)

    def price_out(self, symbol: str, price: float | Decimal | None) -> float | None:
        if price is None or price != price:
            return None
        return round(float(price) * self.scale.get(symbol, 1.0), 4)

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
        if price is None:
            return None
        return (price / Decimal(repr(self.scale.get(symbol, 1.0)))).quantize(_SIG)
