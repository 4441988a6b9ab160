"""Conversions between table rows and read-side records (one place, so every query agrees)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import RowMapping

from nofx.domain.enums import OrderStatus, OrderType, Side, TimeInForce
from nofx.domain.orders import Order
from nofx.engine.store import EquitySnapshot, TraderRecord
from nofx.persistence.records import FillRecord, OrderRecord, PositionRecord

ZERO = Decimal(0)


def naive(ts: datetime) -> datetime:
    """Timestamp for the ts columns: the exchange-local wall-clock time, offset dropped (not converted),
    so that ``CAST(ts AS DATE)`` is the trading day on both databases. The event payload keeps the
    exact ISO value, offset included, for replay."""
    return ts.replace(tzinfo=None) if ts.tzinfo is not None else ts


def trader_from_row(r: RowMapping) -> TraderRecord:
    return TraderRecord(trader_id=r["trader_id"], initial_cash=r["initial_cash"], market=r["market"],
                        config_json=r["config_json"], created=r["created"])


def snapshot_from_row(r: RowMapping) -> EquitySnapshot:
    return EquitySnapshot(trader_id=r["trader_id"], ts=r["ts"], equity=r["equity"], cash=r["cash"],
                          cursor=int(r["cursor"]))


def order_from_row(r: RowMapping) -> OrderRecord:
    return OrderRecord(
        trader_id=r["trader_id"], order_id=r["order_id"], symbol=r["symbol"], side=Side(r["side"]),
        order_type=OrderType(r["order_type"]), quantity=int(r["quantity"]), limit_price=r["limit_price"],
        tif=TimeInForce(r["tif"]), client_order_id=r["client_order_id"], tag=r["tag"],
        status=OrderStatus(r["status"]), filled_qty=int(r["filled_qty"]), avg_fill_price=r["avg_fill_price"],
        fees=r["fees"], reject_code=r["reject_code"], reject_reason=r["reject_reason"],
        parent_id=r["parent_id"], created=r["created"], updated=r["updated"], last_seq=int(r["last_seq"]),
    )


def order_values(trader_id: str, order: Order, updated: datetime, last_seq: int) -> dict[str, Any]:
    return {
        "trader_id": trader_id, "order_id": order.order_id, "symbol": order.symbol, "side": order.side.value,
        "order_type": order.request.order_type.value, "quantity": order.quantity,
        "limit_price": order.limit_price, "tif": order.request.tif.value,
        "client_order_id": order.request.client_order_id, "tag": order.request.tag,
        "status": order.status.value, "filled_qty": order.filled_qty, "avg_fill_price": order.avg_fill_price,
        "fees": order.fees, "reject_code": order.reject_code, "reject_reason": order.reject_reason,
        "parent_id": order.parent_id, "created": naive(order.created), "updated": naive(updated),
        "last_seq": last_seq,
    }


def fill_from_row(r: RowMapping) -> FillRecord:
    return FillRecord(
        trader_id=r["trader_id"], fill_id=r["fill_id"], order_id=r["order_id"], symbol=r["symbol"],
        side=Side(r["side"]), quantity=int(r["quantity"]), price=r["price"], fee=r["fee"], ts=r["ts"],
        realised_pnl=r["realised_pnl"], seq=None if r["seq"] is None else int(r["seq"]),
    )


def position_from_row(r: RowMapping) -> PositionRecord:
    return PositionRecord(trader_id=r["trader_id"], symbol=r["symbol"], quantity=int(r["quantity"]),
                          avg_cost=r["avg_cost"], realised_pnl=r["realised_pnl"], updated=r["updated"])
