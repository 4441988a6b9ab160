"""Positions as a trader's screen shows them: what is sellable today (A-shares bought on the trader's
current day stay locked until the next, T+1) and the mark at the last processed slice (close price,
market value, unrealised PnL), from the ledger and the server's bars: nothing here needs the trader
to be running."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Callable

from sqlalchemy import func, select

from nofx.api.repo import TraderRow
from nofx.api.schemas import PositionOut
from nofx.domain.instruments import parse_symbol
from nofx.persistence import schema as t

_CENT = Decimal("0.01")


def _today(svc: Any, trader_id: str, snap_ts: datetime | None) -> datetime | None:
    """The trader's current day: its last snapshot's or its last fill's, whichever is later (a fill of a
    new day is committed before that day's snapshot)."""
    with svc.store.connect() as conn:
        last_fill = conn.execute(select(func.max(t.fills.c.ts)).where(t.fills.c.trader_id == trader_id)).scalar()
    times = [x for x in (snap_ts, last_fill) if x is not None]
    return max(times) if times else None


def _bought_on(svc: Any, trader_id: str, day: datetime) -> dict[str, int]:
    start = day.replace(hour=0, minute=0, second=0, microsecond=0)
    f = t.fills
    stmt = (select(f.c.symbol, func.sum(f.c.quantity)).where(f.c.trader_id == trader_id, f.c.side == "buy",
                                                            f.c.ts >= start, f.c.ts < start + timedelta(days=1))
            .group_by(f.c.symbol))
    with svc.store.connect() as conn:
        return {str(s): int(q) for s, q in conn.execute(stmt)}


def positions_out(svc: Any, trader_id: str, row_of: Callable[[], TraderRow]) -> list[PositionOut]:
    """``row_of()`` gives the trader's row (its rules); it is only read when there are positions."""
    from nofx.markets.rulebook import build_rulebook

    positions = svc.store.list_positions(trader_id)
    if not positions:
        return []
    row = row_of()
    snap = svc.store.last_snapshot(trader_id)
    today = _today(svc, trader_id, None if snap is None else snap.ts)
    bought = {} if today is None else _bought_on(svc, trader_id, today)
    rules = build_rulebook(json.loads(row.config_json).get("rules", "auto"))
    out = []
    for p in positions:
        locked = 0
        if p.symbol in bought and p.quantity > 0 and today is not None and \
                rules.sell_locked_until_next_day(parse_symbol(p.symbol), today.date()):
            locked = bought[p.symbol]
        price = None if snap is None else svc.market.close_at(p.symbol, snap.ts)
        value = pnl = None
        if price is not None:
            value = (price * p.quantity).quantize(_CENT)
            pnl = ((price - p.avg_cost) * p.quantity).quantize(_CENT)
        out.append(PositionOut(symbol=p.symbol, quantity=p.quantity, avg_cost=p.avg_cost,
                               realised_pnl=p.realised_pnl, updated=p.updated,
                               sellable=max(0, p.quantity - locked) if p.quantity > 0 else 0,
                               last_price=price, market_value=value, unrealised_pnl=pnl))
    return out
