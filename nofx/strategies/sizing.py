"""Turning a money amount into a share quantity the market accepts (board lots)."""

from __future__ import annotations

import math

from nofx.domain.instruments import Board, Market, parse_symbol


def default_lot(symbol: str) -> int:
    """Board lot used for sizing. A-shares trade in 100s (STAR: 200 minimum, then steps of 1, so 100s
    keep orders valid); HK lots vary by stock and are enforced by the market rules at submission."""
    inst = parse_symbol(symbol)
    if inst.market is Market.HK:
        return 1
    return 100 if inst.board is not Board.STAR else 100


def shares_for_value(symbol: str, value: float, price: float, lot: int | None = None) -> int:
    """Whole lots worth at most ``value`` at ``price`` (0 when not even one lot fits)."""
    if not (price > 0) or not (value > 0) or not math.isfinite(value):
        return 0
    lot = lot or default_lot(symbol)
    q = int(value // price) // lot * lot
    if parse_symbol(symbol).board is Board.STAR and 0 < q < 200:
        return 0
    return q
