"""Locust scenario for ``bench_api_load.py`` (not a benchmark by itself: run that script).

Each simulated user logs in as its own account (load0, load1, ...), finds its trader, then submits
limit orders, cancels some of them, and reads positions, orders and market data.
"""

from __future__ import annotations

import itertools
import os
import random

from locust import between, task
from locust.contrib.fasthttp import FastHttpUser

PASSWORD = os.environ.get("NOFX_LOAD_PASSWORD", "load-password-1")
SYMBOL = os.environ.get("NOFX_LOAD_SYMBOL", "000001.SZ")
PRICE = os.environ.get("NOFX_LOAD_PRICE", "10.00")
_THINK_LO, _, _THINK_HI = os.environ.get("NOFX_LOAD_THINK_MS", "0-10").partition("-")
_next_user = itertools.count()  # locust runs every user in one process (gevent): a plain counter is enough


class Trader(FastHttpUser):
    wait_time = between(float(_THINK_LO) / 1000, float(_THINK_HI or _THINK_LO) / 1000)

    def on_start(self) -> None:
        """Log in once per user (argon2 runs at login only; every task reuses the access token)."""
        self.k = next(_next_user)
        r = self.client.post("/api/v1/auth/login", json={"username": f"load{self.k}", "password": PASSWORD},
                             name="POST /auth/login")
        self.headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        r = self.client.get("/api/v1/traders", headers=self.headers, name="GET /traders")
        self.trader = r.json()[0]["trader_id"]
        self.open: list[str] = []
        self.n = 0

    @task(6)
    def submit(self) -> None:
        self.n += 1
        body = {"trader_id": self.trader, "client_order_id": f"l{self.k}-{self.n}", "symbol": SYMBOL, "side": "buy",
                "quantity": 100, "order_type": "limit", "limit_price": PRICE}
        with self.client.post("/api/v1/orders", json=body, headers=self.headers, name="POST /orders",
                              catch_response=True) as r:
            if r.status_code != 201:
                r.failure(f"{r.status_code}: {r.text[:200]}")
            else:
                self.open.append(r.json()["order_id"])

    @task(3)
    def cancel(self) -> None:
        if not self.open:
            return
        oid = self.open.pop(random.randrange(len(self.open)))
        self.client.delete(f"/api/v1/orders/{oid}", headers=self.headers, name="DELETE /orders/{id}")

    @task(2)
    def positions(self) -> None:
        self.client.get(f"/api/v1/positions?trader_id={self.trader}", headers=self.headers, name="GET /positions")

    @task(1)
    def orders(self) -> None:
        self.client.get(f"/api/v1/orders?trader_id={self.trader}&limit=20&open=true", headers=self.headers,
                        name="GET /orders")

    @task(1)
    def floor(self) -> None:
        """The same-run peer: an endpoint that does nothing (no auth, no database) shows what the HTTP
        stack and this machine allow at this moment."""
        self.client.get("/healthz", name="GET /healthz (floor)")

    @task(3)
    def market(self) -> None:
        self.client.get(f"/api/v1/market/{SYMBOL}", headers=self.headers, name="GET /market/{symbol}")
