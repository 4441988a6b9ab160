"""What every process of a system shares: its bus endpoints, its health report, its stop signal."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from typing import Any

import zmq.asyncio

from nofx.messaging.counters import BusCounters
from nofx.messaging.messages import Message, ProcessStatus, StatusRequest
from nofx.messaging.pubsub import Publisher, Subscriber

HEALTH_EVERY_S = 1.0


class ProcessRuntime:
    """A publisher and a subscriber on the broker, plus the process's health: it publishes a
    :class:`ProcessStatus` on ``sys.health.<name>`` every second and whenever a :class:`StatusRequest`
    for it (or for everyone) arrives on ``sys.status``."""

    def __init__(self, name: str, role: str, pub_endpoint: str, sub_endpoint: str, topics: list[str]) -> None:
        self.name = name
        self.role = role
        self.ctx = zmq.asyncio.Context()
        self.pub = Publisher(pub_endpoint, name, ctx=zmq.Context.shadow(self.ctx.underlying))
        self.sub = Subscriber(sub_endpoint, [*topics, "sys.status"], ctx=self.ctx, name=name)
        self.started_ns = time.time_ns()
        self.index = -1
        self.last_lag_ms = 0.0
        self.extra_counters: list[BusCounters] = []
        self._last_health = 0.0
        self.stop = asyncio.Event()

    def install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stop.set)

    async def receive(self, timeout: float) -> list[tuple[str, Message]]:
        """Messages for this process (status requests answered here, not returned)."""
        out = []
        for topic, msg in await self.sub.receive(timeout):
            self.last_lag_ms = max(0.0, (time.time_ns() - msg.ts_ns) / 1e6)
            if isinstance(msg.payload, StatusRequest):
                if msg.payload.target in ("", self.name):
                    self.publish_health(force=True)
                continue
            out.append((topic, msg))
        self.publish_health()
        return out

    def status(self) -> ProcessStatus:
        c = self.sub.counters
        rejected: dict[str, int] = dict(c.rejected)
        received = c.received
        for extra in self.extra_counters:
            received += extra.received
            for k, v in extra.rejected.items():
                rejected[k] = rejected.get(k, 0) + v
        return ProcessStatus(self.name, self.role, os.getpid(), self.started_ns, received, self.pub.sent,
                             rejected, c.gaps, c.lost, round(self.last_lag_ms, 3), self.index)

    def publish_health(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last_health >= HEALTH_EVERY_S:
            self._last_health = now
            self.pub.publish_on(f"sys.health.{self.name}", self.status())

    def publish(self, topic: str, payload: Any) -> None:
        self.pub.publish_on(topic, payload)

    def close(self) -> None:
        self.pub.close()
        self.sub.close()
        self.ctx.term()
