"""Bus throughput and command round trip on loopback, against raw pyzmq in the same run.

    .venv/bin/python benchmarks/bench_bus.py [--n 200000] [--rtt 2000] [--batch 64]

* throughput: ``n`` messages of about 200 bytes, publisher process -> broker process -> subscriber
  process, each a typed domain value (an ``OrderFilled``) encoded in its envelope, sequence-checked
  and decoded back into the domain value at the subscriber; against the peer: raw pyzmq PUB -> SUB,
  no broker and no encoding, sending opaque frames of the same size. Each is timed from the
  publisher's first send to the subscriber's last message; messages/s and MB/s for each and the ratio bus/raw (goal >= 0.70), once
  one message per ZeroMQ message and once in ``publish_many`` batches (``--batch``; each envelope
  still sequence-checked, validated and decoded on its own).
  It also prints the in-process cost of encoding and of decoding+validating one such message.
* round trip: ``rtt`` query commands, client -> broker -> command server -> broker -> client, one at a
  time over tcp loopback: p50/p99 in microseconds.
Both peers use tcp on 127.0.0.1 and the same high-water mark.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import socket
import statistics
import subprocess
import sys
import time
from datetime import datetime
from decimal import Decimal

import zmq
from common import line  # noqa: F401  (sets sys.path)

from nofx.domain.enums import Side
from nofx.domain.events import OrderFilled
from nofx.domain.fills import Fill
from nofx.messaging.broker import BrokerConfig
from nofx.messaging.messages import Reply, decode, encode
from nofx.messaging.pubsub import Publisher, Subscriber, publisher_id

TOPIC = "fill.trader-01.600519.SH"
HWM = 1_000_000  # no drops: both peers must deliver everything


def _event(i: int) -> OrderFilled:
    t = datetime(2024, 3, 15, 10, 31, 7, 250000)
    f = Fill(f"trader-01-F{i}", f"trader-01-O{i}", "600519.SH", Side.BUY, 100, Decimal("1688.88"),
             Decimal("5.07"), t)
    return OrderFilled(t, f"trader-01-O{i}", f)


def _ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    out = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return out


# ---- raw peer ------------------------------------------------------------------------------------
def _raw_pub(ep: str, n: int, size: int, out: mp.Queue) -> None:
    s = zmq.Context().socket(zmq.PUB)
    s.setsockopt(zmq.SNDHWM, HWM)
    s.bind(ep)
    time.sleep(1.0)
    topic, body = TOPIC.encode(), b"x" * size
    out.put(("start", time.time()))
    for _ in range(n):
        s.send_multipart((topic, body))
    time.sleep(1.0)


def _raw_sub(ep: str, n: int, out: mp.Queue) -> None:
    s = zmq.Context().socket(zmq.SUB)
    s.setsockopt(zmq.RCVHWM, HWM)
    s.setsockopt(zmq.SUBSCRIBE, b"fill.")
    s.connect(ep)
    for _ in range(n):
        s.recv_multipart()
    out.put(("end", time.time()))


# ---- through the bus -----------------------------------------------------------------------------
def _bus_pub(ep: str, n: int, batch: int, out: mp.Queue) -> None:
    pub = Publisher(ep, "bench", hwm=HWM)
    time.sleep(1.0)
    events = [_event(i) for i in range(1000)]
    out.put(("start", time.time()))
    if batch <= 1:
        for i in range(n):
            pub.publish_on(TOPIC, events[i % 1000])
    else:  # Publisher.publish_many: one ZeroMQ message [topic, envelope x batch]
        for i in range(0, n, batch):
            pub.publish_many(TOPIC, [events[(i + j) % 1000] for j in range(min(batch, n - i))])
    time.sleep(1.0)
    pub.close()


def _bus_sub(ep: str, n: int, out: mp.Queue) -> None:
    async def run() -> float:
        sub = Subscriber(ep, ["fill."], hwm=HWM)
        got = 0
        while got < n:
            got += len(await sub.receive())
        assert sub.counters.lost == 0 and sub.counters.received == n
        return time.time()
    out.put(("end", asyncio.run(run())))


def _measure(pub, pub_args, sub, sub_args) -> float:
    """Seconds from the publisher's first send to the subscriber's last message (one wall clock: the
    same machine), so messages queued before the subscriber wakes count in the time too."""
    q: mp.Queue = mp.Queue()
    ps = mp.Process(target=sub, args=(*sub_args, q))
    ps.start()
    time.sleep(0.5)
    pp = mp.Process(target=pub, args=(*pub_args, q))
    pp.start()
    marks = dict(q.get(timeout=300) for _ in range(2))
    pp.join()
    ps.join()
    return marks["end"] - marks["start"]


def _codec_cost(n: int = 20_000) -> tuple[float, float]:
    ev = _event(1)
    pid = publisher_id("bench")
    t = time.perf_counter()
    for i in range(n):
        frame = encode(ev, pid, i)
    t_enc = time.perf_counter() - t
    t = time.perf_counter()
    for _ in range(n):
        decode(frame)
    return t_enc / n * 1e6, (time.perf_counter() - t) / n * 1e6


# ---- round trip ----------------------------------------------------------------------------------
def _echo_server(ep: str) -> None:
    from nofx.messaging.commands import CommandServer
    server = CommandServer(ep, lambda cmd, seq: Reply(seq, True))
    asyncio.run(server.serve())


async def _rtt(ep: str, n: int) -> list[float]:
    from nofx.messaging.commands import CommandClient
    client = CommandClient(ep, "bench", timeout=5, retries=0)
    for _ in range(50):
        await client.query(order_id="x")  # warm-up
    out = []
    for _ in range(n):
        t = time.perf_counter()
        await client.query(order_id="x")
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--rtt", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=64, help="messages per publish_many batch")
    a = ap.parse_args()
    p = _ports(5)
    cfg = BrokerConfig(**{f"{k}_endpoint": f"tcp://127.0.0.1:{x}"
                          for k, x in zip(("pub", "sub", "command", "engine"), p)}, hwm=HWM)
    size = len(encode(_event(123), publisher_id("bench"), 123456))
    broker = subprocess.Popen([sys.executable, "-m", "nofx.messaging.broker", "--pub", cfg.pub_endpoint,
                               "--sub", cfg.sub_endpoint, "--command", cfg.command_endpoint,
                               "--engine", cfg.engine_endpoint, "--hwm", str(HWM)], stdout=subprocess.PIPE, text=True)
    assert broker.stdout.readline().strip() == "ready"  # type: ignore[union-attr]
    try:
        raw = _measure(_raw_pub, (f"tcp://127.0.0.1:{p[4]}", a.n, size), _raw_sub, (f"tcp://127.0.0.1:{p[4]}", a.n))
        bus = _measure(_bus_pub, (cfg.pub_endpoint, a.n, 1), _bus_sub, (cfg.sub_endpoint, a.n))
        batched = _measure(_bus_pub, (cfg.pub_endpoint, a.n, a.batch), _bus_sub, (cfg.sub_endpoint, a.n))
        raw_rate, bus_rate, batch_rate = a.n / raw, a.n / bus, a.n / batched
        line("message size (bytes, envelope + OrderFilled)", f"{size}")
        line(f"raw pyzmq PUB->SUB, no broker, no encoding ({a.n} msgs)",
             f"{raw_rate:,.0f} msg/s  {raw_rate * size / 1e6:.1f} MB/s")
        line(f"bus pub->broker->sub, typed + checked ({a.n} msgs)",
             f"{bus_rate:,.0f} msg/s  {bus_rate * size / 1e6:.1f} MB/s")
        line("bus / raw (goal >= 0.70)", f"{bus_rate / raw_rate:.2f}")
        line(f"bus, publish_many batches of {a.batch} (same checks per message)",
             f"{batch_rate:,.0f} msg/s  {batch_rate * size / 1e6:.1f} MB/s")
        line("bus batched / raw (goal >= 0.70)", f"{batch_rate / raw_rate:.2f}")
        enc_us, dec_us = _codec_cost()
        line("  where it goes: encode / decode+validate one message, in-process", f"{enc_us:.1f} us / {dec_us:.1f} us")
        if a.rtt:
            server = mp.Process(target=_echo_server, args=(cfg.engine_endpoint,), daemon=True)
            server.start()
            lat = sorted(asyncio.run(_rtt(cfg.command_endpoint, a.rtt)))
            server.terminate()
            p50 = statistics.median(lat) * 1e6
            p99 = lat[int(len(lat) * 0.99) - 1] * 1e6
            line(f"command round trip via broker ({a.rtt} queries)", f"p50 {p50:.0f} us  p99 {p99:.0f} us")
    finally:
        broker.terminate()
        broker.wait(10)


if __name__ == "__main__":
    main()
