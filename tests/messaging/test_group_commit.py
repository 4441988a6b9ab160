"""The command server under concurrent clients: queued commands are committed together (fewer ledger
transactions than commands), every reply comes after its command is in the ledger, and a deferred
event feed publishes each committed event exactly once, in ledger order."""

from __future__ import annotations

import asyncio
from datetime import datetime
from decimal import Decimal

import zmq.asyncio

from nofx.domain.enums import Side
from nofx.domain.orders import OrderRequest
from nofx.engine.store import TraderRecord
from nofx.messaging.commands import CommandClient, CommandServer, EngineCommands
from nofx.messaging.ledger_feed import EngineEventFeed
from nofx.messaging.pubsub import Subscriber
from nofx.persistence.store import SqlLedgerStore
from tests.engine.harness import make_engine
from tests.messaging.bus_helpers import warm_up


def test_concurrent_commands_share_commits_and_replies_follow_them(ipc_config, broker_proc, tmp_path):
    store = SqlLedgerStore(f"sqlite:///{tmp_path / 'l.db'}")
    store.create_trader(TraderRecord("t", Decimal("100000000"), "cn", "{}", datetime(2021, 6, 1)))
    eng, _, _ = make_engine(cash="100000000", store=store)  # cash for every order: none denied
    eng.group_commit = True
    feed = EngineEventFeed(ipc_config.pub_endpoint, "t", store, deferred=True).attach(eng)
    server = CommandServer(ipc_config.engine_endpoint, EngineCommands(eng, store, (feed,)))
    n_clients, per_client = 8, 25

    async def client(k: int, ctx) -> None:
        c = CommandClient(ipc_config.command_endpoint, f"c{k}", ctx=ctx, timeout=10, retries=0)
        for i in range(per_client):
            r = await c.submit(OrderRequest("600519.SH", Side.BUY, 100, limit_price=Decimal("1900"),
                                            client_order_id=f"c{k}-{i}"))
            assert r.ok and r.order.status.value == "accepted"
            # acknowledged means committed: the ledger already has this order
            assert store.find_by_client_order_id("t", f"c{k}-{i}") is not None
        c.close()

    async def run() -> tuple[int, list]:
        ctx = zmq.asyncio.Context()
        sub = Subscriber(ipc_config.sub_endpoint, ["order.", "risk.", "ctl."], ctx=ctx)
        stop = asyncio.Event()
        serving = asyncio.create_task(server.serve(stop))
        await warm_up(lambda: feed.publisher.publish_on("ctl.warmup", OrderRequest(
            "600519.SH", Side.BUY, 100, client_order_id="w")), [sub])
        got: list = []
        n = 2 * n_clients * per_client

        async def read() -> None:  # the feed, read while the clients trade
            while len(got) < n:
                msgs = await sub.receive(10.0)
                assert msgs, f"feed stopped at {len(got)}: {sub.counters.as_dict()}"
                got.extend(m for t, m in msgs if not t.startswith("ctl."))

        reader = asyncio.create_task(read())
        before = store.transactions
        await asyncio.gather(*(client(k, ctx) for k in range(n_clients)))
        txs = store.transactions - before
        await reader
        stop.set()
        await serving
        sub.close()
        server.close()
        ctx.term()
        return txs, got

    txs, got = asyncio.run(run())
    n = n_clients * per_client
    assert txs < n  # commands queued together were committed together
    assert [m.seq for m in got] == list(range(1, 2 * n + 1))  # submitted + accepted of each, once, in order
    assert sorted(m.payload.request.client_order_id for m in got if m.type == "order_submitted") == \
        sorted(f"c{k}-{i}" for k in range(n_clients) for i in range(per_client))
    store.close()
