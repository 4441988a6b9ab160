"""The engine's events on the bus, numbered by their place in the ledger, so a gap is recovered from it.

The feed publishes every event the engine commits, on its topic (``order.<trader>``,
``fill.<trader>.<symbol>`` ...), as publisher ``ledger/<trader>``, numbering the events of each topic
1, 2, 3 ... in ledger order. The numbering is a function of the ledger alone (:func:`numbered`), so:

- a restarted engine continues the same streams (it counts what the ledger holds before publishing),
  and subscribers see its restart as a continuation, or as a gap if it died between commit and send;
- a subscriber that finds a gap (``Subscriber.on_gap``) asks the engine for exactly the missing numbers
  (``CommandClient.replay``), and the engine reads them back from the ledger (:func:`replay_frames`).

Events are published only after the ledger has committed them: on an engine that stages events for a
later group commit (whose listeners hear of events before they are durable) the feed must be
``deferred``: it holds what it hears until :meth:`EngineEventFeed.release`, called after the commit
(``EngineCommands.commit`` does), and refuses such an engine otherwise.
"""

from __future__ import annotations

from typing import Iterable, Iterator

import zmq

from nofx.domain.errors import ConfigError
from nofx.domain.events import Event
from nofx.engine.kernel import TradingEngine
from nofx.engine.store import LedgerStore
from nofx.messaging.messages import encode, topic_for
from nofx.messaging.pubsub import Publisher


def ledger_publisher_id(trader_id: str) -> str:
    return f"ledger/{trader_id}"


def numbered(events: Iterable[Event], trader_id: str) -> Iterator[tuple[str, int, Event]]:
    """``(topic, seq, event)`` for a trader's ledger events in order: ``seq`` counts per topic from 1."""
    seqs: dict[str, int] = {}
    for ev in events:
        topic = topic_for(ev, trader_id)
        n = seqs[topic] = seqs.get(topic, 0) + 1
        yield topic, n, ev


def replay_frames(store: LedgerStore, trader_id: str, topic: str, first_seq: int, last_seq: int) -> list[bytes]:
    """The envelopes of events ``first_seq``..``last_seq`` of ``topic``, as the feed published them
    (their send time is now). Reads the trader's whole event history: fine for the recoveries of a
    day's trading; a ledger index by (topic, seq) is the next step for very long histories."""
    pid = ledger_publisher_id(trader_id)
    return [encode(ev, pid, n) for t, n, ev in numbered(store.events(trader_id), trader_id)
            if t == topic and first_seq <= n <= last_seq]


class EngineEventFeed:
    """Publishes an engine's committed events; attach with ``engine.listeners.append(feed)`` or
    :meth:`attach`."""

    def __init__(self, endpoint: str, trader_id: str, store: LedgerStore | None,
                 ctx: zmq.Context | None = None, deferred: bool = False) -> None:
        self.trader_id = trader_id
        self.deferred = deferred
        self._held: list[Event] = []
        start: dict[str, int] = {}
        if store is not None:
            for topic, n, _ in numbered(store.events(trader_id), trader_id):
                start[topic] = n
        self.publisher = Publisher(endpoint, "engine", ctx, durable_id=ledger_publisher_id(trader_id),
                                   start_seqs=start)

    def attach(self, engine: TradingEngine) -> "EngineEventFeed":
        if engine.group_commit and not self.deferred:
            raise ConfigError("the event feed needs an engine that commits each event before telling "
                              "listeners (group commit off), or deferred=True and release() after each "
                              "commit", trader_id=engine.trader_id)
        engine.listeners.append(self)
        return self

    def __call__(self, event: Event) -> None:
        if self.deferred:
            self._held.append(event)
        else:
            self.publisher.publish(event, self.trader_id)

    def release(self) -> None:
        """Publish what was held (call after the events are committed)."""
        held, self._held = self._held, []
        for event in held:
            self.publisher.publish(event, self.trader_id)

    def close(self) -> None:
        self.publisher.close()
