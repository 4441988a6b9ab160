"""Orders, trades, positions and the account of a trader the caller owns.

``POST /orders`` goes through the trader's running engine (the one order path) and answers only after
the order's events are committed to the ledger. ``client_order_id`` makes it idempotent: the same id
again returns the first order (200 instead of 201), never a second one. Reads come from the ledger
tables; lists use keyset pagination with an opaque cursor.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from sqlalchemy import and_, or_, select
from starlette.concurrency import run_in_threadpool

from nofx.api.deps import Svc, User
from nofx.api.errors import ApiError, err, not_found
from nofx.api.orderflow import OpFailed
from nofx.api.routes.traders import owned
from nofx.api.runtime import SymbolNotTraded, TraderUnavailable
from nofx.api.schemas import (
    AccountOut,
    EquityPoint,
    OrderCreate,
    OrderOut,
    OrderPage,
    PositionOut,
    TradeOut,
    TradePage,
)
from nofx.api.services import Services
from nofx.domain.enums import OrderStatus, Side
from nofx.domain.orders import OrderRequest
from nofx.persistence import schema as t
from nofx.persistence.records import KeysetCursor
from nofx.persistence.rows import fill_from_row

router = APIRouter(tags=["trading"])
_ERRORS = {401: err("not authenticated"), 404: err("no such trader or order of yours")}
TraderQ = Annotated[str, Query(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="a trader you own")]
LimitQ = Annotated[int, Query(ge=1, le=1000)]
CursorQ = Annotated[str | None, Query(max_length=256, description="next_cursor of the previous page")]


def _encode_cursor(c: KeysetCursor | None) -> str | None:
    return None if c is None else base64.urlsafe_b64encode(c.encode().encode()).decode().rstrip("=")


def _decode_cursor(text: str | None) -> KeysetCursor | None:
    if text is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        return KeysetCursor.decode(raw)
    except (binascii.Error, UnicodeDecodeError, ValueError, Exception):  # noqa: BLE001 - any garbage
        raise ApiError(422, "VALIDATION_ERROR", "malformed cursor", [{"field": "cursor", "in": "query",
                                                                       "message": "malformed cursor"}]) from None


def _order_out(o: Any, trader_id: str, updated: datetime | None = None) -> OrderOut:
    """From a ledger ``OrderRecord``, the engine's live ``Order`` (whose request holds the rest), or the
    supervisor process' answer (a dict of the same fields)."""
    if isinstance(o, dict):
        return OrderOut.model_validate({**o, "trader_id": trader_id})
    req = getattr(o, "request", o)
    return OrderOut(order_id=o.order_id, trader_id=trader_id, client_order_id=req.client_order_id, symbol=o.symbol,
                    side=o.side, order_type=req.order_type, quantity=o.quantity, limit_price=o.limit_price,
                    tif=req.tif, status=o.status, filled_qty=o.filled_qty, avg_fill_price=o.avg_fill_price,
                    fees=o.fees, reject_code=o.reject_code, reject_reason=o.reject_reason, created=o.created,
                    updated=updated if updated is not None else getattr(o, "updated", o.created))


def _trader_of_order(order_id: str) -> str:
    trader_id, sep, n = order_id.rpartition("-O")
    if not sep or not n.isdigit():
        raise not_found("order")
    return trader_id


def _read(svc: Services):  # type: ignore[no-untyped-def]
    return svc.store.connect()


def _page(svc: Services, stmt: Any, ts_col: Any, key_col: Any, cursor: str | None, limit: int,
          convert: Any) -> tuple[list[Any], str | None]:
    """One keyset page: rows after ``cursor`` in (ts, key) order, and the cursor of the next page."""
    after = _decode_cursor(cursor)
    if after is not None:
        ts = after.ts.replace(tzinfo=None)
        stmt = stmt.where(or_(ts_col > ts, and_(ts_col == ts, key_col > after.key)))
    stmt = stmt.order_by(ts_col, key_col).limit(limit + 1)  # one extra row says whether there is more
    with _read(svc) as conn:
        rows = [convert(r) for r in conn.execute(stmt).mappings()]
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]  # record attributes are named like the columns
    return rows[:limit], _encode_cursor(KeysetCursor(getattr(last, ts_col.name), getattr(last, key_col.name)))


def check_owned(svc: Services, user_id: str, trader_id: str) -> None:
    """404 unless ``user_id`` owns the trader (cached: the hot endpoints' check costs no query)."""
    if not svc.owners.owns(user_id, trader_id):
        raise not_found("trader")


