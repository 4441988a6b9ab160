"""Publish -> broker -> subscribe across real processes: topic filtering, gap detection, rejection of
bad frames with the receiving process alive, and reconnection after the broker restarts."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import time

import msgspec
import zmq

from nofx.domain.market_data import Tick
from nofx.messaging.broker import BrokerConfig
from nofx.messaging.messages import SCHEMA_VERSION, Envelope, encode
from nofx.messaging.pubsub import Gap, Publisher, Subscriber
from tests.messaging.bus_helpers import PROCS, start, start_broker, stop
from tests.messaging.bus_procs import bar, fill_event


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


async def _collect(sub: Subscriber, n: int, seconds: float = 20) -> list:
    out: list = []
    deadline = time.monotonic() + seconds
    while len(out) < n and time.monotonic() < deadline:
        out += await sub.receive(timeout=0.5)
    return out


def test_delivery_over_tcp_with_topic_filters():
    ports = _free_ports(4)
    cfg = BrokerConfig(**{f"{k}_endpoint": f"tcp://127.0.0.1:{p}"
                          for k, p in zip(("pub", "sub", "command", "engine"), ports)})
    broker = start_broker(cfg)
    try:
        async def run():
            one = Subscriber(cfg.sub_endpoint, ["md.bar.600519.SH"])
            fills = Subscriber(cfg.sub_endpoint, ["fill."])
            publisher = start(str(PROCS), "publish", cfg.pub_endpoint, "300", ready=False)
            got_one, got_fills = await asyncio.gather(_collect(one, 300), _collect(fills, 300))
            assert publisher.wait(20) == 0
            await asyncio.sleep(0.3)
            got_one += one.drain()
            got_fills += fills.drain()
            return one, fills, got_one, got_fills

        one, fills, got_one, got_fills = asyncio.run(run())
        # exactly the bars of one symbol, in order, unchanged; nothing of 000001.SZ, no fills
        assert {t for t, _ in got_one} == {"md.bar.600519.SH"}
        assert [m.payload for _, m in got_one] == [bar("600519.SH", i) for i in range(300)]
        assert [m.seq for _, m in got_one] == list(range(1, 301))
        assert [m.payload for _, m in got_fills] == [fill_event(i) for i in range(300)]
        assert {t for t, _ in got_fills} == {"fill.t1.600519.SH"}
        for s in (one, fills):
            assert (s.counters.gaps, s.counters.lost, dict(s.counters.rejected)) == (0, 0, {})
    finally:
        stop(broker)


def test_gaps_are_detected_and_counted_exactly(ipc_config, tmp_path):
    cfg = ipc_config.model_copy(update={"hwm": 50})
    broker = start_broker(cfg)
    n = 60_000
    try:
        async def run():
            gaps: list[Gap] = []
            sub = Subscriber(cfg.sub_endpoint, ["md.tick."], hwm=50, on_gap=gaps.append)
            pub = Publisher(cfg.pub_endpoint, "fast")
            await asyncio.sleep(1.0)  # subscription reaches the publisher
            tick = Tick("600519.SH", bar("600519.SH", 0).ts, bar("600519.SH", 0).close, 100)
            for _ in range(n - 1):  # the subscriber reads nothing meanwhile: queues overflow
                pub.publish(tick)
            await asyncio.sleep(1.0)
            got = sub.drain()
            pub.publish(tick)  # seq n, sent once the subscriber is reading again
            deadline = time.monotonic() + 10
            while got[-1][1].seq != n and time.monotonic() < deadline:  # what was still queued, then it
                got += await sub.receive(timeout=0.5)
            pub.close()
            return sub, gaps, got

        sub, gaps, got = asyncio.run(run())
        c = sub.counters
        assert got[0][1].seq == 1 and got[-1][1].seq == n
        assert c.gaps >= 1 and c.lost > 0
        assert c.received + c.lost == n  # every message is either delivered or counted lost
        assert sum(g.received - g.expected for g in gaps) == c.lost and len(gaps) == c.gaps
    finally:
        stop(broker)


def test_bad_frames_are_rejected_counted_and_the_subscriber_lives_on(ipc_config, broker_proc):
    sub = start(str(PROCS), "subscribe", ipc_config.sub_endpoint, "2", "md.")
    ctx = zmq.Context()
    raw = ctx.socket(zmq.PUB)
    raw.connect(ipc_config.pub_endpoint)
    try:
        time.sleep(1.0)
        good = bar("600519.SH", 1)
        env = lambda schema, type_: msgspec.msgpack.encode(  # noqa: E731
            Envelope(schema, type_, "old/1/x", 1, 0, msgspec.Raw(msgspec.msgpack.encode(good))))
        raw.send_multipart([b"md.bar.600519.SH", b"\x00\xffgarbage"])
        raw.send_multipart([b"md.bar.600519.SH", b"a", b"third frame"])
        raw.send_multipart([b"md.bar.600519.SH", env(SCHEMA_VERSION - 1, "bar")])
        raw.send_multipart([b"md.bar.600519.SH", env(SCHEMA_VERSION, "quote")])
        raw.send_multipart([b"md.bar.600519.SH", encode(good, "new/1/x", 1)])
        raw.send_multipart([b"md.bar.600519.SH", encode(good, "new/1/x", 2)])
        out, err = sub.communicate(timeout=20)
    finally:
        raw.close(0)
        ctx.term()
    assert sub.returncode == 0, err
    counts = json.loads(out.splitlines()[-1])
    assert counts["rejected"] == {"garbage": 2, "schema": 1, "unknown_type": 1}
    assert counts["received"] == 2 and counts["gaps"] == 0
    assert "rejected a frame (garbage" in err  # logged, once per reason at first


def test_publishers_and_subscribers_reconnect_after_the_broker_restarts(ipc_config):
    broker = start_broker(ipc_config)
    try:
        async def run():
            nonlocal broker
            sub = Subscriber(ipc_config.sub_endpoint, ["md.bar."])
            pub = Publisher(ipc_config.pub_endpoint, "replay")

            async def flow(i0: int) -> int:
                # publish until the subscriber sees something (the first ones race the subscription)
                for i in range(i0, i0 + 400):
                    pub.publish(bar("600519.SH", i))
                    if await sub.receive(timeout=0.05):
                        return i
                raise AssertionError("nothing delivered")

            i = await flow(0)
            os.kill(broker.pid, signal.SIGKILL)
            broker.wait()
            for j in range(i + 1, i + 51):  # published while there is no broker: lost
                pub.publish(bar("600519.SH", j))
            broker = start_broker(ipc_config)
            await flow(i + 51)
            pub.close()
            return sub

        sub = asyncio.run(run())
        assert sub.counters.gaps >= 1 and sub.counters.lost >= 50
    finally:
        stop(broker)
