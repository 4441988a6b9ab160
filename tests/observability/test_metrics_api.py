"""``/metrics`` of a real server after a short real paper run through the API: every metric family the
issue names is exposed, and the ones the run exercises moved between a scrape before and one after."""

from __future__ import annotations

import json
import time

import api_live_server as live
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.sync.client import connect

FAMILIES = (
    "nofx_order_submit_seconds", "nofx_orders", "nofx_fills", "nofx_order_rejections", "nofx_db_commit_seconds",
    "nofx_http_request_seconds", "nofx_bus_messages", "nofx_bus_dropped", "nofx_queue_depth",
    "nofx_llm_calls", "nofx_llm_latency_seconds", "nofx_llm_errors", "nofx_llm_tokens",
    "nofx_process_resident_memory_bytes", "nofx_process_cpu_seconds",
)


def scrape(client) -> dict[str, dict[tuple, float]]:  # type: ignore[no-untyped-def]
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain"), r.text
    out: dict[str, dict[tuple, float]] = {}
    for fam in text_string_to_metric_families(r.text):
        samples = out.setdefault(fam.name, {})
        for s in fam.samples:
            labels = tuple(sorted((k, v) for k, v in s.labels.items() if k != "pid"))
            samples[(s.name, labels)] = s.value
    return out


def value(m: dict, family: str, sample: str | None = None, **labels: str) -> float:
    want = tuple(sorted(labels.items()))
    return sum(v for (name, lab), v in m.get(family, {}).items()
               if name == (sample or family) and all(item in lab for item in want))


def test_metrics_move_after_a_paper_run(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with live.live_server(tmp_path) as server:
        c = server.user_client("metrics")
        before = scrape(c)
        for family in FAMILIES:
            assert family in before, f"{family} missing from /metrics"
        tid = live.new_trader(c, start=True, speed=86400 * 5)
        token = server.tokens["metrics"]["access_token"]
        with connect(f"ws://127.0.0.1:{server.port}/api/v1/ws",
                     additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=10) as ws:
            assert json.loads(ws.recv(timeout=5))["type"] == "ready"
            ws.send(json.dumps({"action": "subscribe", "channel": "quotes", "symbols": ["600519.SH"]}))
            ws.recv(timeout=5)
            for ch in ("orders", "fills", "equity"):
                ws.send(json.dumps({"action": "subscribe", "channel": ch, "trader_id": tid}))
                ws.recv(timeout=5)
            order = {"trader_id": tid, "symbol": "600519.SH", "side": "buy", "order_type": "market"}
            r = c.post("/api/v1/orders", json={**order, "client_order_id": "m-ok", "quantity": 100})
            assert r.status_code == 201, r.text
            # far more than the cash buys: refused by the risk engine with a code
            r = c.post("/api/v1/orders", json={**order, "client_order_id": "m-big", "quantity": 10_000_000})
            assert r.status_code == 201 and r.json()["status"] == "rejected", r.text
            code = r.json()["reject_code"]
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                after = scrape(c)
                if value(after, "nofx_fills", "nofx_fills_total") >= 1 and value(
                        after, "nofx_bus_messages", "nofx_bus_messages_total", endpoint="hub") > 0:
                    break
                try:
                    ws.recv(timeout=0.2)
                except TimeoutError:
                    pass
        c.post(f"/api/v1/traders/{tid}/stop")
        time.sleep(0.3)  # some CPU passes between the scrapes
        after = scrape(c)
    assert value(after, "nofx_orders", "nofx_orders_total") >= 2 > value(before, "nofx_orders", "nofx_orders_total")
    assert value(after, "nofx_fills", "nofx_fills_total") >= 1
    rejected = {lab: v for (name, lab), v in after["nofx_order_rejections"].items() if name.endswith("_total")}
    assert sum(rejected.values()) >= 1 and all(dict(lab)["code"].startswith(("RISK_", "VENUE_")) for lab in rejected)
    assert value(after, "nofx_order_rejections", "nofx_order_rejections_total", code=code) >= 1
    assert value(after, "nofx_order_submit_seconds", "nofx_order_submit_seconds_count") >= 2
    assert value(after, "nofx_order_submit_seconds", "nofx_order_submit_seconds_sum") > 0
    # durable writes: the worker's appends and the API's group commits of orders (append_many)
    assert value(after, "nofx_db_commit_seconds", "nofx_db_commit_seconds_count", operation="append") \
        + value(after, "nofx_db_commit_seconds", "nofx_db_commit_seconds_count", operation="append_many") >= 2
    assert value(after, "nofx_http_request_seconds", "nofx_http_request_seconds_count",
                 route="/api/v1/orders", method="POST", status="2xx") == 2
    assert value(after, "nofx_bus_messages", "nofx_bus_messages_total", endpoint="hub") > 0
    assert ("nofx_bus_dropped_total", (("endpoint", "hub"),)) in after["nofx_bus_dropped"]
    assert {dict(lab)["queue"] for _, lab in after["nofx_queue_depth"]} >= {"ledger_buffer", "open_orders",
                                                                           "websocket_send"}
    assert value(after, "nofx_process_resident_memory_bytes") > 50e6
    assert value(after, "nofx_process_cpu_seconds", "nofx_process_cpu_seconds_total") > value(
        before, "nofx_process_cpu_seconds", "nofx_process_cpu_seconds_total")
    # no id ever becomes a label value (a trader's id in a path is templated)
    assert tid not in "".join(str(k) for fam in after.values() for k in fam)


@pytest.mark.parametrize("path", ["/api/v1/traders/abc/start"])
def test_route_template_keeps_the_router_prefix(path: str) -> None:
    from nofx.observability.asgi import route_template

    class Route:
        path = "/traders/{trader_id}/start"
        endpoint = None

    class Mounted:
        path = "/assets"

    assert route_template({"path": path, "route": Route()}) == "/api/v1/traders/{trader_id}/start"
    assert route_template({"path": "/assets/js/pages/app.js", "route": Mounted()}) == "/assets/{path}"
    assert route_template({"path": "/nowhere"}, 404) == "unmatched"
    assert route_template({"path": "/assets/app.css"}, 200) == "other"
