"""A light HTTP load generator for ``bench_api_load.py``: order submissions only, far less CPU per request
than Locust, so more of the shared cores go to the server. Not a benchmark by itself.

    python benchmarks/http_orders.py BASE_URL --users 100 --seconds 15 [--tag h]

Each of ``--users`` concurrent clients logs in as ``load<k>`` (password from ``$NOFX_LOAD_PASSWORD``),
finds its trader, then sends ``POST /api/v1/orders`` back to back on one keep-alive connection (plain
asyncio streams on uvloop: a request is pre-formatted bytes, a response is read by its Content-Length).
Prints one JSON line: requests, 201s, other statuses, seconds, and p50/p95/p99 of the 201s in ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from urllib.parse import urlsplit

PASSWORD = os.environ.get("NOFX_LOAD_PASSWORD", "load-password-1")
SYMBOL = os.environ.get("NOFX_LOAD_SYMBOL", "000001.SZ")
PRICE = os.environ.get("NOFX_LOAD_PRICE", "10.00")


class Conn:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader
        self.writer: asyncio.StreamWriter

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def call(self, method: str, path: str, body: bytes | None = None, token: str | None = None
                   ) -> tuple[int, bytes]:
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        if token:
            head.append(f"Authorization: Bearer {token}")
        if body is not None:
            head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        data = ("\r\n".join(head) + "\r\n\r\n").encode() + (body or b"")
        self.writer.write(data)
        status_line = await self.reader.readline()
        if not status_line:  # the server closed an idle keep-alive connection (after the logins): reconnect
            self.writer.close()
            await self.open()
            self.writer.write(data)
            status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length = None
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length is None:
            raise RuntimeError("response without Content-Length")
        return status, await self.reader.readexactly(length)


async def user(k: int, host: str, port: int, stop_at: list[float], start: asyncio.Event, tag: str,
               lat: list[float], statuses: dict[int, int], ready: list[int]) -> None:
    c = Conn(host, port)
    await c.open()
    st, body = await c.call("POST", "/api/v1/auth/login",
                            json.dumps({"username": f"load{k}", "password": PASSWORD}).encode())
    if st != 200:
        raise RuntimeError(f"login load{k}: {st} {body[:200]!r}")
    token = json.loads(body)["access_token"]
    st, body = await c.call("GET", "/api/v1/traders", token=token)
    trader = json.loads(body)[0]["trader_id"]
    ready[0] += 1
    await start.wait()
    n = 0
    while time.perf_counter() < stop_at[0]:
        n += 1
        payload = (f'{{"trader_id":"{trader}","client_order_id":"{tag}{k}-{n}","symbol":"{SYMBOL}",'
                   f'"side":"buy","quantity":100,"order_type":"limit","limit_price":"{PRICE}"}}').encode()
        t0 = time.perf_counter()
        st, _ = await c.call("POST", "/api/v1/orders", payload, token)
        if st == 201:
            lat.append(time.perf_counter() - t0)
        statuses[st] = statuses.get(st, 0) + 1
    c.writer.close()


async def main_async(base: str, users: int, seconds: float, tag: str) -> dict[str, object]:
    u = urlsplit(base)
    host, port = u.hostname or "127.0.0.1", u.port or 80
    lat: list[float] = []
    statuses: dict[int, int] = {}
    start = asyncio.Event()
    stop_at = [float("inf")]
    ready = [0]
    tasks = [asyncio.create_task(user(k, host, port, stop_at, start, tag, lat, statuses, ready))
             for k in range(users)]
    while ready[0] < users:  # logins first (argon2 at login only), not timed
        failed = [t for t in tasks if t.done() and t.exception() is not None]
        if failed:
            raise failed[0].exception()  # type: ignore[misc]
        await asyncio.sleep(0.05)
    print("ready", flush=True)  # the caller may start measuring the server here
    t0 = time.perf_counter()
    stop_at[0] = t0 + seconds
    start.set()
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - t0
    lat.sort()

    def pct(p: float) -> float:
        return round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 1) if lat else 0.0

    return {"requests": sum(statuses.values()), "created": statuses.get(201, 0),
            "other": {str(k): v for k, v in statuses.items() if k != 201}, "seconds": round(elapsed, 2),
            "p50_ms": pct(0.50), "p95_ms": pct(0.95), "p99_ms": pct(0.99)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("base")
    p.add_argument("--users", type=int, default=100)
    p.add_argument("--seconds", type=float, default=15)
    p.add_argument("--tag", default="h", help="client order id prefix (distinct per run)")
    a = p.parse_args(argv)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    print(json.dumps(asyncio.run(main_async(a.base, a.users, a.seconds, a.tag))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
