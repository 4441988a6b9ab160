"""Consistency checks of a trader's ledger: what an auditor would verify before trusting the numbers.

``check_ledger(store, trader_id)`` returns every :class:`Violation` found (an empty list means clean):

* cash: initial - buys + sells - fees + dividends - dividend tax deducted at sale (Decimal, to the cent)
  against the accounts row, and against the
  latest equity snapshot (counting the fills booked before it was taken);
* positions: each position's quantity equals the signed sum of its fills;
* T+1: for A-share symbols, no sell exceeds the holding less the shares bought that day (shares bought
  today cannot be sold today), with bonus shares and splits applied to the holding when they happened;
* duplicate fills (a fill_id twice in the fills table or in the event stream) and orders filled beyond
  their quantity;
* every order row equals the state rebuilt from its own event stream (and vice versa).

It reads the tables directly, so it also catches data that bypassed the store (manual edits, imports).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import select

from nofx.domain.enums import Side
from nofx.domain.errors import InvalidSymbolError, NofxError
from nofx.domain.events import (
    ACCOUNT_EVENTS,
    CorporateActionApplied,
    DividendTaxDeducted,
    Event,
    OrderFilled,
    event_from_dict,
)
from nofx.domain.instruments import Market, parse_symbol
from nofx.domain.money import round_cents
from nofx.domain.orders import Order
from nofx.persistence import queries
from nofx.persistence import schema as t
from nofx.persistence.projection import apply_order_event
from nofx.persistence.records import FillRecord, OrderRecord
from nofx.persistence.rows import order_from_row

_AVG_TOLERANCE = Decimal("1e-8")  # avg fill price is stored to 12 places; the rebuild is exact


class ViolationKind(str, Enum):
    UNKNOWN_TRADER = "unknown_trader"
    CASH_ACCOUNT = "cash_account"
    CASH_SNAPSHOT = "cash_snapshot"
    POSITION_QUANTITY = "position_quantity"
    T1_SELL = "t1_sell"
    DUPLICATE_FILL = "duplicate_fill"
    OVERFILLED_ORDER = "overfilled_order"
    ORDER_EVENTS = "order_events"


@dataclass(frozen=True, slots=True)
class Violation:
    kind: ViolationKind
    message: str
    context: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def __str__(self) -> str:
        where = ", ".join(f"{k}={v}" for k, v in self.context.items())
        return f"[{self.kind.value}] {self.message}" + (f" ({where})" if where else "")

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "message": self.message,
                "context": {k: str(v) for k, v in self.context.items()}}


def check_ledger(store: Any, trader_id: str) -> list[Violation]:
    """``store`` is a :class:`~nofx.persistence.store.SqlLedgerStore` (anything with ``flush()`` and
    ``connect()``)."""
    store.flush()
    with store.connect() as conn:
        trader = queries.get_trader(conn, trader_id)
        if trader is None:
            return [Violation(ViolationKind.UNKNOWN_TRADER, "no such trader", {"trader_id": trader_id})]
        fills = queries.all_fills(conn, trader_id)
        orders = {r.order_id: r for r in (order_from_row(m) for m in conn.execute(
            select(t.orders).where(t.orders.c.trader_id == trader_id)).mappings())}
        ev = t.order_events
        events = [(int(s), event_from_dict(p)) for s, p in conn.execute(
            select(ev.c.seq, ev.c.payload).where(ev.c.trader_id == trader_id).order_by(ev.c.seq))]
        cash = conn.execute(select(t.accounts.c.cash).where(t.accounts.c.trader_id == trader_id)).scalar()
        snap = conn.execute(select(t.equity_snapshots).where(t.equity_snapshots.c.trader_id == trader_id)
                            .order_by(t.equity_snapshots.c.id.desc()).limit(1)).mappings().first()
        positions = {p.symbol: p.quantity for p in queries.list_positions(conn, trader_id, include_flat=True)}

    actions = [(s, e) for s, e in events if isinstance(e, CorporateActionApplied)]
    taxes = [(s, e) for s, e in events if isinstance(e, DividendTaxDeducted)]
    order_events = [(s, e) for s, e in events if not isinstance(e, ACCOUNT_EVENTS)]
    out: list[Violation] = []
    out += _check_cash(trader.initial_cash, fills, cash, snap, actions, taxes)
    out += _check_positions(fills, positions, actions)
    out += _check_t1(fills, actions)
    out += _check_duplicates_and_overfills(fills, order_events, orders)
    out += _check_orders_vs_events(order_events, orders)
    return out


def _cash_delta(f: FillRecord) -> Decimal:
    return f.to_fill().cash_delta


def _check_cash(initial: Decimal, fills: list[FillRecord], cash: Decimal | None,
                snap: Any, actions: list[tuple[int, CorporateActionApplied]] = (),
                taxes: list[tuple[int, DividendTaxDeducted]] = ()) -> list[Violation]:
    out: list[Violation] = []
    dividends = sum((e.cash for _, e in actions), Decimal(0)) - sum((e.amount for _, e in taxes), Decimal(0))
    expected = initial + sum((_cash_delta(f) for f in fills), Decimal(0)) + dividends
    if cash is None or round_cents(cash) != round_cents(expected):
        out.append(Violation(ViolationKind.CASH_ACCOUNT,
                             "account cash differs from initial - buys + sells - fees + dividends - dividend tax",
                             {"expected": round_cents(expected), "stored": cash}))
    if snap is not None:
        # fills booked before the snapshot: by event seq, or by time for bulk-loaded history
        before = [f for f in fills if (f.seq is not None and f.seq <= snap["event_seq"])
                  or (f.seq is None and f.ts <= snap["ts"])]
        at_snap = initial + sum((_cash_delta(f) for f in before), Decimal(0)) \
            + sum((e.cash for seq, e in actions if seq <= snap["event_seq"]), Decimal(0)) \
            - sum((e.amount for seq, e in taxes if seq <= snap["event_seq"]), Decimal(0))
        if round_cents(snap["cash"]) != round_cents(at_snap):
            out.append(Violation(ViolationKind.CASH_SNAPSHOT, "latest snapshot cash differs from the fills before it",
                                 {"expected": round_cents(at_snap), "snapshot": snap["cash"], "ts": snap["ts"]}))
    return out


def _check_positions(fills: list[FillRecord], positions: dict[str, int],
                     actions: list[tuple[int, CorporateActionApplied]] = ()) -> list[Violation]:
    """Quantities = signed fills, with each split applied when it happened (fills and actions in
    booking order; bulk-loaded history without a seq comes first)."""
    signed: dict[str, int] = defaultdict(int)
    steps: list[tuple[int, int, Any]] = [(f.seq if f.seq is not None else -1, 1, f) for f in fills]
    steps += [(seq, 0, e) for seq, e in actions]
    for _, kind, x in sorted(steps, key=lambda s: (s[0], s[1])):
        if kind == 1:
            signed[x.symbol] += x.side.sign * x.quantity
        else:
            signed[x.symbol] = int(signed[x.symbol] * x.split_ratio)
    return [
        Violation(ViolationKind.POSITION_QUANTITY, "position quantity differs from the sum of its fills",
                  {"symbol": sym, "fills_sum": signed.get(sym, 0), "stored": positions.get(sym, 0)})
        for sym in sorted(set(signed) | set(positions))
        if signed.get(sym, 0) != positions.get(sym, 0)
    ]


def _is_a_share(symbol: str) -> bool:
    try:
        inst = parse_symbol(symbol)
    except InvalidSymbolError:
        return False
    return inst.market is Market.CN and not inst.is_index


def _check_t1(fills: list[FillRecord], actions: list[tuple[int, CorporateActionApplied]] = ()) -> list[Violation]:
    """Walk each A-share symbol's fills in time order keeping the holding and the part of it bought on
    the current day: a sell may not exceed the holding less today's buys. Bonus shares and splits scale
    the holding as one quantity, the way the engine books them (``Position.apply_split``): scaling what
    was bought and what was sold separately would truncate each and invent a one-share shortfall."""
    out: list[Violation] = []
    by_symbol: dict[str, list[FillRecord]] = defaultdict(list)
    for f in fills:
        if _is_a_share(f.symbol):
            by_symbol[f.symbol].append(f)
    splits: dict[str, list[CorporateActionApplied]] = defaultdict(list)
    for _, e in actions:
        if e.split_ratio != 1:
            splits[e.symbol].append(e)
    for sym, fs in sorted(by_symbol.items()):
        held = 0
        day: date | None = None
        bought_today = 0  # locked until the next trading day
        pending = sorted(splits.get(sym, []), key=lambda e: e.ts)
        # time order; within a timestamp, booking order (seq), history without seq first
        for f in sorted(fs, key=lambda x: (x.ts, x.seq is not None, x.seq or 0)):
            if f.ts.date() != day:
                day, bought_today = f.ts.date(), 0
            while pending and pending[0].ts <= f.ts:  # bonus shares scale the holding (and today's lock)
                r = pending.pop(0).split_ratio
                held = int(held * r)
                bought_today = min(int(bought_today * r), held)
            if f.side is Side.BUY:
                held += f.quantity
                bought_today += f.quantity
                continue
            sellable = held - bought_today
            if f.quantity > sellable:
                out.append(Violation(ViolationKind.T1_SELL, "A-share sell needs shares bought the same day (T+1)",
                                     {"symbol": sym, "fill_id": f.fill_id, "day": day, "quantity": f.quantity,
                                      "sellable": max(sellable, 0)}))
            held -= f.quantity
    return out


def _check_duplicates_and_overfills(fills: list[FillRecord], events: list[tuple[int, Event]],
                                    orders: dict[str, OrderRecord]) -> list[Violation]:
    out: list[Violation] = []
    for fid, n in sorted(Counter(f.fill_id for f in fills).items()):
        if n > 1:
            out.append(Violation(ViolationKind.DUPLICATE_FILL, "fill_id stored more than once in fills",
                                 {"fill_id": fid, "count": n}))
    ev_ids = Counter(e.fill.fill_id for _, e in events if isinstance(e, OrderFilled))
    for fid, n in sorted(ev_ids.items()):
        if n > 1:
            out.append(Violation(ViolationKind.DUPLICATE_FILL, "fill_id filled more than once in the event stream",
                                 {"fill_id": fid, "count": n}))
    filled: dict[str, int] = defaultdict(int)
    for f in fills:
        filled[f.order_id] += f.quantity
    for oid, o in sorted(orders.items()):
        if o.filled_qty > o.quantity or filled.get(oid, 0) > o.quantity:
            out.append(Violation(ViolationKind.OVERFILLED_ORDER, "order filled beyond its quantity",
                                 {"order_id": oid, "quantity": o.quantity, "filled_qty": o.filled_qty,
                                  "fills_sum": filled.get(oid, 0)}))
    return out


def _check_orders_vs_events(events: list[tuple[int, Event]], orders: dict[str, OrderRecord]) -> list[Violation]:
    out: list[Violation] = []
    streams: dict[str, list[tuple[int, Event]]] = defaultdict(list)
    for seq, e in events:
        streams[getattr(e, "order_id", "")].append((seq, e))
    for oid in sorted(set(streams) | set(orders)):
        row = orders.get(oid)
        stream = streams.get(oid, [])
        if row is None:
            out.append(Violation(ViolationKind.ORDER_EVENTS, "events for an order with no order row",
                                 {"order_id": oid, "events": len(stream)}))
            continue
        if not stream:
            out.append(Violation(ViolationKind.ORDER_EVENTS, "order row without any event", {"order_id": oid}))
            continue
        rebuilt: Order | None = None
        try:
            for seq, e in stream:
                rebuilt = apply_order_event(rebuilt, e)
        except NofxError as exc:
            out.append(Violation(ViolationKind.ORDER_EVENTS, f"event stream does not apply: {exc.message}",
                                 {"order_id": oid, "seq": seq, "kind": e.kind}))
            continue
        assert rebuilt is not None
        diffs = {
            name: (stored, want) for name, stored, want in (
                ("status", row.status, rebuilt.status),
                ("quantity", row.quantity, rebuilt.quantity),
                ("filled_qty", row.filled_qty, rebuilt.filled_qty),
                ("fees", row.fees, rebuilt.fees),
                ("limit_price", row.limit_price, rebuilt.limit_price),
                ("last_seq", row.last_seq, stream[-1][0]),
            ) if stored != want
        }
        if abs(row.avg_fill_price - rebuilt.avg_fill_price) > _AVG_TOLERANCE:
            diffs["avg_fill_price"] = (row.avg_fill_price, rebuilt.avg_fill_price)
        if diffs:
            out.append(Violation(ViolationKind.ORDER_EVENTS, "order row differs from its event stream",
                                 {"order_id": oid, **{k: f"{a} != {b}" for k, (a, b) in diffs.items()}}))
    return out
