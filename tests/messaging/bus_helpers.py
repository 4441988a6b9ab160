"""Real processes on real sockets: start a broker process or a bus_procs.py mode, and stop it."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from nofx.messaging.broker import BrokerConfig
from nofx.messaging.pubsub import Subscriber

PROCS = Path(__file__).with_name("bus_procs.py")
REPO = Path(__file__).resolve().parents[2]


def start(*args: str, ready: bool = True) -> subprocess.Popen:
    """Start a process (``python -m nofx.messaging.broker ...`` or a bus_procs.py mode); wait for its
    ``ready`` line when it prints one."""
    p = subprocess.Popen([sys.executable, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, cwd=REPO)
    if ready:
        line = p.stdout.readline().strip()  # type: ignore[union-attr]
        if line != "ready":
            p.kill()
            raise AssertionError(f"{args} did not start: {line!r} {p.stderr.read()}")  # type: ignore[union-attr]
    return p


def start_broker(cfg: BrokerConfig) -> subprocess.Popen:
    return start("-m", "nofx.messaging.broker", "--pub", cfg.pub_endpoint, "--sub", cfg.sub_endpoint,
                 "--command", cfg.command_endpoint, "--engine", cfg.engine_endpoint, "--hwm", str(cfg.hwm))


def stop(p: subprocess.Popen) -> str:
    if p.poll() is None:
        p.terminate()
    out, _ = p.communicate(timeout=10)
    return out


async def warm_up(send: Callable[[], None], subs: list[Subscriber], seconds: float = 30) -> None:
    """ZeroMQ's slow joiner: a PUB drops what it sends before the subscriptions reach it (through the
    broker). Call ``send`` (which publishes on ``ctl.warmup``) until every subscriber has received one,
    then discard what they got."""
    pending = set(range(len(subs)))
    deadline = time.monotonic() + seconds
    while pending:
        assert time.monotonic() < deadline, "subscriptions never reached the publisher"
        send()
        for i in list(pending):
            if await subs[i].receive(timeout=0.02):
                pending.discard(i)
    for s in subs:
        s.drain()
