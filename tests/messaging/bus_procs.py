"""Processes the bus tests start (real processes, real sockets): ``python bus_procs.py MODE ARGS``.

- ``publish PUB_EP N``: publish ticks on ``ctl.warmup`` until a line comes on stdin (the test's
  subscribers have seen one), then N bars of 600519.SH, N of 000001.SZ and N fills of trader t1; exit.
- ``subscribe SUB_EP TOPIC...``: print ``ready``, then ``warm`` at the first valid message; receive until
  a message on ``ctl.stop``; print the counters and the number of messages not on ``ctl.`` as JSON.
- ``engine ENGINE_EP [PUB_EP LEDGER_URL]``: serve commands on a real TradingEngine
  (tests/engine/harness.py); with a ledger, persist to it, resume from it, and publish the committed events
  (EngineEventFeed). On SIGTERM print the counters and the number of orders as JSON.
"""

from __future__ import annotations

import asyncio
import json
import select
import signal
import sys
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script: make `tests` importable

from nofx.domain.enums import Side  # noqa: E402
from nofx.domain.events import OrderFilled  # noqa: E402
from nofx.domain.fills import Fill  # noqa: E402
from nofx.domain.market_data import Bar, Tick  # noqa: E402

T0 = datetime(2021, 6, 1, 9, 45)


def bar(symbol: str, i: int) -> Bar:
    p = Decimal(2000 + i) / 100
    return Bar(symbol, T0 + timedelta(minutes=15 * i), p, p + 1, p - Decimal("0.5"), p, 100 * (i + 1))


def fill_event(i: int) -> OrderFilled:
    f = Fill(f"F{i}", f"t1-O{i}", "600519.SH", Side.BUY, 100, Decimal("1800.01"), Decimal("5.00"), T0)
    return OrderFilled(T0, f"t1-O{i}", f)


def warmup_tick() -> Tick:
    return Tick("600519.SH", T0, Decimal("20.00"), 100)


def publish(endpoint: str, n: int) -> None:
    from nofx.messaging.pubsub import Publisher
    pub = Publisher(endpoint, "replay")
    while not select.select([sys.stdin], [], [], 0.02)[0]:
        pub.publish_on("ctl.warmup", warmup_tick())
    for i in range(n):
        pub.publish(bar("600519.SH", i))
        pub.publish(bar("000001.SZ", i))
        pub.publish(fill_event(i), source="t1")
    pub.close()


async def subscribe(endpoint: str, topics: list[str]) -> None:
    from nofx.messaging.pubsub import Subscriber
    sub = Subscriber(endpoint, [*topics, "ctl."])
    print("ready", flush=True)
    data = 0
    warm = False
    while True:
        for topic, _ in await sub.receive():
            if not warm:
                print("warm", flush=True)
                warm = True
            if topic == "ctl.stop":
                print(json.dumps({**sub.counters.as_dict(), "data": data}), flush=True)
                return
            data += not topic.startswith("ctl.")


async def engine(endpoint: str, pub_endpoint: str = "", ledger_url: str = "") -> None:
    from nofx.engine.store import TraderRecord
    from nofx.messaging.commands import CommandServer, EngineCommands
    from nofx.messaging.ledger_feed import EngineEventFeed
    from nofx.persistence.store import SqlLedgerStore
    from tests.engine.harness import make_engine
    store = SqlLedgerStore(ledger_url) if ledger_url else None
    if store is not None and store.get_trader("t") is None:
        store.create_trader(TraderRecord("t", Decimal("1000000"), "cn", "{}", T0))
    eng, _, _ = make_engine(store=store)
    if store is not None:
        eng.rebuild(store.events("t"))
        EngineEventFeed(pub_endpoint, "t", store).attach(eng)
    server = CommandServer(endpoint, EngineCommands(eng, store))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    await server.serve(stop)
    print(json.dumps({**server.counters.as_dict(), "orders": len(eng.oms)}), flush=True)


if __name__ == "__main__":
    mode, ep, *rest = sys.argv[1:]
    if mode == "publish":
        publish(ep, int(rest[0]))
    elif mode == "subscribe":
        asyncio.run(subscribe(ep, rest))
    elif mode == "engine":
        asyncio.run(engine(ep, *rest))
