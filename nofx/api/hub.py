"""Fan-out of live events (order updates, fills, equity, quotes) from trader threads to WebSocket
connections on the server's event loop.

Publishers run in worker threads; each subscriber owns an ``asyncio.Queue`` filled through
``loop.call_soon_threadsafe``. Messages carry the owner's user id; a subscriber only ever receives its
own user's trader events (quotes are public market data). A slow client's queue is bounded: when it is
full the oldest message is dropped, so one stalled socket never holds memory or a trader thread.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

QUEUE_SIZE = 1000


@dataclass(eq=False)
class Subscriber:
    user_id: str
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    channels: set[str] = field(default_factory=set)  # "orders", "fills", "equity"
    traders: set[str] = field(default_factory=set)  # empty: all of the user's traders
    symbols: set[str] = field(default_factory=set)  # quotes

    def wants(self, msg: dict[str, Any]) -> bool:
        kind = msg["type"]
        if kind == "quote":
            return msg["symbol"] in self.symbols
        if msg.get("owner_id") != self.user_id or kind + "s" not in self.channels and kind not in self.channels:
            return False
        return not self.traders or msg.get("trader_id") in self.traders

    def put(self, msg: dict[str, Any]) -> bool:  # on the loop
        """Queue ``msg``; True if the oldest message had to be dropped to make room."""
        dropped = self.queue.full()
        if dropped:
            self.queue.get_nowait()
        self.queue.put_nowait(msg)
        return dropped


class EventHub:
    """``relay`` (several worker processes): a function that also sends each published message to the
    other processes, which hand it to their own subscribers with :meth:`deliver`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subs: set[Subscriber] = set()
        self.relay: Callable[[dict[str, Any]], None] | None = None
        self.delivered = 0  # messages handed to subscribers (counted under the lock; /metrics reads them)
        self.dropped = 0  # messages a full subscriber queue dropped

    def subscribe(self, sub: Subscriber) -> None:
        with self._lock:
            self._subs.add(sub)

    def unsubscribe(self, sub: Subscriber) -> None:
        with self._lock:
            self._subs.discard(sub)

    def publish(self, msg: dict[str, Any]) -> None:
        if self.relay is not None:
            self.relay(msg)
        self.deliver(msg)

    def deliver(self, msg: dict[str, Any]) -> None:
        """Hand ``msg`` to this process' subscribers that want it."""
        with self._lock:
            targets = [s for s in self._subs if s.wants(msg)]
            self.delivered += len(targets)
        for s in targets:
            public = {k: v for k, v in msg.items() if k != "owner_id"}
            try:
                s.loop.call_soon_threadsafe(self._put, s, public)
            except RuntimeError:  # the loop closed (server shutting down)
                self.unsubscribe(s)

    def _put(self, sub: Subscriber, msg: dict[str, Any]) -> None:  # on the subscriber's loop
        if sub.put(msg):
            with self._lock:
                self.dropped += 1

    def stats(self) -> dict[str, int]:
        """Counters for /metrics: delivered ("received"), dropped ("lost"), subscribers, queued messages."""
        with self._lock:
            subs = list(self._subs)
            return {"received": self.delivered, "lost": self.dropped, "subscribers": len(subs),
                    "queued": sum(s.queue.qsize() for s in subs)}

    @property
    def active(self) -> bool:
        return bool(self._subs) or self.relay is not None
