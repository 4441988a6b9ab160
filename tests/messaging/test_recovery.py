"""Gap recovery from the engine's ledger: the engine process publishes its committed events (numbered by
their place in the ledger); a subscriber that misses some finds the gap and gets exactly the missing
events back from the ledger, also across an engine restart."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from nofx.domain.enums import Side
from nofx.domain.errors import ConfigError
from nofx.domain.events import Event
from nofx.domain.orders import OrderRequest, OrderType
from nofx.messaging.commands import CommandClient
from nofx.messaging.ledger_feed import EngineEventFeed, numbered
from nofx.messaging.pubsub import Gap, Subscriber
from nofx.persistence.store import SqlLedgerStore
from tests.engine.harness import make_engine
from tests.messaging.bus_helpers import PROCS, start, stop


def _order(i: int) -> OrderRequest:
    return OrderRequest("600519.SH", Side.BUY, 100, OrderType.LIMIT, Decimal("1990"), client_order_id=f"s-{i}")


@pytest.mark.slow  # two engine processes with a SQLite ledger
def test_missed_events_are_recovered_from_the_ledger_across_an_engine_restart(ipc_config, broker_proc, tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    engine = start(str(PROCS), "engine", ipc_config.engine_endpoint, ipc_config.pub_endpoint, url)
    try:
        async def run():
            nonlocal engine
            gaps: list[Gap] = []
            sub = Subscriber(ipc_config.sub_endpoint, ["order.t"], on_gap=gaps.append)
            client = CommandClient(ipc_config.command_endpoint, "s", timeout=2, retries=3)
            seen: dict[int, Event] = {}

            async def submit_until_seen(first: int) -> int:
                """Submit orders until the subscriber receives an event (subscriptions propagate
                asynchronously); returns the next order number."""
                i = first
                while True:
                    assert (await client.submit(_order(i))).ok
                    i += 1
                    got = await sub.receive(timeout=0.1)
                    seen.update((m.seq, m.payload) for _, m in got)
                    if got:
                        return i

            i = await submit_until_seen(0)
            sub.unsubscribe("order.t")  # miss what follows ...
            for _ in range(5):
                assert (await client.submit(_order(i))).ok
                i += 1
            stop(engine)  # ... including across an engine restart
            engine = start(str(PROCS), "engine", ipc_config.engine_endpoint, ipc_config.pub_endpoint, url)
            assert (await client.submit(_order(i))).ok
            i += 1
            sub.subscribe("order.t")
            i = await submit_until_seen(i)
            while batch := await sub.receive(timeout=0.5):
                seen.update((m.seq, m.payload) for _, m in batch)
            recovered = 0
            for gap in gaps:
                for m in await client.replay(gap):
                    assert m.seq not in seen
                    seen[m.seq] = m.payload
                    recovered += 1
            return sub, gaps, seen, recovered

        sub, gaps, seen, recovered = asyncio.run(run())
    finally:
        stop(engine)
    ledger = {n: ev for topic, n, ev in numbered(SqlLedgerStore(url).events("t"), "t") if topic == "order.t"}
    assert len(gaps) == 1 and sub.counters.lost >= 8  # most of 6 orders' submitted + accepted events
    assert recovered == sub.counters.lost
    first = min(seen)
    assert seen == {n: ev for n, ev in ledger.items() if n >= first}  # nothing missing, nothing invented


def test_the_feed_refuses_an_engine_that_tells_listeners_before_committing(ipc_config, tmp_path):
    store = SqlLedgerStore(f"sqlite:///{tmp_path / 'ledger.db'}")
    eng, _, _ = make_engine(store=store)
    eng.group_commit = True  # staged events are heard before they are durable
    feed = EngineEventFeed(ipc_config.pub_endpoint, "t", store)
    with pytest.raises(ConfigError, match="group commit off"):
        feed.attach(eng)
    feed.close()
