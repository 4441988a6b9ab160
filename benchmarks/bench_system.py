"""Multi-process trading on the bus: tick-to-order latency and a stress of 10 strategy processes.

    .venv/bin/python benchmarks/bench_system.py [--ticks 2000] [--seconds 60] [--strategies 10]

Every part is a real OS process on tcp loopback through a broker process:

* latency: a market-data process publishes ticks (the next one 1 ms after the last was answered, so
  nothing queues); a strategy
  process answers each with an order command to the engine process (a real ``TradingEngine``: risk,
  OMS, router, order-book venue, SQLite ledger committed before the acknowledgement, commands queued
  together committed in one transaction); the strategy
  takes the time from the tick's publication (its envelope's send time) to the engine's acknowledgement.
  Printed: p50 / p99 / max in microseconds (goal p99 < 1 ms), and the raw pyzmq round trip
  PUB -> SUB -> DEALER -> ROUTER and back measured in the same run (the floor: three hops, no broker, no
  encoding, no engine).
* stress: ``--strategies`` strategy processes each submit and cancel orders as fast as the engine
  answers for ``--seconds`` (default: the issue's minute); the engine publishes every committed event
  on the bus (its ledger feed) and a monitor process subscribes to all of them. Printed: orders/s
  through the engine, commands answered vs sent, events seen by the monitor vs committed and gaps
  (no message lost), and each process's resident memory growth from 10% of the run to its end
  (goal < 50 MB; the brokers' too).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from bench_bus import _ports
from common import line  # noqa: F401  (sets sys.path)

HWM = 1_000_000
SYMBOL = "600519.SH"


def rss_mb(pid: int | None = None) -> float:
    with open(f"/proc/{pid or 'self'}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


@dataclass
class FixedMarket:
    """A market whose clock and prices stand still (the engine's MarketState)."""

    t: datetime = datetime(2024, 3, 15, 10, 30)
    prices: dict = field(default_factory=lambda: {SYMBOL: Decimal("1700")})

    def now(self) -> datetime:
        return self.t

    def exec_day(self) -> date:
        return self.t.date()

    def last_price(self, symbol: str) -> Decimal | None:
        return self.prices.get(symbol)

    def last_price_float(self, symbol: str) -> float | None:
        p = self.prices.get(symbol)
        return None if p is None else float(p)

    def limits(self, symbol: str):
        p = self.prices[symbol]
        return (p * Decimal("0.9")).quantize(Decimal("0.01")), (p * Decimal("1.1")).quantize(Decimal("0.01"))


# ---- the engine process ------------------------------------------------------------------------------
def engine_proc(engine_ep: str, pub_ep: str, ledger: str, feed: bool, ready: mp.Event, stop: mp.Event,
                out: mp.Queue) -> None:
    from nofx.engine.kernel import TradingEngine
    from nofx.engine.order_book import OrderBookExchange
    from nofx.engine.portfolio import Portfolio
    from nofx.engine.risk import RiskEngine
    from nofx.engine.router import Router
    from nofx.engine.store import TraderRecord
    from nofx.markets.rulebook import build_fee_model, build_rulebook
    from nofx.messaging.commands import CommandServer, EngineCommands
    from nofx.messaging.ledger_feed import EngineEventFeed
    from nofx.persistence.store import SqlLedgerStore

    store = SqlLedgerStore(ledger) if ledger else None  # "": acknowledged from memory (the bus alone)
    if store is not None:
        store.create_trader(TraderRecord("t", Decimal("100000000"), "cn", "{}", datetime.now()))
    market = FixedMarket()
    rb = build_rulebook("cn")
    venue = OrderBookExchange(rb, market)
    pf = Portfolio(Decimal("100000000"))
    pf.mark_source = market.last_price_float
    # group commit: the command server handles the commands queued at once, commits them in one
    # transaction, then replies (and the feed publishes): acknowledged = durable, the commit shared
    eng = TradingEngine("t", pf, rb, build_fee_model("default", rb), RiskEngine(), Router(venue), market, store=store,
                        group_commit=True)
    eng.bound_history(1000)
    venue.listener = eng
    events = [0]
    eng.listeners.append(lambda ev: events.__setitem__(0, events[0] + 1))
    feeds = (EngineEventFeed(pub_ep, "t", store, deferred=True).attach(eng),) if feed else ()
    server = CommandServer(engine_ep, EngineCommands(eng, store, feeds))

    async def run() -> None:
        halt = asyncio.Event()

        async def watch() -> None:
            while not stop.is_set():
                await asyncio.sleep(0.05)
            halt.set()
        w = asyncio.create_task(watch())
        ready.set()
        await server.serve(halt)
        await w
    samples: list[float] = []

    async def sample() -> None:
        while not stop.is_set():
            samples.append(rss_mb())
            await asyncio.sleep(0.5)

    async def both() -> None:
        await asyncio.gather(run(), sample())
    asyncio.run(both())
    if store is not None:
        store.close()
    out.put(("engine", server.counters.received, events[0], samples))


# ---- latency ---------------------------------------------------------------------------------------------
def md_proc(pub_ep: str, sub_ep: str, n: int, gap_s: float) -> None:
    """Publishes a tick, waits for the strategy's word that it has the engine's answer, pauses ``gap_s``,
    publishes the next: each tick meets idle processes (latency, not queueing, is measured)."""
    import zmq

    from nofx.domain.market_data import Tick
    from nofx.messaging.pubsub import Publisher
    pub = Publisher(pub_ep, "md", hwm=HWM)
    ctl = zmq.Context.instance().socket(zmq.SUB)
    ctl.setsockopt(zmq.SUBSCRIBE, b"ctl.")
    ctl.connect(sub_ep)
    tick = Tick(SYMBOL, datetime(2024, 3, 15, 10, 30), Decimal("1700"), 100)
    while not ctl.poll(10):  # slow joiner: warm-up ticks until the strategy says it hears them
        pub.publish_on("md.warm", tick)
    ctl.recv_multipart()
    for _ in range(n):
        pub.publish(tick)
        if not ctl.poll(10_000):
            break
        ctl.recv_multipart()
        time.sleep(gap_s)  # sleeping, not spinning: a spin would take a core from the measured processes
    pub.close()


def strategy_latency_proc(sub_ep: str, pub_ep: str, cmd_ep: str, n: int, out: mp.Queue) -> None:
    from nofx.domain.enums import Side
    from nofx.domain.orders import OrderRequest
    from nofx.messaging.commands import CommandClient
    from nofx.messaging.pubsub import Publisher, Subscriber

    async def run() -> list[float]:
        sub = Subscriber(sub_ep, ["md.tick.", "md.warm"], hwm=HWM)
        ctl = Publisher(pub_ep, "strategy")
        client = CommandClient(cmd_ep, "strategy", timeout=5, retries=0)
        await client.submit(OrderRequest(SYMBOL, Side.BUY, 100, limit_price=Decimal("1600"), client_order_id="w"))
        lat: list[float] = []
        go = False
        k = 0
        while len(lat) < n:
            for topic, msg in await sub.receive(5.0):
                if topic == "md.warm":
                    if not go:
                        from nofx.domain.market_data import Tick
                        ctl.publish_on("ctl.go", Tick(SYMBOL, datetime(2024, 3, 15), Decimal(1), 1))
                    go = True
                    continue
                k += 1
                req = OrderRequest(SYMBOL, Side.BUY, 100, limit_price=Decimal("1600"), client_order_id=f"L{k}")
                reply = await client.submit(req)
                assert reply.ok
                lat.append((time.time_ns() - msg.ts_ns) / 1e3)
                ctl.publish_on("ctl.ack", msg.payload)
        return lat
    out.put(asyncio.run(run()))


def raw_floor(n: int) -> list[float]:
    """PUB -> SUB -> DEALER -> ROUTER -> DEALER, opaque frames, no broker: three hops in three processes."""
    ports = _ports(2)
    q: mp.Queue = mp.Queue()
    ready = mp.Event()
    ps = [mp.Process(target=_raw_router, args=(ports[1], ready)), mp.Process(target=_raw_sub, args=(ports, n, q))]
    for p in ps:
        p.start()
    ready.wait(30)
    pub = mp.Process(target=_raw_pub, args=(ports[0], n))
    pub.start()
    lat = q.get(timeout=300)
    for p in (pub, *ps):
        p.terminate()
        p.join()
    return lat


def _raw_router(port: int, ready: mp.Event) -> None:
    import zmq
    s = zmq.Context().socket(zmq.ROUTER)
    s.bind(f"tcp://127.0.0.1:{port}")
    ready.set()
    while True:
        s.send_multipart(s.recv_multipart())


def _raw_pub(port: int, n: int) -> None:
    import zmq
    s = zmq.Context().socket(zmq.PUB)
    s.bind(f"tcp://127.0.0.1:{port}")
    time.sleep(1.0)
    for _ in range(n + 200):
        s.send_multipart([b"md.tick", time.time_ns().to_bytes(8, "little") + b"x" * 100])
        time.sleep(0.005)  # well above the round trip: nothing queues


def _raw_sub(ports: list[int], n: int, q: mp.Queue) -> None:
    import zmq
    ctx = zmq.Context()
    s = ctx.socket(zmq.SUB)
    s.setsockopt(zmq.SUBSCRIBE, b"md.")
    s.connect(f"tcp://127.0.0.1:{ports[0]}")
    d = ctx.socket(zmq.DEALER)
    d.connect(f"tcp://127.0.0.1:{ports[1]}")
    lat = []
    while len(lat) < n:
        _, body = s.recv_multipart()
        d.send(body)
        d.recv()
        lat.append((time.time_ns() - int.from_bytes(body[:8], "little")) / 1e3)
    q.put(lat[len(lat) // 20:] if len(lat) > 100 else lat)


# ---- stress ----------------------------------------------------------------------------------------------
def strategy_stress_proc(cmd_ep: str, k: int, seconds: float, ready: mp.Barrier, out: mp.Queue) -> None:
    from nofx.domain.enums import Side
    from nofx.domain.orders import OrderRequest
    from nofx.messaging.commands import CommandClient

    async def run() -> tuple:
        client = CommandClient(cmd_ep, f"s{k}", timeout=10, retries=3)
        sent = answered = 0
        samples = []
        ready.wait()  # every strategy imported and connected: all start together
        end = time.monotonic() + seconds
        next_sample = 0.0
        while (now := time.monotonic()) < end:
            if now >= next_sample:
                samples.append(rss_mb())
                next_sample = now + 0.5
            sent += 1
            r = await client.submit(OrderRequest(SYMBOL, Side.BUY, 100, limit_price=Decimal("1600"),
                                                 client_order_id=f"s{k}-{sent}"))
            answered += r.ok
            c = await client.cancel(r.order.order_id)
            answered += c.ok
            sent += 1
        samples.append(rss_mb())
        return sent, answered, client.attempts, samples
    out.put((f"strategy-{k}", *asyncio.run(run())))


def monitor_proc(sub_ep: str, ready: mp.Event, stop: mp.Event, out: mp.Queue) -> None:
    from nofx.messaging.pubsub import Subscriber

    async def run() -> tuple:
        sub = Subscriber(sub_ep, ["order.", "fill.", "risk."], hwm=HWM)
        ready.set()
        samples = []
        next_sample = 0.0
        while not stop.is_set():
            await sub.receive(0.2)
            if time.monotonic() >= next_sample:
                samples.append(rss_mb())
                next_sample = time.monotonic() + 0.5
        await asyncio.sleep(1.0)
        sub.drain(1_000_000)
        return sub.counters.received, sub.counters.gaps, sub.counters.lost, samples
    out.put(("monitor", *asyncio.run(run())))


def growth(samples: list[float]) -> float:
    """Resident memory growth from 10% of the run (start-up and warm-up done) to its end, MB."""
    if len(samples) < 2:
        return 0.0
    return samples[-1] - samples[max(1, len(samples) // 10)]


def start_broker(cfg) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-m", "nofx.messaging.broker", "--pub", cfg.pub_endpoint, "--sub",
                          cfg.sub_endpoint, "--command", cfg.command_endpoint, "--engine", cfg.engine_endpoint,
                          "--hwm", str(HWM)], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"  # type: ignore[union-attr]
    return p


def main() -> None:
    from nofx.messaging.broker import BrokerConfig
    ap = argparse.ArgumentParser()
    ap.add_argument("--ticks", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=60.0, help="stress duration (the issue's minute)")
    ap.add_argument("--strategies", type=int, default=10)
    a = ap.parse_args()
    mp.set_start_method("spawn")
    tmp = Path(tempfile.mkdtemp(prefix="nofx-bench-system-"))

    def config():
        p = _ports(4)
        return BrokerConfig(**{f"{k}_endpoint": f"tcp://127.0.0.1:{x}"
                               for k, x in zip(("pub", "sub", "command", "engine"), p)}, hwm=HWM)

    line("machine load (1-minute average) at start", f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    # ---- latency
    def latency(ledger: str) -> list[float]:
        cfg = config()
        broker = start_broker(cfg)
        q: mp.Queue = mp.Queue()
        ready, stop = mp.Event(), mp.Event()
        eng = mp.Process(target=engine_proc, args=(cfg.engine_endpoint, cfg.pub_endpoint, ledger, False, ready,
                                                   stop, q))
        eng.start()
        ready.wait(60)
        strat = mp.Process(target=strategy_latency_proc, args=(cfg.sub_endpoint, cfg.pub_endpoint,
                                                              cfg.command_endpoint, a.ticks, q))
        strat.start()
        md = mp.Process(target=md_proc, args=(cfg.pub_endpoint, cfg.sub_endpoint, a.ticks, 0.001))
        md.start()
        lat = sorted(q.get(timeout=600))
        stop.set()
        md.join()
        strat.join()
        q.get(timeout=60)
        eng.join()
        broker.terminate()
        broker.wait()
        return lat

    lat = latency(f"sqlite:///{tmp}/lat.db")
    lat_mem = latency("")
    floor = sorted(raw_floor(a.ticks))

    def pct(xs: list[float], p: float) -> float:
        return xs[min(len(xs) - 1, int(len(xs) * p))]
    line(f"tick -> strategy -> engine ack, via broker ({len(lat)} ticks)",
         f"p50 {statistics.median(lat):.0f} us  p99 {pct(lat, 0.99):.0f} us  max {lat[-1]:.0f} us")
    line("  goal: p99 < 1000 us", "met" if pct(lat, 0.99) < 1000 else "NOT met")
    line("same, the engine acknowledging from memory (no ledger)",
         f"p50 {statistics.median(lat_mem):.0f} us  p99 {pct(lat_mem, 0.99):.0f} us  max {lat_mem[-1]:.0f} us")
    line(f"raw pyzmq floor PUB->SUB->DEALER->ROUTER, no broker ({len(floor)})",
         f"p50 {statistics.median(floor):.0f} us  p99 {pct(floor, 0.99):.0f} us")
    line("RATIO bus p50 / raw floor p50", f"{statistics.median(lat) / statistics.median(floor):.1f}x")

    # ---- stress
    cfg = config()
    broker = start_broker(cfg)
    q = mp.Queue()
    ready, stop, mon_ready = mp.Event(), mp.Event(), mp.Event()
    eng = mp.Process(target=engine_proc, args=(cfg.engine_endpoint, cfg.pub_endpoint, f"sqlite:///{tmp}/stress.db",
                                               True, ready, stop, q))
    eng.start()
    mon = mp.Process(target=monitor_proc, args=(cfg.sub_endpoint, mon_ready, stop, q))
    mon.start()
    ready.wait(60)
    mon_ready.wait(60)
    time.sleep(1.0)  # the monitor's subscription reaches the engine's publisher through the broker
    broker_rss = [rss_mb(broker.pid)]
    barrier = mp.Barrier(a.strategies + 1)
    strats = [mp.Process(target=strategy_stress_proc, args=(cfg.command_endpoint, k, a.seconds, barrier, q))
              for k in range(a.strategies)]
    for p in strats:
        p.start()
    barrier.wait()
    t0 = time.perf_counter()
    results = {}
    while len(results) < a.strategies:
        try:
            r = q.get(timeout=1.0)
            results[r[0]] = r
        except Exception:
            pass
        broker_rss.append(rss_mb(broker.pid))
    elapsed = time.perf_counter() - t0
    stop.set()
    for _ in range(2):
        r = q.get(timeout=120)
        results[r[0]] = r
    for p in (*strats, mon, eng):
        p.join()
    broker.terminate()
    broker.wait()
    sent = sum(results[f"strategy-{k}"][1] for k in range(a.strategies))
    answered = sum(results[f"strategy-{k}"][2] for k in range(a.strategies))
    attempts = sum(results[f"strategy-{k}"][3] for k in range(a.strategies))
    _, received, committed, eng_samples = results["engine"]
    _, seen, gaps, lost, mon_samples = results["monitor"]
    orders = sent // 2
    line(f"stress: {a.strategies} strategy processes, submit+cancel, {a.seconds:.0f} s",
         f"{orders:,} orders + {sent - orders:,} cancels in {elapsed:.1f} s")
    line("orders/s through the engine (acknowledged after their SQLite commit)", f"{orders / elapsed:,.0f}")
    line("commands/s (orders + cancels)", f"{sent / elapsed:,.0f}")
    line("commands answered / sent / received by the engine (retries)",
         f"{answered:,} / {sent:,} / {received:,} ({attempts - sent} retries)")
    line("events committed / seen by the monitor / gaps / lost", f"{committed:,} / {seen:,} / {gaps} / {lost}")
    line("no message lost", "yes" if answered == sent == received and seen == committed and lost == 0 else "NO")
    grow = {"broker": growth(broker_rss), "engine": growth(eng_samples), "monitor": growth(mon_samples)}
    for k in range(a.strategies):
        grow[f"strategy-{k}"] = growth(results[f"strategy-{k}"][4])
    worst = max(grow, key=lambda n: grow[n])
    line("RSS growth per process, MB (broker / engine / monitor / strategies max)",
         f"{grow['broker']:.1f} / {grow['engine']:.1f} / {grow['monitor']:.1f} / "
         f"{max(grow[f'strategy-{k}'] for k in range(a.strategies)):.1f}")
    line("  worst process, goal < 50 MB", f"{worst} {grow[worst]:.1f} MB: {'met' if grow[worst] < 50 else 'NOT met'}")
    line("machine load (1-minute average) at end", f"{os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
