"""Supervised paper-trading workers for the API's traders.

A started trader runs :class:`nofx.live.paper.PaperSession` (the same kernel, venue and ledger as
``nofx paper``) in its own thread. Orders sent over HTTP go into that session's engine between slices
(under the session's lock), so they take the one order path: idempotency -> risk -> OMS -> router ->
venue -> ledger. They do so on the :class:`~nofx.api.orderflow.OrderFlow` thread, which commits the
orders and cancels that arrive together in one transaction and answers each only after that commit.

Idempotency without a query per order: each running trader keeps the set of its client order ids (read
from the ledger when its session starts, then grown by its own ``OrderSubmitted`` events). An id that is
not in the set is new; one in the set whose order the OMS has dropped (it keeps recent closed orders
only) is looked up in the ledger, which happens for late retries only.

Supervision: a worker that dies with an error is restarted from its ledger (``resume``) up to
``MAX_RESTARTS`` times with a growing pause; a trader whose ``desired`` state is "running" is resumed
when the server starts; shutdown stops every worker after its current slice and joins it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

from nofx.api.hub import EventHub
from nofx.api.market import price_text
from nofx.api.orderflow import Op, OrderFlow, StagingStore
from nofx.api.schemas import market_time
from nofx.domain.errors import OrderError
from nofx.domain.events import Event, OrderDenied, OrderFilled, OrderSubmitted
from nofx.domain.orders import Order, OrderRequest

log = logging.getLogger("nofx.api.traders")

MAX_RESTARTS = 3


class TraderUnavailable(Exception):
    """The trader has no running session to take orders (stopped, starting, finished or failed)."""

    def __init__(self, state: str) -> None:
        super().__init__(state)
        self.state = state


class SymbolNotTraded(Exception):
    """The order's symbol is not in the trader's universe."""


@dataclass(eq=False)
class Runtime:
    trader_id: str
    owner_id: str
    config: dict[str, Any]
    stop: threading.Event = field(default_factory=threading.Event)  # set: the trader is to stop for good
    run_stop: threading.Event = field(default_factory=threading.Event)  # set: the current session run ends
    restart: bool = False  # the current run ends to be resumed from the ledger (a failed ledger write)
    state: str = "starting"  # starting | running | finished | failed | stopped
    error: str | None = None
    session: Any = None  # PaperSession once built (None while it is being rebuilt)
    thread: threading.Thread | None = None
    restarts: int = 0
    client_ids: set[str] = field(default_factory=set)  # every client order id in the trader's ledger

    @property
    def effective(self) -> str:
        if self.state == "starting" and self.session is not None and self.session.ready.is_set():
            return "running"
        return self.state


class TraderSupervisor:
    def __init__(self, store: Any, data_path: str | None, hub: EventHub, state_dir: Path | None = None) -> None:
        self._store = store
        self._data_path = data_path
        self._state_dir = Path(state_dir) if state_dir is not None else Path(".nofx")
        self._hub = hub
        self._lock = threading.Lock()
        self._rt: dict[str, Runtime] = {}
        self._session_hooks: list[Callable[[str, Any], None]] = []
        self._flow = OrderFlow(store, self._restart_from_ledger)

    def add_session_hook(self, hook: Callable[[str, Any], None]) -> None:
        """Call ``hook(trader_id, session)`` for every trader session built from now on and for those
        already built (observability attaches its listeners this way; see nofx.observability.asgi)."""
        with self._lock:
            self._session_hooks.append(hook)
            built = [(rt.trader_id, rt.session) for rt in self._rt.values() if rt.session is not None]
        for trader_id, session in built:
            hook(trader_id, session)

    # ---- lifecycle ----------------------------------------------------------------------------------
    def start(self, trader_id: str, owner_id: str, config: dict[str, Any]) -> None:
        with self._lock:
            old = self._rt.get(trader_id)
            if old is not None and old.thread is not None and old.thread.is_alive():
                return  # already running: start is idempotent
            rt = Runtime(trader_id, owner_id, config)
            self._rt[trader_id] = rt
            rt.thread = threading.Thread(target=self._work, args=(rt,), name=f"trader-{trader_id}", daemon=True)
            rt.thread.start()

    def stop(self, trader_id: str, timeout: float = 30.0) -> None:
        with self._lock:
            rt = self._rt.get(trader_id)
        if rt is None:
            return
        rt.stop.set()
        rt.run_stop.set()
        if rt.thread is not None:
            rt.thread.join(timeout)
        rt.state = "stopped"

    def shutdown(self, timeout: float = 30.0) -> None:
        self._flow.close()  # ops already queued are committed and answered first
        with self._lock:
            rts = list(self._rt.values())
        for rt in rts:
            rt.stop.set()
            rt.run_stop.set()
        deadline = time.monotonic() + timeout
        for rt in rts:
            if rt.thread is not None:
                rt.thread.join(max(0.1, deadline - time.monotonic()))

    def forget(self, trader_id: str) -> None:
        self.stop(trader_id)
        with self._lock:
            self._rt.pop(trader_id, None)

    def state(self, trader_id: str) -> tuple[str, str | None]:
        rt = self._rt.get(trader_id)
        return ("stopped", None) if rt is None else (rt.effective, rt.error)

    def wait_ready(self, trader_id: str, timeout: float) -> str:
        """Wait until the trader can take orders (or has failed); returns its state."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rt = self._rt.get(trader_id)
            if rt is None or rt.effective in ("running", "failed", "finished", "stopped"):
                break
            time.sleep(0.02)
        return self.state(trader_id)[0]

    # ---- the order path ----------------------------------------------------------------------------
    def _live(self, trader_id: str) -> Any:
        rt = self._rt.get(trader_id)
        if rt is None or rt.effective != "running":
            raise TraderUnavailable("stopped" if rt is None else rt.effective)
        return rt.session

    def owner_if_running(self, trader_id: str) -> str | None:
        """The owner of a trader running here (no query: the hot path's ownership check), else None."""
        rt = self._rt.get(trader_id)
        return None if rt is None else rt.owner_id

    def _submit_op(self, trader_id: str, request: OrderRequest, owner_id: str, aio: asyncio.Future | None) -> Op:
        rt = self._rt.get(trader_id)
        if rt is None or rt.owner_id != owner_id:
            raise TraderUnavailable("stopped")
        session = self._live(trader_id)
        if request.symbol not in session.market.panel.symbols:
            raise SymbolNotTraded(request.symbol)
        cid = request.client_order_id
        store = self._store

        def run(engine: Any) -> tuple[dict[str, Any], bool]:
            _still_live(rt, session)
            existing = engine.oms.find_client_order(cid)
            if existing is not None:
                return order_dict(existing), False
            if cid and cid in rt.client_ids:  # an old order the OMS no longer holds: the ledger has it
                rec = store.find_by_client_order_id(trader_id, cid)
                if rec is not None:
                    return order_dict(rec.to_order()), False
            return order_dict(engine.submit(request)), True

        return Op(trader_id, session, run, aio=aio)

    def _cancel_op(self, trader_id: str, order_id: str, aio: asyncio.Future | None) -> Op:
        rt = self._rt.get(trader_id)
        session = self._live(trader_id)

        def run(engine: Any) -> tuple[str, dict[str, Any] | None]:
            _still_live(rt, session)
            try:
                order = engine.oms.get(order_id)
            except OrderError:
                return "unknown", None  # not in memory (old, or no such order): the ledger answers
            if not order.status.is_open:
                return "not_open", order_dict(order)
            engine.cancel(order_id, "cancelled by user")
            return "cancelled", order_dict(engine.oms.get(order_id), updated=engine.market.now())

        return Op(trader_id, session, run, aio=aio)

    def submit(self, trader_id: str, request: OrderRequest, owner_id: str) -> tuple[dict[str, Any], bool]:
        """Submit through the trader's engine; returns (order as a dict, created) once committed. A known
        ``client_order_id`` returns the first order (created False): a retried POST never makes a second
        order. TraderUnavailable unless the trader runs here *for* ``owner_id`` (the caller then asks the
        database whose it is: the hot path needs no query); SymbolNotTraded outside its universe."""
        op = self._submit_op(trader_id, request, owner_id, None)
        self._flow.submit(op)
        return op.future.result()  # type: ignore[union-attr]

    async def submit_async(self, trader_id: str, request: OrderRequest, owner_id: str
                           ) -> tuple[dict[str, Any], bool]:
        """``submit`` for a request handler: the event loop waits without a thread."""
        fut = asyncio.get_running_loop().create_future()
        self._flow.submit(self._submit_op(trader_id, request, owner_id, fut))
        return await fut  # type: ignore[no-any-return]

    def cancel_outcome(self, trader_id: str, order_id: str) -> tuple[str, dict[str, Any] | None]:
        """``cancel_async`` for a thread (the supervisor socket's callers)."""
        op = self._cancel_op(trader_id, order_id, None)
        self._flow.submit(op)
        return op.future.result()  # type: ignore[union-attr,no-any-return]

    async def cancel_async(self, trader_id: str, order_id: str) -> tuple[str, dict[str, Any] | None]:
        """("cancelled" | "not_open", the order as a dict) once committed; ("unknown", None) when the
        running engine does not hold the order (the ledger answers)."""
        fut = asyncio.get_running_loop().create_future()
        self._flow.submit(self._cancel_op(trader_id, order_id, fut))
        return await fut  # type: ignore[no-any-return]

    def _restart_from_ledger(self, trader_id: str) -> None:
        """Called by the order flow (holding the session lock) when a trader's events could not be stored:
        its engine is ahead of its ledger, so it takes no more orders and resumes from the ledger."""
        rt = self._rt.get(trader_id)
        if rt is None:
            return
        rt.session = None
        rt.restart = True
        rt.run_stop.set()

    # ---- the worker ---------------------------------------------------------------------------------
    def _work(self, rt: Runtime) -> None:
        while not rt.stop.is_set():
            try:
                rt.state = "starting"
                run_stop = rt.run_stop = threading.Event()
                if rt.stop.is_set():  # stop() came before this run's event existed
                    break
                # one process per trader: a `nofx paper` of the same trader elsewhere keeps it (busy)
                with self._store.lease(rt.trader_id):
                    resume = self._store.get_trader(rt.trader_id) is not None
                    session, close = self._build(rt, resume)
                    try:
                        rt.client_ids = self._client_ids(rt.trader_id)
                        with self._lock:  # with add_session_hook: each session meets each hook exactly once
                            rt.session = session
                            hooks = list(self._session_hooks)
                        for hook in hooks:
                            hook(rt.trader_id, session)
                        session.run(resume=resume, progress=False, stop=run_stop,
                                    on_slice=self._slice_listener(rt))
                    finally:
                        close()
                if rt.restart and not rt.stop.is_set():
                    rt.restart = False
                    rt.restarts += 1
                    log.warning("trader %s resumes from its ledger after a failed ledger write", rt.trader_id)
                    if rt.restarts > MAX_RESTARTS:
                        rt.state = "failed"
                        return
                    continue
                rt.state = "stopped" if rt.stop.is_set() else "finished"
                return
            except Exception as exc:  # noqa: BLE001 - supervision: record, then restart from the ledger
                rt.error = f"{type(exc).__name__}: {exc}"
                log.error("trader %s failed: %s", rt.trader_id, rt.error)
                rt.restarts += 1
                if rt.restarts > MAX_RESTARTS or _is_config_error(exc):
                    rt.state = "failed"
                    return
                rt.stop.wait(min(8.0, 0.5 * 2 ** rt.restarts))
        rt.state = "stopped"

    def _build(self, rt: Runtime, resume: bool) -> tuple[Any, Callable[[], None]]:
        """The trader's paper session and what to close when its run ends."""
        from nofx.engine.risk import RiskConfig

        c = rt.config
        risk = RiskConfig.model_validate(c.get("risk") or {})
        speed = float(c.get("speed", 0.0))
        account = {k: c[k] for k in ("start", "end", "cash", "rules", "fees") if k in c}
        if "trader" in c:  # an AI trader: `nofx ai paper`'s session, its decision log in the same database
            from nofx.ai.config import AIRunConfig
            from nofx.ai.paper import ai_paper_session

            cfg = AIRunConfig.model_validate({
                # the server decides the files: the data, and a reply cache in its state folder
                "trader": {**c["trader"], "id": rt.trader_id, "cache_dir": str(self._state_dir / "ai_cache")},
                "data": {"path": self._data_path, "symbols": list(c["symbols"])},
                "backtest": account, "risk": risk.model_dump()})
            session, trader = ai_paper_session(cfg, StagingStore(self._store), resume=resume, speed=speed,
                                               group_commit=False)
            close: Callable[[], None] = trader.caller.close
        else:
            import nofx.strategies.builtin  # noqa: F401  (registers the strategies)
            from nofx.backtest.config import BacktestConfig
            from nofx.data.bars import read_bars
            from nofx.data.bundled import bundled_bars_path
            from nofx.live.paper import PaperSession
            from nofx.strategies.registry import REGISTRY

            bt = BacktestConfig.model_validate(account)
            strategy = REGISTRY.create(c["strategy"], c.get("params") or {})
            symbols = list(c["symbols"])
            bars = read_bars(self._data_path or bundled_bars_path(), symbols=symbols, start=bt.start, end=bt.end)
            session = PaperSession(bars, strategy, bt, StagingStore(self._store), rt.trader_id, symbols=symbols,
                                   speed=speed, risk=risk, run_config=c, group_commit=False)
            close = _nothing
        session.engine.listeners.append(self._event_listener(rt, session.store))
        return session, close

    def _client_ids(self, trader_id: str) -> set[str]:
        from sqlalchemy import select

        from nofx.persistence import schema as t

        o = t.orders
        with self._store.connect() as conn:
            return {r[0] for r in conn.execute(select(o.c.client_order_id).where(
                o.c.trader_id == trader_id, o.c.client_order_id.is_not(None)))}

    def _event_listener(self, rt: Runtime, store: StagingStore) -> Callable[[Event], None]:
        hub = self._hub

        def publish(msg: dict[str, Any]) -> None:  # subscribers hear of committed events only
            store.when_committed(lambda: hub.publish(msg))

        def on_event(ev: Event) -> None:
            if isinstance(ev, OrderSubmitted) and ev.request.client_order_id:
                rt.client_ids.add(ev.request.client_order_id)
            if not hub.active:
                return
            if isinstance(ev, OrderFilled):
                f = ev.fill
                publish({"type": "fill", "owner_id": rt.owner_id, "trader_id": rt.trader_id,
                             "fill_id": f.fill_id, "order_id": f.order_id, "symbol": f.symbol, "side": f.side.value,
                             "quantity": f.quantity, "price": str(f.price), "fee": str(f.fee),
                             "ts": market_time(f.ts).isoformat()})
            order_id = getattr(ev, "order_id", None)
            if order_id is None:
                return
            msg: dict[str, Any] = {"type": "order", "owner_id": rt.owner_id, "trader_id": rt.trader_id,
                                   "order_id": order_id, "event": ev.kind, "ts": market_time(ev.ts).isoformat()}
            if isinstance(ev, OrderSubmitted):
                msg["request"] = ev.request.to_dict()
            if isinstance(ev, OrderDenied):
                msg["code"], msg["reason"] = ev.code, ev.reason
            publish(msg)

        return on_event

    def _slice_listener(self, rt: Runtime) -> Callable[[int, datetime, Decimal, Decimal], None]:
        hub = self._hub

        def on_slice(i: int, ts: datetime, equity: Decimal, cash: Decimal) -> None:
            if not hub.active:
                return
            hub.publish({"type": "equity", "owner_id": rt.owner_id, "trader_id": rt.trader_id,
                         "ts": market_time(ts).isoformat(), "equity": str(equity), "cash": str(cash)})
            panel = rt.session.market.panel
            f = panel.fields
            for col, sym in enumerate(panel.symbols):
                close, volume = float(f["close"][i, col]), float(f["volume"][i, col])
                if close == close:  # not NaN (no bar for this symbol in this slice)
                    hub.publish({"type": "quote", "symbol": sym, "ts": market_time(ts).isoformat(),
                                 "close": price_text(close), "volume": int(volume) if volume == volume else None})

        return on_slice


