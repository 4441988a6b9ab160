"""The bus broker: an XSUB/XPUB proxy for publish/subscribe and a ROUTER/DEALER proxy for commands.

::

    publishers (PUB, connect) -> pub_endpoint  [XSUB | XPUB] sub_endpoint  <- subscribers (SUB, connect)
    clients (DEALER, connect) -> command_endpoint [ROUTER | DEALER] engine_endpoint <- engine (DEALER, connect)

Every process connects to the broker, so processes can start, die and restart in any order and on any
machine (``tcp://host:port``); ZeroMQ reconnects them, and re-sends subscriptions, when the broker
restarts. The proxies are libzmq's own (``zmq.proxy_steerable``, one thread each, the GIL released):
a Python loop forwarding every message would cap the bus at the interpreter's speed, and the broker
does not need to read messages (validation happens at the receivers).

Slow subscribers are bounded by high-water marks: the XPUB queues at most ``hwm`` messages per
subscriber and drops the rest for that subscriber only (others are not held back). libzmq does not
report those drops to the sender, so they are counted where they show: each subscriber counts the
messages missing from its sequence numbers (:class:`~nofx.messaging.pubsub.Subscriber`).
"""

from __future__ import annotations

import argparse
import signal
import struct
import sys
import threading
from dataclasses import dataclass

import zmq
from pydantic import BaseModel, ConfigDict, field_validator

_SCHEMES = ("tcp://", "ipc://", "inproc://")


class BrokerConfig(BaseModel):
    """Broker endpoints (``tcp://host:port``, ``ipc:///path``) and the per-peer high-water mark."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    pub_endpoint: str = "tcp://127.0.0.1:5550"  # publishers connect here
    sub_endpoint: str = "tcp://127.0.0.1:5551"  # subscribers connect here
    command_endpoint: str = "tcp://127.0.0.1:5552"  # command clients connect here
    engine_endpoint: str = "tcp://127.0.0.1:5553"  # the engine connects here to serve commands
    hwm: int = 100_000  # messages queued per peer before the broker drops (pub/sub) or blocks (commands)

    @field_validator("pub_endpoint", "sub_endpoint", "command_endpoint", "engine_endpoint")
    @classmethod
    def _endpoint(cls, v: str) -> str:
        if not v.startswith(_SCHEMES) or len(v) <= len(v.split("://")[0]) + 3:
            raise ValueError(f"endpoint {v!r} must look like tcp://host:port or ipc:///path")
        return v

    @field_validator("hwm")
    @classmethod
    def _hwm(cls, v: int) -> int:
        if v < 1:
            raise ValueError("hwm must be at least 1")
        return v


@dataclass(frozen=True, slots=True)
class ProxyStats:
    """Messages (multipart messages, not frames) the broker has taken in and sent out on one proxy."""

    messages_in: int
    messages_out: int
    bytes_in: int
    bytes_out: int


class _Proxy:
    def __init__(self, ctx: zmq.Context, name: str, front: zmq.Socket, back: zmq.Socket,
                 frames_per_message: int) -> None:
        self._ctx = ctx
        self._ctl_addr = f"inproc://nofx-broker-{name}-{id(self)}"
        self._control = ctx.socket(zmq.REP)
        self._control.bind(self._ctl_addr)
        self._front, self._back = front, back
        self._fpm = frames_per_message
        self._thread = threading.Thread(target=self._run, name=f"broker-{name}", daemon=True)
        self._lock = threading.Lock()

    def _run(self) -> None:
        try:
            zmq.proxy_steerable(self._front, self._back, None, self._control)
        except zmq.ContextTerminated:
            pass
        finally:
            for s in (self._front, self._back, self._control):
                s.close(linger=0)

    def start(self) -> None:
        self._thread.start()

    def _ask(self, command: bytes, reply: bool) -> list[bytes]:
        with self._lock:  # one REQ per call: the control socket is not shared between threads
            req = self._ctx.socket(zmq.REQ)
            req.connect(self._ctl_addr)
            try:
                req.send(command)
                return req.recv_multipart() if reply else []
            finally:
                req.close(linger=0)

    def stats(self) -> ProxyStats:
        # libzmq: 8 uint64 frames, front in msgs/bytes, front out msgs/bytes, back in, back out (frames)
        v = [struct.unpack("=Q", f)[0] for f in self._ask(b"STATISTICS", reply=True)]
        return ProxyStats(v[0] // self._fpm, v[6] // self._fpm, v[1], v[7])

    def stop(self) -> None:
        if self._thread.is_alive():
            self._ask(b"TERMINATE", reply=False)
            self._thread.join(5)


class Broker:
    """Binds the four endpoints and runs both proxies until :meth:`stop` (or the context ends)."""

    def __init__(self, config: BrokerConfig | None = None) -> None:
        self.config = config or BrokerConfig()
        self._ctx = zmq.Context()
        self._proxies: dict[str, _Proxy] = {}

    def _socket(self, kind: int, endpoint: str) -> zmq.Socket:
        s = self._ctx.socket(kind)
        s.setsockopt(zmq.SNDHWM, self.config.hwm)
        s.setsockopt(zmq.RCVHWM, self.config.hwm)
        s.setsockopt(zmq.LINGER, 0)
        s.bind(endpoint)
        return s

    def start(self) -> "Broker":
        c = self.config
        xsub = self._socket(zmq.XSUB, c.pub_endpoint)
        xpub = self._socket(zmq.XPUB, c.sub_endpoint)
        router = self._socket(zmq.ROUTER, c.command_endpoint)
        # a reply whose client has gone is dropped, not an error that stops the proxy
        router.setsockopt(zmq.ROUTER_MANDATORY, 0)
        dealer = self._socket(zmq.DEALER, c.engine_endpoint)
        self._proxies = {"pubsub": _Proxy(self._ctx, "pubsub", xsub, xpub, 2),
                         "commands": _Proxy(self._ctx, "commands", router, dealer, 2)}
        for p in self._proxies.values():
            p.start()
        return self

    def stats(self) -> dict[str, ProxyStats]:
        return {name: p.stats() for name, p in self._proxies.items()}

    def stop(self) -> None:
        for p in self._proxies.values():
            p.stop()
        self._ctx.term()

    def __enter__(self) -> "Broker":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """``python -m nofx.messaging.broker [--pub EP] [--sub EP] [--command EP] [--engine EP] [--hwm N]``:
    run a broker until SIGINT/SIGTERM."""
    ap = argparse.ArgumentParser(prog="nofx-broker", description=main.__doc__)
    d = BrokerConfig()
    ap.add_argument("--pub", default=d.pub_endpoint)
    ap.add_argument("--sub", default=d.sub_endpoint)
    ap.add_argument("--command", default=d.command_endpoint)
    ap.add_argument("--engine", default=d.engine_endpoint)
    ap.add_argument("--hwm", type=int, default=d.hwm)
    a = ap.parse_args(argv)
    try:
        cfg = BrokerConfig(pub_endpoint=a.pub, sub_endpoint=a.sub, command_endpoint=a.command,
                           engine_endpoint=a.engine, hwm=a.hwm)
    except ValueError as e:
        first = e.errors()[0] if hasattr(e, "errors") else {"msg": str(e), "loc": ()}  # type: ignore[attr-defined]
        print(f"error: broker setting {'.'.join(map(str, first['loc']))}: {first['msg']}", file=sys.stderr)
        return 2
    broker = Broker(cfg)
    try:
        broker.start()
    except zmq.ZMQError as e:
        print(f"error: broker cannot bind its endpoints ({e})", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print("ready", flush=True)  # what a supervisor waits for
    stop.wait()
    broker.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
