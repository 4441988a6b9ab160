"""Bus messages: one envelope around the domain's own typed values (no parallel message types).

Wire form of a published message: two ZeroMQ frames ``[topic, envelope]``; a command or reply is the
single frame ``[envelope]``. The envelope is msgpack (msgspec), an array
``[schema, type, publisher, seq, ts_ns, body]``:

- ``schema``: :data:`SCHEMA_VERSION`; a receiver rejects any other version (an old process on the bus);
- ``type``: the payload's name: a domain event's ``kind`` (``order_filled`` ...), ``bar``, ``tick``, or a
  command/reply name (``submit``, ``cancel``, ``query``, ``reply``);
- ``publisher``: the sender's id, unique per incarnation (a restarted process is a new publisher);
- ``seq``: 1, 2, 3 ... per (publisher, topic) for published messages, per client for commands: gaps are
  detectable by any subscriber whatever prefix it filters on, because a prefix filter takes or leaves a
  whole topic;
- ``ts_ns``: the sender's wall clock when it encoded the message (ns since the epoch), for lag;
- ``body``: the payload, msgpack of the domain dataclass itself (``Bar``, ``Tick``, ``OrderFilled`` ...).

Decoding validates types (msgspec) and the domain's own invariants (``__post_init__``); anything that
fails raises :class:`Rejected` with a stable ``reason`` that receivers count.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import msgspec

from nofx.domain.errors import NofxError
from nofx.domain.events import (
    CorporateActionApplied,
    DividendTaxDeducted,
    Event,
    OrderDenied,
    OrderFilled,
    OrderSubmitted,
    _EVENT_TYPES,
)
from nofx.domain.fills import Fill
from nofx.domain.market_data import Bar, Tick
from nofx.domain.orders import Order, OrderRequest

SCHEMA_VERSION = 1


class Envelope(msgspec.Struct, array_like=True, frozen=True):
    schema: int
    type: str
    publisher: str
    seq: int
    ts_ns: int
    body: msgspec.Raw


class CancelOrder(msgspec.Struct, frozen=True):
    order_id: str
    reason: str = "cancelled by user"


class QueryOrder(msgspec.Struct, frozen=True):
    """Look an order up by the engine's ``order_id`` or the client's ``client_order_id`` (one of them)."""

    order_id: str = ""
    client_order_id: str = ""


class Reply(msgspec.Struct, frozen=True):
    """The engine's answer to the command with sequence ``request_seq``; ``order`` is the order's state
    (None when the command failed: ``code`` and ``message`` say why)."""

    request_seq: int
    ok: bool
    order: Order | None = None
    code: str = ""
    message: str = ""


class ReplayEvents(msgspec.Struct, frozen=True):
    """Ask the engine for the events it published on ``topic`` with sequence numbers ``first_seq`` to
    ``last_seq`` (inclusive): what a subscriber missed in a gap, read back from the engine's ledger."""

    topic: str
    first_seq: int
    last_seq: int


class Replayed(msgspec.Struct, frozen=True):
    """The answer to :class:`ReplayEvents`: the envelopes exactly as they were (or would have been)
    published, in order, to be decoded like any received frame."""

    request_seq: int
    ok: bool
    frames: list[bytes] = []
    code: str = ""
    message: str = ""


# ---- the lockstep replay of `nofx system` (see nofx.messaging.system) ---------------------------------
class BarSlice(msgspec.Struct, frozen=True):
    """One time slice of a replay feed, as panel rows: ``fields[name][k]`` is the value of ``symbols[k]``
    (NaN where that symbol has no bar). Published by the market-data service on ``md.slice.<feed>``;
    a strategy process rebuilds exactly the panel a backtest's strategy sees from these rows."""

    feed: str
    index: int
    count: int  # slices in the whole replay
    ts_ns: int  # the slice's bar time (exchange local, ns since the epoch of the naive time)
    symbols: list[str]
    fields: dict[str, list[float]]


class SliceRequest(msgspec.Struct, frozen=True):
    """Ask the market-data service to publish slices ``first``..``last`` of ``feed`` (``sys.want``): the
    engine asks for the next slice when it is ready for it (replay advances on acknowledgements), a
    restarted strategy for what it missed."""

    feed: str
    first: int
    last: int


class PositionState(msgspec.Struct, frozen=True):
    symbol: str
    quantity: int
    sellable: int
    avg_cost: Decimal


