"""Event builders shared by the ledger tests (loaded by conftest.py as module ``ledger_testkit``, since
pytest runs with --import-mode=importlib and test directories are not on sys.path)."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from nofx.domain.enums import OrderType, Side
from nofx.domain.events import OrderAccepted, OrderFilled, OrderSubmitted
from nofx.domain.fills import Fill
from nofx.domain.orders import OrderRequest
from nofx.engine.store import TraderRecord

T0 = datetime(2024, 3, 4, 9, 30)


def new_trader(store, initial: str = "1000000", market: str = "cn", created: datetime = T0) -> str:  # type: ignore[no-untyped-def]
    tid = f"t-{uuid.uuid4().hex[:10]}"
    store.create_trader(TraderRecord(tid, Decimal(initial), market, '{"strategy": "test"}', created))
    return tid


class Flow:
    """Builds consistent event sequences for one trader (ids unique per flow)."""

    def __init__(self, trader_id: str) -> None:
        self.trader_id = trader_id
        self._n = itertools.count(1)

    def submit(self, symbol: str, side: Side, qty: int, ts: datetime, price: str | None = None,
               client_order_id: str | None = None, order_id: str | None = None) -> OrderSubmitted:
        oid = order_id or f"o{next(self._n)}"
        req = OrderRequest(symbol, side, qty, OrderType.LIMIT if price else OrderType.MARKET,
                           Decimal(price) if price else None, client_order_id=client_order_id)
        return OrderSubmitted(ts, oid, self.trader_id, req)

    def fill(self, sub: OrderSubmitted, qty: int, price: str, fee: str, ts: datetime,
             fill_id: str | None = None) -> OrderFilled:
        f = Fill(fill_id or f"f{next(self._n)}", sub.order_id, sub.request.symbol, sub.request.side, qty,
                 Decimal(price), Decimal(fee), ts)
        return OrderFilled(ts, sub.order_id, f)

    def round_trip(self, symbol: str, side: Side, qty: int, price: str, fee: str, ts: datetime,
                   **kw) -> list:  # type: ignore[no-untyped-def]
        sub = self.submit(symbol, side, qty, ts, price=price, **kw)
        return [sub, OrderAccepted(ts, sub.order_id), self.fill(sub, qty, price, fee, ts + timedelta(seconds=1))]
