"""Commands to the engine over the broker's ROUTER/DEALER channel: submit, cancel, query.

A :class:`CommandClient` sends a command and waits ``timeout`` seconds for its reply; on a timeout it
sends the very same message again (same sequence number), up to ``retries`` times, then raises
:class:`CommandTimeout`. Retrying is safe because every command is idempotent at the engine: a
submission carries a ``client_order_id`` and the engine returns the first order for a repeated id
(``TradingEngine.submit``), a repeated cancel finds the order already closed and reports its state,
and a query changes nothing. A reply to an earlier attempt that arrives late answers the same
question, and replies to older commands are ignored.

The engine side is a :class:`CommandServer` that connects to the broker's ``engine_endpoint`` and hands
each valid command to a handler, such as :class:`EngineCommands` around a ``TradingEngine``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Callable, cast

import zmq
import zmq.asyncio

from nofx.domain.errors import NofxError, OrderError
from nofx.domain.orders import Order, OrderRequest
from nofx.engine.kernel import TradingEngine
from nofx.messaging.counters import BusCounters
from nofx.engine.store import LedgerStore
from nofx.messaging.ledger_feed import EngineEventFeed, replay_frames
from nofx.messaging.messages import (
    CancelOrder,
    Hello,
    Message,
    QueryOrder,
    Rejected,
    ReplayEvents,
    Replayed,
    Reply,
    SliceOrders,
    SliceReply,
    decode,
    encode,
)
from nofx.messaging.pubsub import Gap, publisher_id

COMMAND_TYPES = (OrderRequest, CancelOrder, QueryOrder, ReplayEvents, SliceOrders, Hello)
_REPLY_TYPE: dict[type, type] = {ReplayEvents: Replayed, SliceOrders: SliceReply, Hello: SliceReply}


class CommandTimeout(NofxError):
    code = "BUS_TIMEOUT"


class CommandClient:
    """Sends commands to the broker's ``command_endpoint`` (DEALER). One outstanding command at a time
    per client; use several clients for concurrency."""

    def __init__(self, endpoint: str, name: str = "client", ctx: zmq.asyncio.Context | None = None,
                 timeout: float = 1.0, retries: int = 3) -> None:
        self.id = publisher_id(name)
        self.timeout = timeout
        self.retries = retries
        self._ctx = ctx or zmq.asyncio.Context.instance()
        self._sock = self._ctx.socket(zmq.DEALER)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.connect(endpoint)
        self._seq = 0
        self.attempts = 0  # messages sent, retries included
        self.counters = BusCounters()

    async def submit(self, request: OrderRequest) -> Reply:
        if not request.client_order_id:
            # without it a retried submission could create a second order
            raise OrderError("an order sent over the bus needs a client_order_id", symbol=request.symbol)
        return cast(Reply, await self.call(request))

    async def cancel(self, order_id: str, reason: str = "cancelled by user") -> Reply:
        return cast(Reply, await self.call(CancelOrder(order_id, reason)))

    async def query(self, order_id: str = "", client_order_id: str = "") -> Reply:
        return cast(Reply, await self.call(QueryOrder(order_id, client_order_id)))

    async def replay(self, gap: Gap) -> list[Message]:
        """The messages a subscriber missed in ``gap`` (a stream of the engine's event feed), read back
        from the engine's ledger; raises ``NofxError`` (the engine's code) if the engine cannot."""
        reply = cast(Replayed, await self.call(ReplayEvents(gap.topic, gap.expected, gap.received - 1)))
        if not reply.ok:
            raise NofxError(f"the engine cannot replay {gap.topic}: {reply.message}", code=reply.code)
        out = []
        for frame in reply.frames:
            try:
                out.append(decode(frame))
            except Rejected as e:
                self.counters.reject(e, "command client")
        return out

    async def call(self, command: Any) -> Reply | Replayed | SliceReply:
        if not isinstance(command, COMMAND_TYPES):
            raise TypeError(f"{type(command).__name__} is not a command")
        self._seq += 1
        seq = self._seq
        frame = encode(command, self.id, seq)
        expected = _REPLY_TYPE.get(type(command), Reply)
        for _ in range(self.retries + 1):
            await self._sock.send(frame)
            self.attempts += 1
            reply = await self._await_reply(seq, expected, time.monotonic() + self.timeout)
            if reply is not None:
                return reply
        raise CommandTimeout(f"no reply from the engine after {self.retries + 1} attempts of "
                             f"{self.timeout:g}s", command=type(command).__name__, seq=seq)

    async def _await_reply(self, seq: int, expected: type, deadline: float) -> Reply | Replayed | SliceReply | None:
        while (left := deadline - time.monotonic()) > 0:
            if not await self._sock.poll(int(left * 1000) + 1, zmq.POLLIN):
                return None
            frames = await self._sock.recv_multipart()
            try:
                msg = decode(frames[-1])
            except Rejected as e:
                self.counters.reject(e, "command client")
                continue
            if isinstance(msg.payload, expected) and msg.payload.request_seq == seq:
                self.counters.received += 1
                return msg.payload
            self.counters.stale += 1  # a late reply to an older command, already answered
        return None

    def close(self) -> None:
        self._sock.close()


Handler = Callable[[Any, int], "Reply | Replayed | SliceReply"]


class CommandServer:
    """Serves commands from the broker's ``engine_endpoint``: each valid command goes to ``handler``
    (``handler(command, request_seq) -> Reply``); an invalid one is counted, logged and answered with
    ``ok=False`` when its sender can be told (``code`` ``BUS_REJECTED``)."""

    def __init__(self, endpoint: str, handler: Handler, name: str = "engine",
                 ctx: zmq.asyncio.Context | None = None) -> None:
        self.id = publisher_id(name)
        self.handler = handler
        self._ctx = ctx or zmq.asyncio.Context.instance()
        self._sock = self._ctx.socket(zmq.DEALER)
        self._sock.setsockopt(zmq.LINGER, 1000)
        self._sock.connect(endpoint)
        self._replies = 0
        self.counters = BusCounters()

    async def serve(self, stop: asyncio.Event | None = None, max_batch: int = 256) -> None:
        """Serve until ``stop``. Commands already queued are taken together (up to ``max_batch``): each is
        handled, then the handler's ``commit()`` (if it has one) makes their effects durable at once
        (one ledger transaction for the batch), and only then do the replies go out: an acknowledged
        command is a committed one, and under load the commit cost is shared."""
        stop = stop or asyncio.Event()
        commit = getattr(self.handler, "commit", None)
        while not stop.is_set():
            if not await self._sock.poll(100, zmq.POLLIN):
                continue
            batch = [await self._sock.recv_multipart()]
            while len(batch) < max_batch:
                try:
                    batch.append(await self._sock.recv_multipart(zmq.NOBLOCK))
                except zmq.Again:
                    break
            replies = [(frames, self.handle(frames[-1])) for frames in batch]
            if commit is not None:
                commit()
            for frames, reply in replies:
                if reply is not None:
                    self._replies += 1
                    await self._sock.send_multipart([*frames[:-1], encode(reply, self.id, self._replies)])

    def handle(self, frame: bytes) -> Reply | Replayed | SliceReply | None:
        try:
            msg = decode(frame)
        except Rejected as e:
            self.counters.reject(e, "command server")
            return Reply(e.seq, False, None, "BUS_REJECTED", str(e)) if e.publisher else None
        if not isinstance(msg.payload, COMMAND_TYPES):
            e = Rejected("not_a_command", f"{msg.type} from {msg.publisher!r}", msg.publisher, msg.seq)
            self.counters.reject(e, "command server")
            return Reply(msg.seq, False, None, "BUS_REJECTED", str(e))
        self.counters.received += 1
        return self.handler(msg.payload, msg.seq)

    def close(self) -> None:
        self._sock.close()


class EngineCommands:
    """The command handler of an engine process: submit, cancel and query on one ``TradingEngine``, and
    replays of its event feed from ``store`` (its ledger). A reply is sent only after the engine has
    persisted what it acknowledges: the command server calls :meth:`commit` before replying."""

    def __init__(self, engine: TradingEngine, store: LedgerStore | None = None,
                 feeds: tuple[EngineEventFeed, ...] = ()) -> None:
        self.engine = engine
        self.store = store
        self.feeds = feeds  # event feeds that publish what the engine committed (group commit: after commit())

    def commit(self) -> None:
        """Make the batch's events durable (group commit), then let the event feeds publish them. The
        command server calls this before it sends the batch's replies."""
        self.engine.flush()
        for feed in self.feeds:
            feed.release()

    def __call__(self, command: Any, seq: int) -> Reply | Replayed:
        eng = self.engine
        if isinstance(command, ReplayEvents):
            if self.store is None:
                return Replayed(seq, False, code="BUS_NO_LEDGER", message="this engine keeps no ledger")
            return Replayed(seq, True, replay_frames(self.store, eng.trader_id, command.topic,
                                                     command.first_seq, command.last_seq))
        try:
            if isinstance(command, OrderRequest):
                order = eng.submit(command)
            elif isinstance(command, CancelOrder):
                eng.cancel(command.order_id, command.reason)
                order = eng.oms.get(command.order_id)
            else:
                order = self._find(command)
        except NofxError as e:
            return Reply(seq, False, None, e.code, str(e))
        return Reply(seq, True, order)  # encoded at once, before the OMS changes it again

    def _find(self, q: QueryOrder) -> Order:
        if q.client_order_id:
            order = self.engine.oms.find_client_order(q.client_order_id)
            if order is None:
                raise OrderError("unknown client order id", client_order_id=q.client_order_id)
            return order
        return self.engine.oms.get(q.order_id)

