"""Bus messages: every domain value round-trips unchanged; every kind of bad frame is rejected with
its reason (no sockets needed to check the codec itself)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import msgspec
import pytest

from nofx.domain.enums import OrderStatus, Side
from nofx.domain.events import (
    CorporateActionApplied,
    DividendTaxDeducted,
    OrderAccepted,
    OrderAmended,
    OrderDenied,
    OrderFilled,
    OrderProgress,
    OrderSubmitted,
)
from nofx.domain.fills import Fill
from nofx.domain.market_data import Bar, Tick
from nofx.domain.orders import OrderRequest
from nofx.messaging.messages import (
    SCHEMA_VERSION,
    BarSlice,
    CancelOrder,
    EngineReady,
    Hello,
    PositionState,
    ProcessStatus,
    SliceNote,
    SliceOrders,
    SliceReply,
    SliceRequest,
    StatusRequest,
    Envelope,
    Rejected,
    Replayed,
    ReplayEvents,
    decode,
    encode,
    topic_for,
)

T = datetime(2021, 6, 1, 10, 0)
FILL = Fill("F1", "t-O1", "600519.SH", Side.BUY, 100, Decimal("1800.01"), Decimal("5.37"), T)
REQ = OrderRequest("0700.HK", Side.SELL, 200, limit_price=Decimal("500.2"), client_order_id="c-1")

PAYLOADS = [
    (Bar("600519.SH", T, Decimal("1800"), Decimal("1810.5"), Decimal("1799"), Decimal("1805.01"), 12300,
         Decimal("1790")), "md.bar.600519.SH"),
    (Tick("0700.HK", T, Decimal("500.2"), 400), "md.tick.0700.HK"),
    (OrderSubmitted(T, "t-O1", "t", REQ), "order.t"),
    (OrderAccepted(T, "t-O1"), "order.t"),
    (OrderDenied(T, "t-O2", "RISK_PRICE_LIMIT", "above the limit-up price"), "risk.t"),
    (OrderFilled(T, "t-O1", FILL), "fill.t.600519.SH"),
    (OrderAmended(T, "t-O1", 300, Decimal("1801.5")), "order.t"),
    (OrderProgress(T, "t-O1", 100, Decimal("1800.01"), Decimal("5.37"), OrderStatus.PARTIALLY_FILLED), "order.t"),
    (CorporateActionApplied(T, "600519.SH", 100, Decimal("21.675"), Decimal(1), Decimal("2167.50"), 100),
     "account.t"),
    (DividendTaxDeducted(T, "600519.SH", "t-O3", "F9", 100, Decimal("216.75")), "account.t"),
    (REQ, None),
    (CancelOrder("t-O1"), None),
    (ReplayEvents("order.t", 3, 14), None),
    (Replayed(5, True, [b"\x96frame"]), None),
    (BarSlice("replay", 3, 10, 1_600_000_000_000_000_000, ["600519.SH", "000001.SZ"],
              {"close": [1805.01, 17.5], "volume": [12300.0, 0.0]}), None),
    (SliceRequest("replay", 0, 9), None),
    (EngineReady("engine/1/x", "t", 3, Decimal("99.01"), 1000.5, [PositionState("600519.SH", 100, 0, Decimal("1800.01"))],
                 2, [SliceNote(fill=FILL), SliceNote(request=REQ, code="RISK_LOT", reason="odd lot")]), None),
    (SliceOrders("t", 3, [REQ], 4, ["a log line"]), None),
    (Hello("t"), None),
    (SliceReply(5, False, code="SYS_NOT_READY", message="engine at slice 2"), None),
    (StatusRequest(""), None),
    (ProcessStatus("md", "market_data", 42, 1, 10, 11, {"garbage": 2}, 0, 0, 0.5, 3), None),
]


@pytest.mark.parametrize("payload,topic", PAYLOADS, ids=lambda v: type(v).__name__)
def test_domain_values_round_trip_exactly(payload, topic):
    msg = decode(encode(payload, "pub/1/x", 7, ts_ns=123))
    assert msg.payload == payload and type(msg.payload) is type(payload)
    assert (msg.publisher, msg.seq, msg.ts_ns) == ("pub/1/x", 7, 123)
    if topic is not None:
        assert topic_for(payload, "t") == topic


def _raw(schema: int, type_: str, body: object) -> bytes:
    env = Envelope(schema, type_, "forger/1/x", 3, 0, msgspec.Raw(msgspec.msgpack.encode(body)))
    return msgspec.msgpack.encode(env)


GOOD_BAR = {"symbol": "600519.SH", "ts": "2021-06-01T10:00:00", "open": "1", "high": "2", "low": "1",
            "close": "1.5", "volume": 100}


@pytest.mark.parametrize("frame,reason", [
    (b"", "garbage"),
    (b"\x00\xff not msgpack at all", "garbage"),
    (msgspec.msgpack.encode({"schema": 1}), "garbage"),  # msgpack, but not an envelope
    (msgspec.msgpack.encode([1, "bar", "p", 1]), "garbage"),  # an envelope cut short
    (_raw(SCHEMA_VERSION - 1, "bar", GOOD_BAR), "schema"),
    (_raw(SCHEMA_VERSION + 1, "bar", GOOD_BAR), "schema"),
    (_raw(SCHEMA_VERSION, "bar_v2", GOOD_BAR), "unknown_type"),
    (_raw(SCHEMA_VERSION, "bar", {**GOOD_BAR, "volume": "many"}), "invalid_body"),
    (_raw(SCHEMA_VERSION, "bar", {**GOOD_BAR, "open": "-1"}), "invalid_body"),  # Bar's own invariant
    (_raw(SCHEMA_VERSION, "bar", {**GOOD_BAR, "close": "abc"}), "invalid_body"),
    (_raw(SCHEMA_VERSION, "order_filled", {"ts": "2021-06-01T10:00:00", "order_id": "x"}), "invalid_body"),
    (_raw(SCHEMA_VERSION, "submit", {"symbol": "600519.SH", "side": "hold", "quantity": 100}), "invalid_body"),
])
def test_bad_frames_are_rejected_with_their_reason(frame, reason):
    with pytest.raises(Rejected) as e:
        decode(frame)
    assert e.value.reason == reason


def test_a_good_frame_from_the_forger_decodes():  # the forged frames above differ only in what is wrong
    assert decode(_raw(SCHEMA_VERSION, "bar", GOOD_BAR)).payload.close == Decimal("1.5")
