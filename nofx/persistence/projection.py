"""Derived rows from events: the orders, fills, positions and accounts tables follow the event stream.

A :class:`Projector` works inside the caller's transaction: it inserts each event into ``order_events``
and applies it to the rows it touches, cached for the batch and written once at :meth:`finish`. Order
state changes go through the domain ``Order`` (its transition table), positions through the domain
``Position``, so the stored state is exactly what the engine rebuilds from the same events. An event that
cannot be applied raises a coded error and the caller rolls the whole transaction back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection, bindparam, select, update

from nofx.domain.errors import NofxError
from nofx.domain.events import (
    Event,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderDenied,
    OrderExpired,
    OrderFilled,
    OrderProgress,
    OrderRejected,
    OrderSubmitted,
)
from nofx.domain.fills import Fill
from nofx.domain.orders import Order
from nofx.domain.positions import Position
from nofx.persistence import schema as t
from nofx.persistence.errors import (
    DuplicateClientOrderIdError,
    DuplicateFillError,
    DuplicateOrderError,
    LedgerIntegrityError,
    UnknownTraderError,
)
from nofx.persistence.rows import naive, order_from_row, order_values

ZERO = Decimal(0)


def apply_order_event(order: Order | None, event: Event) -> Order:
    """Pure: the order after ``event`` (``order`` is None before its OrderSubmitted). Raises NofxError
    (OrderError / InvalidTransitionError / LedgerIntegrityError) when the event does not apply."""
    if isinstance(event, OrderSubmitted):
        if order is not None:
            raise DuplicateOrderError("order submitted twice", order_id=event.order_id)
        return Order(order_id=event.order_id, request=event.request, created=event.ts, parent_id=event.parent_id)
    order_id = getattr(event, "order_id", "")
    if order is None:
        raise LedgerIntegrityError(f"{event.kind} for an order never submitted", order_id=order_id)
    if isinstance(event, (OrderDenied, OrderRejected)):
        order.apply_reject(event.code, event.reason)
    elif isinstance(event, OrderAccepted):
        order.apply_accept()
    elif isinstance(event, OrderFilled):
        if event.fill.order_id != event.order_id:
            raise LedgerIntegrityError("fill belongs to another order", order_id=order_id,
                                       fill_id=event.fill.fill_id, fill_order_id=event.fill.order_id)
        order.apply_fill(event.fill.quantity, event.fill.price, event.fill.fee)
    elif isinstance(event, OrderCancelled):
        order.apply_cancel()
    elif isinstance(event, OrderExpired):
        order.apply_expire()
    elif isinstance(event, OrderAmended):
        order.apply_amend(event.quantity, event.limit_price)
    elif isinstance(event, OrderProgress):  # a parent order's state derived from its children's fills
        order.apply_progress(event.filled_qty, event.avg_price, event.fees, event.status)
    else:
        raise LedgerIntegrityError(f"unknown event kind {event.kind!r}", order_id=order_id)
    return order


def position_after_fill(pos: Position, fill: Fill) -> Decimal:
    """Apply ``fill`` to ``pos`` (in place) and return the price PnL it realised. Settlement locks are the
    engine's business (it refuses a T+1 breach before a fill exists); the ledger records what happened
    and ``ledger_check`` flags breaches, so shorts and unlocked sells are accepted here."""
    before = pos.realised_pnl
    pos.apply_fill(fill, lock_until_next_day=False, allow_short=True)
    return pos.realised_pnl - before


@dataclass(slots=True)
class _OrderSlot:
    order: Order
    is_new: bool
    last_seq: int  # as stored; replaced by the seq of ``last_event`` when the batch touched the order
    updated: datetime
    last_event: int | None = None  # index (in the batch) of the last event applied


@dataclass(slots=True)
class _PositionSlot:
    position: Position
    is_new: bool
    updated: datetime


@dataclass(slots=True)
class _AccountSlot:
    cash: Decimal
    updated: datetime
    dirty: bool = False


# Statements built once (construction is most of SQLAlchemy's per-call cost); values are bound parameters.
_SEL_ACCOUNT = select(t.accounts.c.cash, t.accounts.c.updated).where(t.accounts.c.trader_id == bindparam("tid"))
_SEL_ORDER = select(t.orders).where(t.orders.c.trader_id == bindparam("tid"), t.orders.c.order_id == bindparam("oid"))
_SEL_POSITION = select(t.positions).where(t.positions.c.trader_id == bindparam("tid"),
                                          t.positions.c.symbol == bindparam("sym"))
_SEL_ORDERS = select(t.orders).where(t.orders.c.trader_id == bindparam("tid"),
                                     t.orders.c.order_id.in_(bindparam("oids", expanding=True)))
_SEL_POSITIONS = select(t.positions).where(t.positions.c.trader_id == bindparam("tid"),
                                           t.positions.c.symbol.in_(bindparam("syms", expanding=True)))
# One multi-row INSERT ... RETURNING for all events of a batch, seqs returned in parameter order.
_INS_EVENTS = t.order_events.insert().returning(t.order_events.c.seq, sort_by_parameter_order=True)
_INS_FILL = t.fills.insert()
_INS_ORDER = t.orders.insert()
_INS_POSITION = t.positions.insert()
_UPD_ORDER = update(t.orders).where(t.orders.c.trader_id == bindparam("b_tid"),
                                    t.orders.c.order_id == bindparam("b_oid"))
_UPD_POSITION = update(t.positions).where(t.positions.c.trader_id == bindparam("b_tid"),
                                          t.positions.c.symbol == bindparam("b_sym"))
_UPD_ACCOUNT = update(t.accounts).where(t.accounts.c.trader_id == bindparam("b_tid"))


class Projector:
    """Applies events inside one transaction. ``known_traders`` (owned by the store, grows only) spares
    the trader-exists query on every append."""

    def __init__(self, conn: Connection, known_traders: set[str] | None = None) -> None:
        self._conn = conn
        self._known = known_traders if known_traders is not None else set()
        self._accounts: dict[str, _AccountSlot] = {}
        self._orders: dict[tuple[str, str], _OrderSlot] = {}
        self._positions: dict[tuple[str, str], _PositionSlot] = {}
        self._client_ids: dict[tuple[str, str], str] = {}  # (trader, client_order_id) -> order_id, this batch
        self._fill_ids: set[tuple[str, str]] = set()
        self._event_rows: list[dict[str, object]] = []
        self._fill_rows: list[tuple[int, dict[str, object]]] = []  # (index of its OrderFilled event, row)

    # ---------------------------------------------------------------- loading
    def _account(self, trader_id: str) -> _AccountSlot:
        slot = self._accounts.get(trader_id)
        if slot is None:
            row = self._conn.execute(_SEL_ACCOUNT, {"tid": trader_id}).first()
            if row is None:
                raise UnknownTraderError("no such trader: create_trader first", trader_id=trader_id)
            slot = self._accounts[trader_id] = _AccountSlot(row.cash, row.updated)
        return slot

    def _order(self, trader_id: str, order_id: str) -> _OrderSlot | None:
        key = (trader_id, order_id)
        slot = self._orders.get(key)
        if slot is None:
            row = self._conn.execute(_SEL_ORDER, {"tid": trader_id, "oid": order_id}).mappings().first()
            if row is None:
                return None
            rec = order_from_row(row)
            slot = self._orders[key] = _OrderSlot(rec.to_order(), False, rec.last_seq, rec.updated)
        return slot

    def _position(self, trader_id: str, symbol: str) -> _PositionSlot:
        key = (trader_id, symbol)
        slot = self._positions.get(key)
        if slot is None:
            row = self._conn.execute(_SEL_POSITION, {"tid": trader_id, "sym": symbol}).mappings().first()
            if row is None:
                slot = _PositionSlot(Position(symbol), True, datetime.min)
            else:
                pos = Position(symbol, int(row["quantity"]), row["avg_cost"], row["realised_pnl"])
                slot = _PositionSlot(pos, False, row["updated"])
            self._positions[key] = slot
        return slot

    def _prefetch(self, trader_id: str, events: Sequence[Event]) -> None:
        """Load, in two queries, the stored orders and positions the batch will touch."""
        oids = {getattr(ev, "order_id", None) for ev in events if not isinstance(ev, OrderSubmitted)}
        oids = {o for o in oids if isinstance(o, str) and (trader_id, o) not in self._orders}
        if oids:
            for row in self._conn.execute(_SEL_ORDERS, {"tid": trader_id, "oids": sorted(oids)}).mappings():
                rec = order_from_row(row)
                self._orders[(trader_id, rec.order_id)] = _OrderSlot(rec.to_order(), False, rec.last_seq,
                                                                     rec.updated)
        syms = {ev.fill.symbol for ev in events if isinstance(ev, OrderFilled)}
        syms = {x for x in syms if (trader_id, x) not in self._positions}
        if syms:
            for row in self._conn.execute(_SEL_POSITIONS, {"tid": trader_id, "syms": sorted(syms)}).mappings():
                pos = Position(row["symbol"], int(row["quantity"]), row["avg_cost"], row["realised_pnl"])
                self._positions[(trader_id, row["symbol"])] = _PositionSlot(pos, False, row["updated"])

    # ---------------------------------------------------------------- applying
    def apply(self, trader_id: str, events: Sequence[Event]) -> None:
        """Apply ``events`` of one trader to the cached rows; they are written by :meth:`finish`."""
        if trader_id not in self._known:
            self._account(trader_id)  # raises UnknownTraderError
            self._known.add(trader_id)
        self._prefetch(trader_id, events)
        for ev in events:
            order_id = getattr(ev, "order_id", None)
            if not isinstance(order_id, str):
                raise LedgerIntegrityError(f"event {ev.kind!r} carries no order_id", trader_id=trader_id)
            idx = len(self._event_rows)
            self._event_rows.append({"trader_id": trader_id, "order_id": order_id, "kind": ev.kind,
                                     "ts": naive(ev.ts), "payload": ev.to_dict()})
            self._apply_one(trader_id, ev, idx)

    def _apply_one(self, trader_id: str, ev: Event, idx: int) -> None:
        order_id: str = getattr(ev, "order_id")
        if isinstance(ev, OrderSubmitted):
            # No SELECT here: a stored duplicate order_id / client_order_id hits the primary key / unique
            # constraint when the row is inserted (mapped to the same coded errors by the store).
            self._check_new_order(trader_id, ev)
            slot = None
        else:
            slot = self._order(trader_id, order_id)
        order = apply_order_event_for(trader_id, order_id, slot.order if slot else None, ev)
        if slot is None:
            self._orders[(trader_id, order_id)] = _OrderSlot(order, True, 0, ev.ts, idx)
        else:
            slot.last_event, slot.updated = idx, ev.ts
        if isinstance(ev, OrderFilled):
            self._apply_fill(trader_id, ev.fill, idx)

    def _check_new_order(self, trader_id: str, ev: OrderSubmitted) -> None:
        check_new_order(trader_id, ev, (trader_id, ev.order_id) in self._orders, self._client_ids)

    def _apply_fill(self, trader_id: str, fill: Fill, idx: int) -> None:
        key = (trader_id, fill.fill_id)
        if key in self._fill_ids:  # a stored duplicate hits the fills primary key on insert
            raise DuplicateFillError("fill_id twice in one batch", trader_id=trader_id, fill_id=fill.fill_id)
        self._fill_ids.add(key)
        pnl = self.book_fill(trader_id, fill)
        self._fill_rows.append((idx, fill_row(trader_id, fill, None, pnl)))

    def book_fill(self, trader_id: str, fill: Fill) -> Decimal:
        """Update the cached position and cash for ``fill``; returns the PnL it realised."""
        pslot = self._position(trader_id, fill.symbol)
        pnl = position_after_fill(pslot.position, fill)
        pslot.updated = fill.ts
        acct = self._account(trader_id)
        acct.cash += fill.cash_delta
        acct.updated, acct.dirty = fill.ts, True
        return pnl

    # ---------------------------------------------------------------- writing
    def finish(self) -> list[int]:
        """Write the batch's events and every row they changed (still inside the caller's transaction);
        returns the events' seqs in order."""
        conn = self._conn
        seqs: list[int] = []
        if self._event_rows:
            seqs = [int(r[0]) for r in conn.execute(_INS_EVENTS, self._event_rows)]
        if self._fill_rows:
            rows = []
            for idx, row in self._fill_rows:
                row["seq"] = seqs[idx]
                rows.append(row)
            conn.execute(_INS_FILL, rows)
        new_orders, changed_orders = [], []
        for (tid, oid), s in self._orders.items():
            if s.last_event is None:
                continue  # loaded but unchanged
            vals = order_values(tid, s.order, s.updated, seqs[s.last_event])
            if s.is_new:
                new_orders.append(vals)
            else:
                for k in ("trader_id", "order_id", "created"):
                    vals.pop(k)
                changed_orders.append({"b_tid": tid, "b_oid": oid, **vals})
        if new_orders:
            conn.execute(_INS_ORDER, new_orders)
        if changed_orders:
            conn.execute(_UPD_ORDER, changed_orders)
        new_pos, changed_pos = [], []
        for (tid, sym), p in self._positions.items():
            vals = {"quantity": p.position.quantity, "avg_cost": p.position.avg_cost,
                    "realised_pnl": p.position.realised_pnl, "updated": naive(p.updated)}
            if p.is_new:
                new_pos.append({"trader_id": tid, "symbol": sym, **vals})
            else:
                changed_pos.append({"b_tid": tid, "b_sym": sym, **vals})
        if new_pos:
            conn.execute(_INS_POSITION, new_pos)
        if changed_pos:
            conn.execute(_UPD_POSITION, changed_pos)
        accts = [{"b_tid": tid, "cash": a.cash, "updated": naive(a.updated)}
                 for tid, a in self._accounts.items() if a.dirty]
        if accts:
            conn.execute(_UPD_ACCOUNT, accts)
        self._orders.clear()
        self._positions.clear()
        self._accounts.clear()
        self._event_rows.clear()
        self._fill_rows.clear()
        return seqs


