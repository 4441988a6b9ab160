"""docs/grafana/nofx.json is a valid dashboard whose every query names a metric nofx exposes."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from nofx.observability.metrics import NofxMetrics

DASHBOARD = Path(__file__).parents[2] / "docs" / "grafana" / "nofx.json"


def test_dashboard_queries_name_exposed_metrics() -> None:
    dash = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    assert len(exprs) >= 13
    metrics = NofxMetrics()
    metrics.live.add_queues(lambda: {"open_orders": 0})
    metrics.live.add_bus(lambda: {"hub": {"received": 1, "rejected": {"garbage": 1}}})
    metrics.rejections.labels("RISK_X").inc()
    metrics.llm_errors.labels("CallFailed").inc()
    metrics.observe_http("GET", "/healthz", 200, 0.001)
    exposed = {s.name for fam in text_string_to_metric_families(metrics.exposition().decode()) for s in fam.samples}
    used = {name for e in exprs for name in re.findall(r"\bnofx_[a-z_]+", e)}
    assert used and used <= exposed, used - exposed
    # each family the issue names has a panel
    for family in ("nofx_order_submit_seconds", "nofx_orders_total", "nofx_fills_total",
                   "nofx_order_rejections_total", "nofx_bus_messages_total", "nofx_bus_dropped_total",
                   "nofx_queue_depth", "nofx_db_commit_seconds", "nofx_llm_calls_total", "nofx_llm_latency_seconds",
                   "nofx_llm_errors_total", "nofx_llm_tokens_total", "nofx_process_resident_memory_bytes",
                   "nofx_process_cpu_seconds_total"):
        assert any(family in e for e in exprs), family
