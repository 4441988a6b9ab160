"""Prometheus metrics of a nofx process, in one registry per :class:`NofxMetrics` (no module-level state).

Two kinds of figures:

* **Pushed** by hooks (counters and histograms): orders, fills and rejections by code from the kernel's
  listener and rejection callbacks; submit→ack latency around a trader engine's ``submit``; ledger write
  latency around the store's public write calls; HTTP request latency from the ASGI middleware; LLM calls,
  latency, errors and tokens from the client's reply observers. Each hook is a counter increment or one
  histogram observation on children made once (no label lookup per order).
* **Pulled** at scrape time (:class:`LiveCollector`): resident memory and CPU seconds of the process
  (psutil), queue depths and bus message counters, read from callables the host registers. A scrape costs
  the host nothing between scrapes.

Several worker processes: when ``PROMETHEUS_MULTIPROC_DIR`` is set (``nofx serve --workers N`` sets it), the
pushed figures are written to per-process files by prometheus-client and every worker's ``/metrics`` sums
them (``MultiProcessCollector``); the pulled figures are the answering worker's own, labelled with its pid.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from nofx.domain.events import Event, OrderFilled, OrderSubmitted

# submit→ack is a risk check plus one durable commit: tens of microseconds (memory) to tens of ms (fsync)
SUBMIT_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
COMMIT_BUCKETS = SUBMIT_BUCKETS
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LLM_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 40.0, 80.0)
COMMIT_OPERATIONS = ("append", "append_many", "flush", "snapshot")

# What a bus endpoint reports (see nofx.messaging.counters.BusCounters.as_dict): received messages,
# rejected frames by reason, gaps, lost (dropped) messages and stale duplicates.
BusStats = Mapping[str, Any]


class NofxMetrics:
    """The instruments of one process (one API app, one trading process). Thread-safe."""

    def __init__(self, multiprocess_dir: str | None = None) -> None:
        self.multiprocess_dir = multiprocess_dir
        r = self.registry = CollectorRegistry(auto_describe=False)
        self.submit_seconds = Histogram(
            "nofx_order_submit_seconds", "Order path latency, submit to acknowledgement (risk, OMS, durable "
            "ledger commit, venue), per order submitted to a trader engine", buckets=SUBMIT_BUCKETS, registry=r)
        self.orders = Counter("nofx_orders", "Orders submitted to trader engines (accepted or denied)", registry=r)
        self.fills = Counter("nofx_fills", "Fills booked by trader engines", registry=r)
        self.rejections = Counter("nofx_order_rejections", "Orders refused (risk denials, venue rejections, "
                                  "expiries with a reason) by code", ["code"], registry=r)
        self.commit_seconds = Histogram(
            "nofx_db_commit_seconds", "Durable ledger write latency (the caller's wait, commit included) by "
            "store operation", ["operation"], buckets=COMMIT_BUCKETS, registry=r)
        self.http_seconds = Histogram("nofx_http_request_seconds", "HTTP request latency by method, route "
                                      "template and status class", ["method", "route", "status"],
                                      buckets=HTTP_BUCKETS, registry=r)
        self.llm_calls = Counter("nofx_llm_calls", "LLM requests by outcome (ok, error)", ["outcome"], registry=r)
        self.llm_seconds = Histogram("nofx_llm_latency_seconds", "LLM request latency, retries included",
                                     buckets=LLM_BUCKETS, registry=r)
        self.llm_errors = Counter("nofx_llm_errors", "Failed LLM requests by error kind", ["kind"], registry=r)
        self.llm_tokens = Counter("nofx_llm_tokens", "LLM tokens by kind (prompt, completion)", ["kind"], registry=r)
        # children made once: a hook then does one increment, never a label lookup
        self._commit = {op: self.commit_seconds.labels(op) for op in COMMIT_OPERATIONS}
        self._llm_ok, self._llm_failed = self.llm_calls.labels("ok"), self.llm_calls.labels("error")
        self._prompt_tokens, self._completion_tokens = self.llm_tokens.labels("prompt"), self.llm_tokens.labels(
            "completion")
        self._rejection_children: dict[str, Any] = {}
        self._http_children: dict[tuple[str, str, str], Any] = {}
        self._lock = threading.Lock()
        self.live = LiveCollector()
        self._orders_inc = self.orders.inc
        self._fills_inc = self.fills.inc
        self._submit_observe = self.submit_seconds.observe

    @classmethod
    def from_env(cls) -> NofxMetrics:
        return cls(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None)

    # ---- hooks ------------------------------------------------------------------------------------
    def on_event(self, ev: Event) -> None:
        """Kernel listener: one increment per submitted order and per fill."""
        kind = type(ev)
        if kind is OrderSubmitted:
            self._orders_inc()
        elif kind is OrderFilled:
            self._fills_inc()

    def on_rejection(self, request: object, code: str, reason: str) -> None:
        """Kernel rejection callback (denials, venue rejections, expiries with a reason)."""
        child = self._rejection_children.get(code)
        if child is None:
            with self._lock:
                child = self._rejection_children.setdefault(code, self.rejections.labels(code))
        child.inc()

    def observe_submit(self, seconds: float) -> None:
        self._submit_observe(seconds)

    def observe_commit(self, operation: str, seconds: float) -> None:
        self._commit[operation].observe(seconds)

    def observe_http(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, f"{status // 100}xx")
        child = self._http_children.get(key)
        if child is None:
            with self._lock:
                child = self._http_children.setdefault(key, self.http_seconds.labels(*key))
        child.observe(seconds)

    def observe_llm(self, reply: Any) -> None:
        """LLM client observer: ``reply`` is a ``ModelReply`` (text or error, tokens, latency_ms)."""
        if getattr(reply, "cached", False):
            return  # a cache hit is no request
        if reply.error is None:
            self._llm_ok.inc()
        else:
            self._llm_failed.inc()
            kind = str(reply.error).split(":", 1)[0].strip()[:40] or "error"
            self.llm_errors.labels(kind if kind.isidentifier() else "other").inc()
        if reply.latency_ms:
            self.llm_seconds.observe(reply.latency_ms / 1000)
        if reply.prompt_tokens:
            self._prompt_tokens.inc(reply.prompt_tokens)
        if reply.completion_tokens:
            self._completion_tokens.inc(reply.completion_tokens)

    # ---- exposition -------------------------------------------------------------------------------
    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return generate_latest(_Exposition(self))  # type: ignore[arg-type]


class _Exposition:
    def __init__(self, metrics: NofxMetrics) -> None:
        self._m = metrics

    def collect(self) -> Iterator[Metric]:
        if self._m.multiprocess_dir:
            from prometheus_client.multiprocess import MultiProcessCollector

            yield from MultiProcessCollector(None, path=self._m.multiprocess_dir).collect()  # type: ignore[arg-type]
        else:
            yield from self._m.registry.collect()
        yield from self._m.live.collect()


class LiveCollector:
    """Figures read when Prometheus scrapes. Hosts register sources: ``queues`` (name -> depth) and
    ``bus`` (endpoint -> BusCounters-like stats); the process' own memory and CPU are always there."""

    def __init__(self) -> None:
        self._queues: list[Callable[[], Mapping[str, int]]] = []
        self._bus: list[Callable[[], Mapping[str, BusStats]]] = []
        self._started = time.time()
        import psutil

        self._process = psutil.Process()

    def add_queues(self, source: Callable[[], Mapping[str, int]]) -> None:
        self._queues.append(source)

    def add_bus(self, source: Callable[[], Mapping[str, BusStats]]) -> None:
        self._bus.append(source)

    def watch_bus_endpoint(self, name: str, counters: Any) -> None:
        """Expose one nofx.messaging endpoint's ``counters`` (a ``BusCounters``) under ``endpoint=name``."""
        self.add_bus(lambda: {name: counters.as_dict()})

    def collect(self) -> Iterator[Metric]:
        pid = str(os.getpid())
        proc = self._process
        with proc.oneshot():
            mem, cpu, threads = proc.memory_info(), proc.cpu_times(), proc.num_threads()
        g = GaugeMetricFamily("nofx_process_resident_memory_bytes", "Resident memory of this process", labels=["pid"])
        g.add_metric([pid], float(mem.rss))
        yield g
        c = CounterMetricFamily("nofx_process_cpu_seconds", "CPU time (user + system) of this process",
                                labels=["pid"])
        c.add_metric([pid], float(cpu.user + cpu.system))
        yield c
        g = GaugeMetricFamily("nofx_process_threads", "Threads of this process", labels=["pid"])
        g.add_metric([pid], float(threads))
        yield g
        g = GaugeMetricFamily("nofx_process_start_time_seconds", "Start of this process' metrics (Unix time)",
                              labels=["pid"])
        g.add_metric([pid], self._started)
        yield g
        yield from self._queue_metrics(pid)
        yield from self._bus_metrics(pid)

    def _queue_metrics(self, pid: str) -> Iterable[Metric]:
        g = GaugeMetricFamily("nofx_queue_depth", "Items waiting in a queue of this process", labels=["pid", "queue"])
        for source in self._queues:
            for name, depth in _safe(source, {}).items():
                g.add_metric([pid, name], float(depth))
        yield g

    def _bus_metrics(self, pid: str) -> Iterable[Metric]:
        labels = ["pid", "endpoint"]
        received = CounterMetricFamily("nofx_bus_messages", "Messages delivered by a bus endpoint", labels=labels)
        dropped = CounterMetricFamily("nofx_bus_dropped", "Messages lost before delivery (high-water mark, full "
                                      "subscriber queue, restart)", labels=labels)
        gaps = CounterMetricFamily("nofx_bus_gaps", "Sequence gaps detected by a bus endpoint", labels=labels)
        stale = CounterMetricFamily("nofx_bus_stale", "Duplicate or out-of-order messages discarded", labels=labels)
        rejected = CounterMetricFamily("nofx_bus_rejected", "Invalid frames rejected by reason",
                                       labels=[*labels, "reason"])
        for source in self._bus:
            for endpoint, s in _safe(source, {}).items():
                received.add_metric([pid, endpoint], float(s.get("received", 0)))
                dropped.add_metric([pid, endpoint], float(s.get("lost", 0)))
                gaps.add_metric([pid, endpoint], float(s.get("gaps", 0)))
                stale.add_metric([pid, endpoint], float(s.get("stale", 0)))
                for reason, n in (s.get("rejected") or {}).items():
                    rejected.add_metric([pid, endpoint, str(reason)], float(n))
        yield from (received, dropped, gaps, stale, rejected)


def _safe(source: Callable[[], Any], default: Any) -> Any:
    """A scrape never fails because one source did (e.g. a store closing during shutdown)."""
    try:
        return source()
    except Exception:  # noqa: BLE001
        return default