@router.post("/orders", response_model=OrderOut, status_code=201,
             responses={**_ERRORS, 200: {"description": "a known client_order_id: the first order",
                                         "model": OrderOut},
                        409: err("the trader is not running"),
                        422: err("invalid order"), 503: err("the ledger could not store the order")})
async def submit_order(body: OrderCreate, who: User, svc: Svc, response: Response) -> OrderOut:
    """Answered once the order's events are committed to the ledger, together with the other orders and
    cancels that arrived meanwhile (group commit)."""
    symbol = svc.market.resolve(body.symbol)
    if body.order_type.value == "limit" and body.limit_price is None:
        raise ApiError(422, "VALIDATION_ERROR", "a limit order needs limit_price",
                       [{"field": "limit_price", "in": "body", "message": "required for a limit order"}])
    request = OrderRequest(symbol, body.side, body.quantity, body.order_type, body.limit_price, body.tif,
                           body.client_order_id, "api")
    try:
        # the running trader knows its owner: ownership costs no query on the hot path
        order, created = await svc.traders.submit_async(body.trader_id, request, who.user_id)
    except SymbolNotTraded:
        raise ApiError(422, "UNKNOWN_SYMBOL", f"this trader does not trade {symbol}",
                       {"field": "symbol", "symbol": symbol}) from None
    except TraderUnavailable as exc:
        return await run_in_threadpool(_submit_not_running, svc, who.user_id, body, exc.state, response)
    except OpFailed as exc:
        raise ApiError(503, "ORDER_NOT_STORED", f"the order was not stored: {exc}; retry with the same "
                       "client_order_id", {"trader_id": body.trader_id}) from None
    if not created:
        response.status_code = 200
    return _order_out(order, body.trader_id)


def _submit_not_running(svc: Services, user_id: str, body: OrderCreate, state: str, response: Response) -> OrderOut:
    owned(svc, user_id, body.trader_id)  # another user's trader: 404 like a missing one
    known = svc.store.find_by_client_order_id(body.trader_id, body.client_order_id)
    if known is not None:  # an idempotent retry needs no running engine
        response.status_code = 200
        return _order_out(known, body.trader_id)
    raise ApiError(409, "TRADER_NOT_RUNNING", f"trader is {state}: start it to send orders",
                   {"trader_id": body.trader_id, "state": state})


@router.delete("/orders/{order_id}", response_model=OrderOut,
               responses={**_ERRORS, 409: err("not open, or trader not running"),
                          503: err("the ledger could not store the cancel")})
async def cancel_order(order_id: str, who: User, svc: Svc) -> OrderOut:
    trader_id = _trader_of_order(order_id)
    check_owned(svc, who.user_id, trader_id)
    try:
        outcome, order = await svc.traders.cancel_async(trader_id, order_id)
    except TraderUnavailable as exc:
        outcome, order, state = "unknown", None, exc.state
    except OpFailed as exc:
        raise ApiError(503, "ORDER_NOT_STORED", f"the cancel was not stored: {exc}", {"order_id": order_id}) \
            from None
    else:
        state = "running"
    if outcome == "cancelled":
        return _order_out(order, trader_id)
    if outcome == "not_open":
        raise ApiError(409, "ORDER_NOT_OPEN", f"order is {order['status']}", {"order_id": order_id})  # type: ignore[index]
    # the engine does not hold it (an old order, no such order, or the trader is not running)
    stored = await run_in_threadpool(svc.store.get_order, trader_id, order_id)
    if stored is None:
        raise not_found("order")
    if not stored.status.is_open:
        raise ApiError(409, "ORDER_NOT_OPEN", f"order is {stored.status.value}", {"order_id": order_id})
    raise ApiError(409, "TRADER_NOT_RUNNING", f"trader is {state}: start it to cancel orders",
                   {"trader_id": trader_id})


@router.get("/orders/{order_id}", response_model=OrderOut, responses=_ERRORS)
def get_order(order_id: str, who: User, svc: Svc) -> OrderOut:
    trader_id = _trader_of_order(order_id)
    owned(svc, who.user_id, trader_id)
    rec = svc.store.get_order(trader_id, order_id)
    if rec is None:
        raise not_found("order")
    return _order_out(rec, trader_id)