class SliceNote(msgspec.Struct, frozen=True):
    """What the engine told a strategy between two of its slices, in order: a fill (``on_fill``) or a
    refusal (``on_rejection``: the request, its code and reason)."""

    fill: Fill | None = None
    request: OrderRequest | None = None
    code: str = ""
    reason: str = ""


class EngineReady(msgspec.Struct, frozen=True):
    """The engine has done its part of slice ``index`` for ``trader`` (day start, corporate actions,
    resting orders matched): the account as the strategy must see it, and the notes since the
    strategy's last slice (``notes[0]`` is note number ``first_note``). Published on
    ``sys.ready.<trader>``; the strategy answers with :class:`SliceOrders` for the same index."""

    engine: str  # the engine's incarnation: a new one means the notes were renumbered from its ledger
    trader: str
    index: int
    cash: Decimal
    equity: float
    positions: list[PositionState]
    first_note: int
    notes: list[SliceNote]
    done: bool = False  # the replay is over (index: the slice count); the strategy process may exit


class SliceOrders(msgspec.Struct, frozen=True):
    """A strategy's orders for slice ``index`` (empty: "done, nothing to send"), a command to the engine.
    ``notes_seen``: notes the strategy has applied; ``messages``: its new log lines (the run's messages)."""

    trader: str
    index: int
    orders: list[OrderRequest]
    notes_seen: int = 0
    messages: list[str] = []


class Hello(msgspec.Struct, frozen=True):
    """A (re)started strategy process introduces itself; the engine answers with the slice it waits on
    for this trader (if any) with every note from the first."""

    trader: str


class SliceReply(msgspec.Struct, frozen=True):
    """The engine's answer to :class:`SliceOrders` (the orders as acknowledged, i.e. persisted) or to
    :class:`Hello` (``ready``: the pending slice, if any). ``code`` ``SYS_NOT_READY``: the engine is not
    at that slice yet (it restarted): wait for its next :class:`EngineReady`."""

    request_seq: int
    ok: bool
    orders: list[Order] = []
    ready: EngineReady | None = None
    done: bool = False  # the replay is over
    code: str = ""
    message: str = ""


class QuoteRequest(msgspec.Struct, frozen=True):
    """Ask the market-data service for its latest bar and tick of each symbol (empty: every symbol)."""

    symbols: list[str] = []


class QuoteSnapshot(msgspec.Struct, frozen=True):
    """The market-data service's answer to :class:`QuoteRequest`: the latest bar and the latest tick
    it has of each symbol asked for (a symbol it has not seen is left out)."""

    request_seq: int
    bars: list[Bar] = []
    ticks: list[Tick] = []


class StatusRequest(msgspec.Struct, frozen=True):
    """Ask a process (``sys.status`` topic) to publish its :class:`ProcessStatus`."""

    target: str = ""  # "" = everyone


class ProcessStatus(msgspec.Struct, frozen=True):
    """A process's health, published on ``sys.health.<name>`` every second and on request."""

    name: str
    role: str
    pid: int
    started_ns: int
    received: int
    sent: int
    rejected: dict[str, int]
    gaps: int
    lost: int
    lag_ms: float  # now - send time of the last message received
    index: int = -1  # the replay slice it is at


# payload type name -> payload class. Domain events keep their ``kind`` as their bus name.
PAYLOAD_TYPES: dict[str, type] = {
    "bar": Bar,
    "tick": Tick,
    **_EVENT_TYPES,
    "submit": OrderRequest,
    "cancel": CancelOrder,
    "query": QueryOrder,
    "reply": Reply,
    "replay": ReplayEvents,
    "replayed": Replayed,
    "bar_slice": BarSlice,
    "slice_request": SliceRequest,
    "engine_ready": EngineReady,
    "slice_orders": SliceOrders,
    "hello": Hello,
    "slice_reply": SliceReply,
    "status_request": StatusRequest,
    "quote_request": QuoteRequest,
    "quote_snapshot": QuoteSnapshot,
    "status": ProcessStatus,
}
_TYPE_NAMES: dict[type, str] = {cls: name for name, cls in PAYLOAD_TYPES.items()}
_DECODERS = {name: msgspec.msgpack.Decoder(cls) for name, cls in PAYLOAD_TYPES.items()}
_ENVELOPE = msgspec.msgpack.Decoder(Envelope)
_ENCODER = msgspec.msgpack.Encoder(decimal_format="string")


