"""Publishing and subscribing through the broker, with sequence numbers and gap detection.

A :class:`Publisher` numbers the messages of each topic 1, 2, 3 ...; a :class:`Subscriber` checks that
each (publisher, topic) stream goes up by one. A skip is a gap (messages dropped at a slow
subscriber's high-water mark, or lost while the broker restarted): it is counted (``gaps`` and
``lost``) and handed to the ``on_gap`` hook, where the caller recovers what it missed. Recovery from
the engine's ledger is the caller's business: this module only detects. A message at or below the last
sequence number seen is a duplicate and is discarded (``stale``).

Receiving is asyncio (``await sub.receive()``) but each wake-up drains every queued message with
non-blocking reads, so the event loop costs one await per burst, not per message. A ZeroMQ message is
``[topic, envelope]`` or, from :meth:`Publisher.publish_many`, a batch ``[topic, envelope, envelope ...]``
whose envelopes are checked one by one like single messages.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

import zmq
import zmq.asyncio

from nofx.messaging.counters import BusCounters
from nofx.messaging.messages import Message, Rejected, decode, encode, topic_for


def publisher_id(name: str) -> str:
    """``name/pid/token``: unique per incarnation, so a restarted process starts fresh sequences that
    no subscriber mistakes for duplicates."""
    return f"{name}/{os.getpid()}/{uuid.uuid4().hex[:8]}"


class Publisher:
    """Publishes domain values (bars, ticks, events) to the broker's ``pub_endpoint``.

    ``publish`` never blocks (a PUB socket drops at its high-water mark), so it is safe to call from
    asyncio code; it uses a plain socket because an awaitable send would cost a future per message."""

    def __init__(self, endpoint: str, name: str, ctx: zmq.Context | None = None, hwm: int = 100_000,
                 durable_id: str | None = None, start_seqs: dict[str, int] | None = None) -> None:
        # a durable id with the sequence numbers reached so far continues a stream across restarts
        # (the engine's event feed numbers events by their place in the ledger)
        self.id = durable_id or publisher_id(name)
        self._ctx = ctx or zmq.Context.instance()
        self._sock = self._ctx.socket(zmq.PUB)
        self._sock.setsockopt(zmq.SNDHWM, hwm)
        self._sock.setsockopt(zmq.LINGER, 1000)
        self._sock.connect(endpoint)
        self._seq: dict[str, int] = dict(start_seqs or {})
        self.sent = 0

    def publish(self, payload: Any, source: str = "") -> int:
        """Publish ``payload`` on its topic (:func:`~nofx.messaging.messages.topic_for`); returns its seq."""
        return self.publish_on(topic_for(payload, source), payload)

    def publish_on(self, topic: str, payload: Any) -> int:
        seq = self._seq.get(topic, 0) + 1
        self._seq[topic] = seq
        self._sock.send_multipart((topic.encode(), encode(payload, self.id, seq)))  # copying is cheaper for small frames
        self.sent += 1
        return seq

    def publish_many(self, topic: str, payloads: Sequence[Any]) -> int:
        """Publish ``payloads`` on ``topic`` as one ZeroMQ message ``[topic, envelope, envelope ...]``
        (consecutive sequence numbers): what a bulk sender (a replay, a slice of bars) uses, since the
        per-message cost of the sockets and of the receiver's wake-ups is paid once per batch. Returns
        the last sequence number."""
        seq = self._seq.get(topic, 0)
        frames = [topic.encode()]
        pid = self.id
        for p in payloads:
            seq += 1
            frames.append(encode(p, pid, seq))
        self._seq[topic] = seq
        self._sock.send_multipart(frames)
        self.sent += len(payloads)
        return seq

    def send_frames(self, topic: str, frame: bytes) -> None:
        """Send an arbitrary frame (for tools and tests that speak to the bus as a foreign sender)."""
        self._sock.send_multipart((topic.encode(), frame))

    def close(self) -> None:
        self._sock.close()


@dataclass(frozen=True, slots=True)
class Gap:
    publisher: str
    topic: str
    expected: int  # the sequence number that should have come
    received: int  # the one that came; ``received - expected`` messages are missing


class Subscriber:
    """Subscribes to topic prefixes (``md.bar.``, ``md.bar.600519.SH``, ``fill.`` ...) on the broker's
    ``sub_endpoint``. Invalid frames are rejected and counted (``counters.rejected``), never raised."""

    def __init__(self, endpoint: str, topics: Iterable[str], ctx: zmq.asyncio.Context | None = None,
                 hwm: int = 100_000, on_gap: Callable[[Gap], None] | None = None, name: str = "subscriber") -> None:
        self._ctx = ctx or zmq.asyncio.Context.instance()
        self._asock = self._ctx.socket(zmq.SUB)
        self._sock = zmq.Socket.shadow(self._asock.underlying)  # non-blocking drains without a future each
        self._sock.setsockopt(zmq.RCVHWM, hwm)
        self._sock.setsockopt(zmq.LINGER, 0)
        for t in topics:
            self._sock.setsockopt(zmq.SUBSCRIBE, t.encode())
        self._sock.connect(endpoint)
        self._last: dict[tuple[str, bytes], int] = {}
        self.on_gap = on_gap
        self.name = name
        self.counters = BusCounters()

    def subscribe(self, topic: str) -> None:
        self._sock.setsockopt(zmq.SUBSCRIBE, topic.encode())

    def unsubscribe(self, topic: str) -> None:
        """Stop receiving ``topic`` (a prefix given before); resubscribing later shows what was
        published meanwhile as a gap."""
        self._sock.setsockopt(zmq.UNSUBSCRIBE, topic.encode())

    async def receive(self, timeout: float | None = None) -> list[tuple[str, Message]]:
        """Wait up to ``timeout`` seconds (None: forever) for messages; return every valid one queued,
        as ``(topic, message)`` in arrival order (empty on timeout)."""
        if not self._sock.poll(0):
            ready = await self._asock.poll(None if timeout is None else int(timeout * 1000), zmq.POLLIN)
            if not ready:
                return []
        return self.drain()

    def drain(self, limit: int = 10_000) -> list[tuple[str, Message]]:
        """Every valid message already queued (at most ``limit``), without waiting."""
        out: list[tuple[str, Message]] = []
        recv = self._sock.recv_multipart
        for _ in range(limit):
            try:
                frames = recv(zmq.NOBLOCK)
            except zmq.Again:
                break
            if len(frames) == 2:
                msg = self._accept(frames[0], frames[1])
                if msg is not None:
                    out.append(msg)
            elif len(frames) > 2:  # a batch: [topic, envelope, envelope ...]
                topic = frames[0]
                for frame in frames[1:]:
                    msg = self._accept(topic, frame)
                    if msg is not None:
                        out.append(msg)
            else:
                self.counters.reject(Rejected("garbage", "a message without an envelope, expected "
                                                         "[topic, envelope ...]"), self.name)
        return out

    def _accept(self, topic: bytes, frame: bytes) -> tuple[str, Message] | None:
        try:
            msg = decode(frame)
        except Rejected as e:
            self.counters.reject(e, self.name)
            return None
        key = (msg.publisher, topic)
        last = self._last.get(key)
        if last is not None:
            if msg.seq <= last:
                self.counters.stale += 1
                return None
            if msg.seq != last + 1:
                self.counters.gaps += 1
                self.counters.lost += msg.seq - last - 1
                if self.on_gap is not None:
                    self.on_gap(Gap(msg.publisher, topic.decode(errors="replace"), last + 1, msg.seq))
        # the first message of a stream sets its start: a subscriber that joins late has missed nothing
        # it asked for
        self._last[key] = msg.seq
        self.counters.received += 1
        return topic.decode(errors="replace"), msg

    def close(self) -> None:
        self._asock.close()