@router.get("/orders", response_model=OrderPage, responses=_ERRORS)
async def list_orders(who: User, svc: Svc, trader_id: TraderQ,
                status: Annotated[OrderStatus | None, Query()] = None,
                symbol: Annotated[str | None, Query(max_length=16)] = None,
                side: Annotated[Side | None, Query()] = None,
                open_only: Annotated[bool, Query(alias="open")] = False,
                limit: LimitQ = 100, cursor: CursorQ = None) -> OrderPage:
    """Orders by (created, order_id); filter by status, symbol, side or ``open=true``. (Indexed reads of
    a few rows run on the event loop: a thread hand-off would cost more than the query.)"""
    check_owned(svc, who.user_id, trader_id)
    o = t.orders
    stmt = select(o).where(o.c.trader_id == trader_id)
    if status is not None:
        stmt = stmt.where(o.c.status == status.value)
    if open_only:
        stmt = stmt.where(o.c.status.in_([s.value for s in OrderStatus if s.is_open]))
    if symbol is not None:
        stmt = stmt.where(o.c.symbol == svc.market.resolve(symbol))
    if side is not None:
        stmt = stmt.where(o.c.side == side.value)
    # rows straight into the response model (its fields are the columns): no domain object in between
    rows, nxt = _page(svc, stmt, o.c.created, o.c.order_id, cursor, limit,
                      lambda r: OrderOut.model_validate({**r, "trader_id": trader_id}))
    return OrderPage(items=rows, next_cursor=nxt)


@router.get("/trades", response_model=TradePage, responses=_ERRORS)
def list_trades(who: User, svc: Svc, trader_id: TraderQ,
                symbol: Annotated[str | None, Query(max_length=16)] = None,
                limit: LimitQ = 100, cursor: CursorQ = None) -> TradePage:
    owned(svc, who.user_id, trader_id)
    f = t.fills
    stmt = select(f).where(f.c.trader_id == trader_id)
    if symbol is not None:
        stmt = stmt.where(f.c.symbol == svc.market.resolve(symbol))
    rows, nxt = _page(svc, stmt, f.c.ts, f.c.fill_id, cursor, limit, fill_from_row)
    return TradePage(items=[TradeOut(fill_id=r.fill_id, order_id=r.order_id, symbol=r.symbol, side=r.side,
                                     quantity=r.quantity, price=r.price, fee=r.fee, realised_pnl=r.realised_pnl,
                                     ts=r.ts) for r in rows], next_cursor=nxt)


@router.get("/positions", response_model=list[PositionOut], responses=_ERRORS)
async def list_positions(who: User, svc: Svc, trader_id: TraderQ) -> list[PositionOut]:
    """Open positions with what is sellable today (T+1) and the mark at the trader's last slice."""
    from nofx.api.marks import positions_out

    check_owned(svc, who.user_id, trader_id)
    return positions_out(svc, trader_id, lambda: owned(svc, who.user_id, trader_id))


@router.get("/account", response_model=AccountOut, responses=_ERRORS)
def account(who: User, svc: Svc, trader_id: TraderQ) -> AccountOut:
    row = owned(svc, who.user_id, trader_id)
    ledger = svc.store.get_trader(trader_id)
    if ledger is None:  # never started: the configured account, untouched
        import json
        from decimal import Decimal

        cash = Decimal(str(json.loads(row.config_json).get("cash", "1000000")))
        return AccountOut(trader_id=trader_id, initial_cash=cash, cash=cash, equity=None, as_of=None, positions=0)
    snap = svc.store.last_snapshot(trader_id)
    return AccountOut(trader_id=trader_id, initial_cash=ledger.initial_cash, cash=svc.store.cash(trader_id),
                      equity=None if snap is None else snap.equity, as_of=None if snap is None else snap.ts,
                      positions=len(svc.store.list_positions(trader_id)))


@router.get("/account/equity", response_model=list[EquityPoint], responses=_ERRORS)
def equity_curve(who: User, svc: Svc, trader_id: TraderQ, limit: Annotated[int, Query(ge=1, le=10000)] = 1000
                 ) -> list[EquityPoint]:
    """The last ``limit`` equity snapshots (one per processed slice), oldest first."""
    owned(svc, who.user_id, trader_id)
    e = t.equity_snapshots
    stmt = select(e.c.ts, e.c.equity, e.c.cash).where(e.c.trader_id == trader_id).order_by(e.c.id.desc()).limit(limit)
    with _read(svc) as conn:
        rows = list(conn.execute(stmt))
    return [EquityPoint(ts=r.ts, equity=r.equity, cash=r.cash) for r in reversed(rows)]