class Rejected(Exception):
    """A frame that is not a valid message. ``reason`` is one of ``garbage`` (not an envelope),
    ``schema`` (another schema version), ``unknown_type``, ``invalid_body`` (wrong fields/types or a
    domain invariant broken)."""

    def __init__(self, reason: str, detail: str, publisher: str = "", seq: int = 0) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.publisher = publisher  # the sender and its sequence number, when the envelope was readable
        self.seq = seq


@dataclass(frozen=True, slots=True)
class Message:
    """A decoded message: the envelope's header and the payload as its domain value."""

    type: str
    publisher: str
    seq: int
    ts_ns: int
    payload: Any


def type_name(payload: Any) -> str:
    try:
        return _TYPE_NAMES[type(payload)]
    except KeyError:
        raise TypeError(f"{type(payload).__name__} is not a bus payload (see PAYLOAD_TYPES)") from None


def encode(payload: Any, publisher: str, seq: int, ts_ns: int | None = None,
           schema: int = SCHEMA_VERSION) -> bytes:
    """Envelope bytes for ``payload`` (``schema`` is a parameter only so tests can forge old senders)."""
    # one encoder pass: a Struct is not type-checked when built, so the payload itself goes in the body
    # field and is written inline, the same bytes as encoding it first and wrapping it as Raw
    env = Envelope(schema, type_name(payload), publisher, seq, time.time_ns() if ts_ns is None else ts_ns,
                   payload)
    return _ENCODER.encode(env)


def decode(frame: bytes) -> Message:
    """Validate and decode one envelope frame; raises :class:`Rejected`, never anything else."""
    try:
        env = _ENVELOPE.decode(frame)
    except (msgspec.DecodeError, msgspec.ValidationError) as e:
        raise Rejected("garbage", str(e)) from None
    if env.schema != SCHEMA_VERSION:
        raise Rejected("schema", f"schema version {env.schema} from {env.publisher!r}, this process "
                                 f"speaks {SCHEMA_VERSION}", env.publisher, env.seq)
    decoder = _DECODERS.get(env.type)
    if decoder is None:
        raise Rejected("unknown_type", f"message type {env.type!r} from {env.publisher!r}",
                       env.publisher, env.seq)
    try:
        payload = decoder.decode(env.body)
    except (msgspec.DecodeError, msgspec.ValidationError, NofxError, ArithmeticError, ValueError) as e:
        raise Rejected("invalid_body", f"{env.type} from {env.publisher!r}: {e}", env.publisher, env.seq) from None
    return Message(env.type, env.publisher, env.seq, env.ts_ns, payload)


def topic_for(payload: Any, source: str = "") -> str:
    """The topic a payload is published on. Prefixes (subscribe to any prefix of these):

    - ``md.bar.<symbol>`` / ``md.tick.<symbol>`` (e.g. ``md.bar.600519.SH``): market data;
    - ``fill.<trader>.<symbol>``: fills; ``risk.<trader>``: pre-trade risk denials;
    - ``account.<trader>``: corporate actions and dividend tax booked on the account;
    - ``order.<trader>``: every other order event (submitted, accepted, rejected, cancelled ...).

    ``source`` is the trader id of the engine that emitted an event (events other than
    ``OrderSubmitted`` do not carry it)."""
    if isinstance(payload, Bar):
        return f"md.bar.{payload.symbol}"
    if isinstance(payload, Tick):
        return f"md.tick.{payload.symbol}"
    if isinstance(payload, OrderSubmitted):
        source = payload.trader_id
    if isinstance(payload, OrderFilled):
        return f"fill.{source}.{payload.fill.symbol}"
    if isinstance(payload, OrderDenied):
        return f"risk.{source}"
    if isinstance(payload, (CorporateActionApplied, DividendTaxDeducted)):
        return f"account.{source}"
    if isinstance(payload, Event):
        return f"order.{source}"
    raise TypeError(f"{type(payload).__name__} is not published on the bus")


__all__ = ["SCHEMA_VERSION", "Envelope", "CancelOrder", "QueryOrder", "Reply", "ReplayEvents", "Replayed",
           "BarSlice", "SliceRequest", "PositionState", "SliceNote", "EngineReady", "SliceOrders", "Hello",
           "SliceReply", "QuoteRequest", "QuoteSnapshot", "StatusRequest", "ProcessStatus", "PAYLOAD_TYPES", "Rejected",
           "Message", "type_name", "encode", "decode", "topic_for"]
