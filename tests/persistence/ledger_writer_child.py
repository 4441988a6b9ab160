"""Child process of the durability test: appends order flows and prints one line per ACKNOWLEDGED append
(after ``append`` returned), until killed. Usage: python ledger_writer_child.py URL TRADER_ID [GROUP]

With GROUP > 1 it stages flows with ``buffer`` and acknowledges them (prints their lines) only after the
``flush`` that commits them, every GROUP flows: the group-commit mode the engine benchmark uses."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from decimal import Decimal

from nofx.domain.enums import OrderType, Side
from nofx.domain.events import OrderAccepted, OrderFilled, OrderSubmitted
from nofx.domain.fills import Fill
from nofx.domain.orders import OrderRequest
from nofx.persistence import SqlLedgerStore


def main() -> None:
    url, trader_id = sys.argv[1], sys.argv[2]
    group = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    staged: list[str] = []
    store = SqlLedgerStore(url)
    t0 = datetime(2024, 3, 4, 9, 30)
    i = 0
    print("ready", flush=True)
    while True:
        i += 1
        ts = t0 + timedelta(seconds=i)
        oid = f"o{i}"
        req = OrderRequest("0700.HK", Side.BUY if i % 2 else Side.SELL, 100, OrderType.LIMIT, Decimal("300.1"),
                           client_order_id=f"c{i}")
        fill = Fill(f"f{i}", oid, "0700.HK", req.side, 100, Decimal("300.1"), Decimal("1.01"), ts)
        events = [OrderSubmitted(ts, oid, trader_id, req), OrderAccepted(ts, oid), OrderFilled(ts, oid, fill)]
        if group <= 1:
            store.append(trader_id, events)
            print(f"ack {oid}", flush=True)
            continue
        store.buffer(trader_id, events)
        staged.append(oid)
        if len(staged) == group:
            store.flush()
            print("".join(f"ack {o}\n" for o in staged), end="", flush=True)
            staged.clear()


if __name__ == "__main__":
    main()
