"""Live events across worker processes: the process that runs the traders publishes every hub message
on a Redis channel; every other worker listens and delivers it to its own WebSocket subscribers (each
message carries its owner, so the per-user filtering is the same in every process)."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from nofx.api.hub import EventHub

CHANNEL = "nofx:events"
log = logging.getLogger("nofx.api.relay")


class RedisRelay:
    def __init__(self, url: str, hub: EventHub) -> None:
        import redis

        self._r = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
        self._hub = hub
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def send(self, msg: dict[str, Any]) -> None:
        try:
            self._r.publish(CHANNEL, json.dumps(msg))
        except Exception as exc:  # noqa: BLE001 - live updates are best effort; the ledger has everything
            log.warning("event relay failed: %s", type(exc).__name__)

    def listen(self) -> None:
        pubsub = self._r.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(CHANNEL)

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    m = pubsub.get_message(timeout=0.5)
                except Exception as exc:  # noqa: BLE001
                    log.warning("event relay receive failed: %s", type(exc).__name__)
                    self._stop.wait(1.0)
                    continue
                if m is not None and m.get("type") == "message":
                    self._hub.deliver(json.loads(m["data"]))
            pubsub.close()

        self._thread = threading.Thread(target=loop, name="event-relay", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self._r.close()
