"""Processes the bus tests start (real processes, real sockets): ``python bus_procs.py MODE ARGS``.

- ``publish PUB_EP N``: after the slow-joiner pause, publish N bars of 600519.SH, N of 000001.SZ and N
  fills of trader t1, then exit.
- ``subscribe SUB_EP UNTIL TOPIC...``: print ``ready``, receive until UNTIL valid messages, print the
  counters as JSON, exit 0.
- ``engine ENGINE_EP``: serve commands on a real TradingEngine (tests/engine/harness.py); on SIGTERM
  print the counters and the number of orders as JSON.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script: make `tests` importable

from nofx.domain.enums import Side  # noqa: E402
from nofx.domain.events import OrderFilled  # noqa: E402
from nofx.domain.fills import Fill  # noqa: E402
from nofx.domain.market_data import Bar  # noqa: E402

T0 = datetime(2021, 6, 1, 9, 45)


def bar(symbol: str, i: int) -> Bar:
    p = Decimal(2000 + i) / 100
    return Bar(symbol, T0 + timedelta(minutes=15 * i), p, p + 1, p - Decimal("0.5"), p, 100 * (i + 1))


def fill_event(i: int) -> OrderFilled:
    f = Fill(f"F{i}", f"t1-O{i}", "600519.SH", Side.BUY, 100, Decimal("1800.01"), Decimal("5.00"), T0)
    return OrderFilled(T0, f"t1-O{i}", f)


def publish(endpoint: str, n: int) -> None:
    from nofx.messaging.pubsub import Publisher
    pub = Publisher(endpoint, "replay")
    time.sleep(1.0)  # PUB drops what it sends before the broker has passed it the subscriptions
    for i in range(n):
        pub.publish(bar("600519.SH", i))
        pub.publish(bar("000001.SZ", i))
        pub.publish(fill_event(i), source="t1")
    pub.close()


async def subscribe(endpoint: str, until: int, topics: list[str]) -> None:
    from nofx.messaging.pubsub import Subscriber
    sub = Subscriber(endpoint, topics)
    print("ready", flush=True)
    got = 0
    while got < until:
        got += len(await sub.receive())
    print(json.dumps(sub.counters.as_dict()), flush=True)


async def engine(endpoint: str) -> None:
    from nofx.messaging.commands import CommandServer, EngineCommands
    from tests.engine.harness import make_engine
    eng, _, _ = make_engine()
    server = CommandServer(endpoint, EngineCommands(eng))
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
        asyncio.run(subscribe(ep, int(rest[0]), rest[1:]))
    elif mode == "engine":
        asyncio.run(engine(ep))
