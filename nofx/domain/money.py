"""Exact money. The ledger, orders, fills and fees use ``Decimal`` with explicit rounding;
floats are for research arrays only and are converted at the strategy -> order edge."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal(0)


def to_decimal(value: Decimal | float | int | str) -> Decimal:
    """Convert without binary-float noise: floats go through ``repr`` (shortest round-trip)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):  # also numpy floats, whose repr is not a plain number
        return Decimal(repr(float(value)))
    return Decimal(value)


def round_cents(value: Decimal, rounding: str = ROUND_HALF_UP) -> Decimal:
    return value.quantize(CENT, rounding=rounding)


def ceil_to(value: Decimal, step: Decimal) -> Decimal:
    """Round up to a multiple of ``step`` (HK stamp duty is rounded up to a whole dollar)."""
    return (value / step).to_integral_value(rounding=ROUND_CEILING) * step


def round_to_step(value: Decimal, step: Decimal, rounding: str = ROUND_HALF_UP) -> Decimal:
    return (value / step).to_integral_value(rounding=rounding) * step
