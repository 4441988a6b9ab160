"""Exact money. The ledger, orders, fills and fees use ``Decimal`` with explicit rounding;
floats are for research arrays only and are converted at the strategy -> order edge."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal(0)
# Averages (average cost, average fill price) are kept to this many decimal places, the scale the ledger
# stores them at (NUMERIC(34,12)). An average is a quotient that rarely terminates: kept at the context's
# 28 significant digits in memory but stored at 12 places, a value reloaded after a restart would differ
# from the one the uninterrupted process kept, and so would every PnL booked from it afterwards.
AVERAGE_PLACES = 12
_AVERAGE_QUANTUM = Decimal(1).scaleb(-AVERAGE_PLACES)


def to_decimal(value: Decimal | float | int | str) -> Decimal:
    """Convert without binary-float noise: floats go through ``repr`` (shortest round-trip)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):  # also numpy floats, whose repr is not a plain number
        return Decimal(repr(float(value)))
    return Decimal(value)


def average(total: Decimal, quantity: int | Decimal) -> Decimal:
    """``total / quantity`` rounded half-even to ``AVERAGE_PLACES``: what the ledger stores, so a value
    reloaded from it is the value in memory (``quantity`` must not be 0)."""
    return (total / quantity).quantize(_AVERAGE_QUANTUM, rounding=ROUND_HALF_EVEN)


def round_cents(value: Decimal, rounding: str = ROUND_HALF_UP) -> Decimal:
    return value.quantize(CENT, rounding=rounding)


def ceil_to(value: Decimal, step: Decimal) -> Decimal:
    """Round up to a multiple of ``step`` (HK stamp duty is rounded up to a whole dollar)."""
    return (value / step).to_integral_value(rounding=ROUND_CEILING) * step


def round_to_step(value: Decimal, step: Decimal, rounding: str = ROUND_HALF_UP) -> Decimal:
    return (value / step).to_integral_value(rounding=rounding) * step


# The largest cash amount a user may enter (run configs, --cash). The ledger stores NUMERIC(20,4), that is
# 16 integer digits; Decimal's default context computes with 28 significant digits; metrics and reports
# use binary floats (15 significant digits). Ten trillion (above any fund's size) keeps every sum of cash,
# fills and fees exact in all three, with room for a thousand-fold gain. Larger amounts are refused, never
# rounded or reported as "n/a".
MAX_CASH = Decimal("1e13")


def check_cash_amount(value: Decimal) -> Decimal:
    """``value`` if it is a usable account amount: finite, above zero, at most :data:`MAX_CASH`, and a
    whole number of cents (a sub-cent balance cannot be paid out). Raises ``ValueError`` saying which."""
    if not value.is_finite():
        raise ValueError("cash must be a finite number")
    if value <= 0:
        raise ValueError("cash must be above 0")
    if value > MAX_CASH:
        raise ValueError(f"cash must be at most {MAX_CASH:,.0f} (1e13)")
    if value != value.quantize(CENT):
        raise ValueError("cash must be a whole number of cents")
    return value