def fill_row(trader_id: str, fill: Fill, seq: int | None, realised_pnl: Decimal | None) -> dict[str, object]:
    return {"trader_id": trader_id, "fill_id": fill.fill_id, "order_id": fill.order_id, "symbol": fill.symbol,
            "side": fill.side.value, "quantity": fill.quantity, "price": fill.price, "fee": fill.fee,
            "ts": naive(fill.ts), "seq": seq, "realised_pnl": realised_pnl}


def check_new_order(trader_id: str, ev: OrderSubmitted, known: bool, client_ids: dict[tuple[str, str], str]) -> None:
    """Refuse an OrderSubmitted for another trader, a known order id, or a client order id already used;
    records the client id in ``client_ids``. Shared by both write paths."""
    if ev.trader_id != trader_id:
        raise LedgerIntegrityError("OrderSubmitted for another trader", trader_id=trader_id,
                                   event_trader_id=ev.trader_id, order_id=ev.order_id)
    if known:
        raise DuplicateOrderError("order_id already stored", trader_id=trader_id, order_id=ev.order_id)
    coid = ev.request.client_order_id
    if coid is None:
        return
    existing = client_ids.get((trader_id, coid))
    if existing is not None:
        raise DuplicateClientOrderIdError("client_order_id already used by another order",
                                          trader_id=trader_id, client_order_id=coid,
                                          existing_order_id=existing, order_id=ev.order_id)
    client_ids[(trader_id, coid)] = ev.order_id


def apply_order_event_for(trader_id: str, order_id: str, current: Order | None, ev: Event) -> Order:
    """``apply_order_event`` with its refusal as a coded ledger error naming the trader and event.
    Shared by both write paths."""
    try:
        return apply_order_event(current, ev)
    except NofxError as exc:
        if isinstance(exc, LedgerIntegrityError | DuplicateOrderError):
            exc.context.update(trader_id=trader_id, kind=ev.kind)
            raise
        raise LedgerIntegrityError(f"{ev.kind} does not apply: {exc.message}", trader_id=trader_id,
                                   order_id=order_id, cause=exc.code) from exc
