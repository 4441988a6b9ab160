"""The metrics hooks outside the API: LLM calls against the real local mock server (success and a
scripted failure), a full WebSocket queue counted as a drop, a bus endpoint's counters exposed."""

from __future__ import annotations

import asyncio

from prometheus_client.parser import text_string_to_metric_families

from nofx.ai.client import LLMClient
from nofx.ai.config import EndpointConfig
from nofx.ai.mock_server import MockServer, MockState
from nofx.api.hub import EventHub, Subscriber
from nofx.messaging.counters import BusCounters
from nofx.messaging.messages import Rejected
from nofx.observability.metrics import NofxMetrics
from nofx.strategies.ai.cycle import ChatRequest

REQ = ChatRequest("trader", "decide", ({"role": "system", "content": "s"},
                                       {"role": "user", "content": "<market_data>\n{}\n</market_data>"}), None)


def samples(metrics: NofxMetrics) -> dict[tuple[str, tuple], float]:
    out = {}
    for fam in text_string_to_metric_families(metrics.exposition().decode()):
        for s in fam.samples:
            out[(s.name, tuple(sorted((k, v) for k, v in s.labels.items() if k != "pid")))] = s.value
    return out


def test_llm_calls_latency_errors_and_tokens() -> None:
    metrics = NofxMetrics()
    # request 1 answers, request 2 is an HTTP 500, not retried (max_retries=0)
    with MockServer(state=MockState(script=["ok", "server_error"])) as srv:
        cfg = EndpointConfig(base_url=srv.url, model="mock-momentum", timeout_s=5, max_retries=0,
                             response_format=False)

        async def run() -> list:
            client = LLMClient(cfg)
            client.observers.append(metrics.observe_llm)
            replies = [await client.complete(REQ), await client.complete(REQ)]
            await client.aclose()
            return replies

        ok, bad = asyncio.run(run())
    assert ok.error is None and bad.error is not None
    m = samples(metrics)
    assert m[("nofx_llm_calls_total", (("outcome", "ok"),))] == 1
    assert m[("nofx_llm_calls_total", (("outcome", "error"),))] == 1
    assert m[("nofx_llm_latency_seconds_count", ())] == 2 and m[("nofx_llm_latency_seconds_sum", ())] > 0
    assert m[("nofx_llm_tokens_total", (("kind", "prompt"),))] == ok.prompt_tokens > 0
    assert m[("nofx_llm_tokens_total", (("kind", "completion"),))] == ok.completion_tokens > 0
    errors = {k: v for k, v in m.items() if k[0] == "nofx_llm_errors_total"}
    assert sum(errors.values()) == 1, errors


def test_a_full_websocket_queue_counts_drops() -> None:
    hub = EventHub()
    metrics = NofxMetrics()
    metrics.live.add_bus(lambda: {"hub": hub.stats()})
    metrics.live.add_queues(lambda: {"websocket_send": hub.stats()["queued"]})
    loop = asyncio.new_event_loop()
    try:
        sub = Subscriber("u1", loop, asyncio.Queue(2), channels={"equity"})
        hub.subscribe(sub)
        for i in range(5):
            hub.publish({"type": "equity", "owner_id": "u1", "trader_id": "t", "equity": str(i)})
        loop.run_until_complete(asyncio.sleep(0))  # the loop runs the queued puts
        m = samples(metrics)
    finally:
        loop.close()
    assert m[("nofx_bus_messages_total", (("endpoint", "hub"),))] == 5
    assert m[("nofx_bus_dropped_total", (("endpoint", "hub"),))] == 3
    assert m[("nofx_queue_depth", (("queue", "websocket_send"),))] == 2


def test_a_bus_endpoints_counters() -> None:
    counters = BusCounters()
    counters.received, counters.gaps, counters.lost = 7, 1, 3
    counters.reject(Rejected("garbage", "1 frame"), "test")
    metrics = NofxMetrics()
    metrics.live.watch_bus_endpoint("md-sub", counters)
    m = samples(metrics)
    assert m[("nofx_bus_messages_total", (("endpoint", "md-sub"),))] == 7
    assert m[("nofx_bus_dropped_total", (("endpoint", "md-sub"),))] == 3
    assert m[("nofx_bus_gaps_total", (("endpoint", "md-sub"),))] == 1
    assert m[("nofx_bus_rejected_total", (("endpoint", "md-sub"), ("reason", "garbage")))] == 1


def test_several_worker_processes_are_summed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Multiprocess mode (``nofx serve --workers N``): any process' exposition sums every worker's counts."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    worker = ("from nofx.observability.metrics import NofxMetrics\n"
              "m = NofxMetrics.from_env(); m.orders.inc(3); m.observe_submit(0.001)")
    for _ in range(2):
        subprocess.run([sys.executable, "-c", worker], env=env, check=True, timeout=120)
    scrape = ("from nofx.observability.metrics import NofxMetrics\n"
              "print(NofxMetrics.from_env().exposition().decode())")
    text = subprocess.run([sys.executable, "-c", scrape], env=env, check=True, timeout=120, capture_output=True,
                          text=True).stdout
    got = {s.name: s.value for fam in text_string_to_metric_families(text) for s in fam.samples if not s.labels}
    assert got["nofx_orders_total"] == 6 and got["nofx_order_submit_seconds_count"] == 2
