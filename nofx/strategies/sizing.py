"""Order sizes the market accepts, asked of the run's rule book (never a hard-coded lot).

Every built-in strategy sizes through these helpers with the rule book its :class:`MarketView` carries
(``view.rules``) and the trading day of now (``view.day``), so the lot rules of *that* instrument on
*that* date apply: 100-share lots on the A-share main boards and ChiNext, 200 shares minimum then steps
of 1 on STAR (``tables/cn_lots.csv``), each HK stock's board lot (``tables/hk_board_lots.csv``). Odd
lots are only ever sold to close a holding. :func:`screen` is the last step of a strategy's
``on_slice``: it drops an order the rules already refuse, or one the run already refused for a
permanent reason (:mod:`nofx.strategies.refusals`), and says so once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from nofx.domain.enums import Side
from nofx.domain.errors import NofxError
from nofx.domain.instruments import parse_symbol
from nofx.domain.orders import OrderRequest

if TYPE_CHECKING:
    from nofx.strategies.base import MarketView, PortfolioView, Strategy


def round_buy(rules: Any, symbol: str, on: date, quantity: int) -> int:
    """Largest buy quantity <= ``quantity`` that the rules accept (0 below the minimum, or when the rules
    cannot size the instrument, e.g. an HK stock missing from the board-lot table)."""
    if quantity <= 0:
        return 0
    if rules is None:
        raise ValueError("sizing needs the run's rule book (view.rules)")
    try:
        return int(rules.round_buy_quantity(parse_symbol(symbol), on, int(quantity)))
    except NofxError:
        return 0


def buy_quantity(rules: Any, symbol: str, on: date, value: float, price: float) -> int:
    """Largest valid buy quantity worth at most ``value`` at ``price`` (0 when not even the minimum fits)."""
    if not (price > 0) or not (value > 0) or not math.isfinite(value) or not math.isfinite(price):
        return 0
    return round_buy(rules, symbol, on, int(value // price))


def sell_quantity(rules: Any, symbol: str, on: date, quantity: int, holding: int) -> int:
    """Valid sell quantity <= ``quantity`` of a long ``holding``: all of it when ``quantity`` reaches the
    holding (odd lots may only be sold this way), else whole lots that the rules accept (0 if none)."""
    if quantity <= 0 or holding <= 0:
        return 0
    if quantity >= holding:
        return int(holding)
    q = round_buy(rules, symbol, on, quantity)  # a partial sell follows the buy grid (lots, STAR steps)
    if q > 0 and rules.quantity_error(parse_symbol(symbol), on, Side.SELL, q, holding) is not None:
        return 0
    return q


def screen(view: MarketView, portfolio: PortfolioView, orders: Sequence[OrderRequest],
           strategy: Strategy | None = None) -> list[OrderRequest]:
    """``orders`` without those the rules refuse already (quantity against the lot rules and the
    holding) or the run refused for a permanent reason; each dropped order is logged on ``strategy``."""
    rules, refusals = view.rules, view.refusals
    kept: list[OrderRequest] = []
    for req in orders:
        why = None
        if refusals is not None:
            blocked = refusals.blocking(req.symbol, req.side, req.quantity)
            if blocked is not None:
                why = f"refused before for good [{blocked.code}] {blocked.reason}"
        if why is None and rules is not None:
            try:
                why = rules.quantity_error(parse_symbol(req.symbol), view.day, req.side, req.quantity,
                                           portfolio.quantity(req.symbol))
            except NofxError as exc:
                why = str(exc)
        if why is None:
            kept.append(req)
        elif strategy is not None:
            strategy.log(f"{view.day}: not sending {req.side.value} {req.quantity} {req.symbol}: {why}")
    return kept