def _still_live(rt: Runtime | None, session: Any) -> None:
    """Under the session lock: the session an op was queued for still takes orders (not restarted from
    its ledger, not stopping since)."""
    if rt is None or rt.session is not session:
        raise TraderUnavailable("starting")
    if rt.stop.is_set() or rt.run_stop.is_set():
        raise TraderUnavailable("stopped")


def _nothing() -> None:
    pass


def _is_config_error(exc: Exception) -> bool:
    from nofx.domain.errors import ConfigError, DataError

    return isinstance(exc, (ConfigError, DataError))


def config_json(config: dict[str, Any]) -> str:
    return json.dumps(config, sort_keys=True, default=str)


def order_dict(o: Order, updated: datetime | None = None) -> dict[str, Any]:
    """An order's fields as the API shows them, taken under the session lock (the worker goes on mutating
    the live order afterwards). ``updated``: the time of its last event if known (else its creation)."""
    req = o.request
    return {"order_id": o.order_id, "client_order_id": req.client_order_id, "symbol": o.symbol,
            "side": o.side.value, "order_type": req.order_type.value, "quantity": o.quantity,
            "limit_price": None if o.limit_price is None else str(o.limit_price), "tif": req.tif.value,
            "status": o.status.value, "filled_qty": o.filled_qty, "avg_fill_price": str(o.avg_fill_price),
            "fees": str(o.fees), "reject_code": o.reject_code, "reject_reason": o.reject_reason,
            "created": o.created.isoformat(), "updated": (updated or o.created).isoformat()}
