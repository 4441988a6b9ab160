"""Group commit for the API's order path: orders and cancels that arrive together share one transaction.

Every ``POST /orders`` and ``DELETE /orders/{id}`` for a running trader becomes an :class:`Op` on the
one :class:`OrderFlow` thread. The thread takes every op queued so far, and for each one takes its
trader's session lock (a trader in the middle of a slice, such as an AI trader waiting on its model, is
skipped and its ops retried a few ms later, so it holds up no other trader) and runs it on the engine (the one order path: idempotency -> risk ->
OMS -> router -> venue). The engine writes through a :class:`StagingStore`, which holds the events in
memory while a batch is open; then ONE ``append_many`` commits the events of every op of the batch, and
only after it returned are the ops' futures resolved and the HTTP answers sent (acknowledged = committed,
at the ledger's durability: SQLite ``synchronous``, PostgreSQL ``synchronous_commit``). The session locks
are held from the op until the commit, so a trader's worker never sees (or builds on) uncommitted state.

If the shared transaction fails, each trader's events are retried alone, so one bad trader never fails
another's orders. A trader whose events cannot be stored has an engine ahead of its ledger: its ops fail
(503) and its session is restarted from the ledger (the source of truth), as after a crash.

This replaces a transaction per order and a thread-pool thread per waiting request: the event loop only
queues ops and awaits futures, and the commit cost is shared by every order in the batch.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from nofx.domain.events import Event
from nofx.observability.hooks import log_ledger_commit

log = logging.getLogger("nofx.api.orderflow")

MAX_BATCH = 2000  # ops per transaction: bounds the time locks are held and a failed batch's retry work
LOCK_WAIT_S = 0.002  # a trader in a slice does not hold up the other traders' orders: its ops wait
BUSY_RETRY_S = 0.005  # how soon ops of a busy trader are tried again
LOCK_TIMEOUT_S = 30.0  # an op whose trader stays busy this long fails (an AI slice waits on its model)


class StagingStore:
    """The ledger store a trader's engine writes to: pass-through, except while the order-flow thread has a
    batch open for this trader (under its session lock), when ``append`` stages the events instead."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self.staged: list[Event] | None = None  # not None while a batch is open for this trader
        self.after_commit: list[Callable[[], None]] = []  # run once the open batch is committed

    def append(self, trader_id: str, events: Sequence[Event]) -> None:
        if self.staged is not None:
            self.staged.extend(events)
            # the commit line is logged in the context of the request whose op staged these events
            chunk, ctx = list(events), contextvars.copy_context()
            self.after_commit.append(lambda: ctx.run(log_ledger_commit, trader_id, chunk, None))  # timed per batch
        else:
            self._store.append(trader_id, events)

    def when_committed(self, fn: Callable[[], None]) -> None:
        """``fn()`` once what was appended so far is committed: at once outside a batch (``append``
        committed it already), after the batch's commit inside one (never, if it fails)."""
        if self.staged is not None:
            self.after_commit.append(fn)
        else:
            fn()

    def __getattr__(self, name: str) -> Any:  # everything else is the real store's
        return getattr(self._store, name)


class OpFailed(Exception):
    """The op's events could not be committed (the trader is being restarted from its ledger)."""


@dataclass(eq=False)
class Op:
    """``run(engine)`` on one trader's engine inside a batch. Its result (or exception) goes, after the
    commit, to ``future`` (a thread's caller) or to ``aio`` on its event loop (a request handler)."""

    trader_id: str
    session: Any  # the trader's PaperSession (its lock, engine and staging store)
    run: Callable[[Any], Any]
    future: Future | None = None
    aio: asyncio.Future | None = None
    deadline: float = 0.0  # set when first deferred (its trader busy): fails after LOCK_TIMEOUT_S
    context: contextvars.Context = field(default_factory=contextvars.copy_context)  # the submitter's ids

    def __post_init__(self) -> None:
        if self.aio is None and self.future is None:
            self.future = Future()


def _settle(items: list[tuple[asyncio.Future, Any, BaseException | None]]) -> None:
    for fut, value, exc in items:
        if fut.cancelled():  # the client went away: the order stands (it is committed), nobody to tell
            continue
        if exc is not None:
            fut.set_exception(exc)
        else:
            fut.set_result(value)


class OrderFlow:
    """The group-commit thread. ``on_store_failure(trader_id)`` is told of a trader whose staged events
    could not be stored (the supervisor restarts it from the ledger)."""

    def __init__(self, store: Any, on_store_failure: Callable[[str], None]) -> None:
        self._store = store
        self._on_failure = on_store_failure
        self._queue: queue.SimpleQueue[Op | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="order-flow", daemon=True)
        self._closed = False
        self.transactions = 0  # statistics: commits and the ops they carried
        self.ops = 0
        self._thread.start()

    def submit(self, op: Op) -> None:
        if self._closed:
            self._resolve([(op, None, OpFailed("server is shutting down"))])
        else:
            self._queue.put(op)

    @staticmethod
    def _resolve(results: list[tuple[Op, Any, BaseException | None]]) -> None:
        """Hand every result to its waiter: one call into each event loop per batch, not one per op."""
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future, Any, BaseException | None]]] = {}
        for op, value, exc in results:
            if op.aio is not None:
                by_loop.setdefault(op.aio.get_loop(), []).append((op.aio, value, exc))
            elif op.future is not None:
                if exc is not None:
                    op.future.set_exception(exc)
                else:
                    op.future.set_result(value)
        for loop, items in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle, items)
            except RuntimeError:  # that loop is closed: its requests are gone
                pass

    def close(self, timeout: float = 10.0) -> None:
        self._closed = True
        self._queue.put(None)
        self._thread.join(timeout)

    # ---- the thread -----------------------------------------------------------------------------------
    def _loop(self) -> None:
        deferred: list[Op] = []  # ops whose trader was busy (mid-slice): first in the next batch
        stopping = False
        while True:
            batch = deferred
            if not batch:
                first = self._queue.get()
                if first is None:
                    return
                batch = [first]
            elif stopping:
                pass
            else:
                try:  # a busy trader is retried soon, not in a spin
                    nxt = self._queue.get(timeout=BUSY_RETRY_S)
                    if nxt is None:
                        stopping = True
                    else:
                        batch.append(nxt)
                except queue.Empty:
                    pass
            while len(batch) < MAX_BATCH and not stopping:  # everything that arrived meanwhile
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stopping = True
                    break
                batch.append(nxt)
            try:
                deferred = self._run_batch(batch)
            except BaseException as exc:  # noqa: BLE001 - never leave a request waiting
                log.exception("order flow batch failed")
                self._resolve([(op, None, OpFailed(f"{type(exc).__name__}: {exc}")) for op in batch])
                deferred = []
            if stopping and not deferred:
                return

    def _run_batch(self, batch: list[Op]) -> list[Op]:
        """Run and commit ``batch``; returns the ops deferred because their trader was busy."""
        held: dict[int, Any] = {}  # id(session) -> session whose lock this thread holds (batch open)
        busy: set[int] = set()  # sessions in a slice (an AI trader may wait on its model for seconds)
        deferred: list[Op] = []
        results: list[tuple[Op, Any, BaseException | None]] = []
        failed: dict[str, str] = {}
        now = time.monotonic()
        try:
            for op in batch:
                s = op.session
                key = id(s)
                if key in busy or (key not in held and not s.lock.acquire(timeout=LOCK_WAIT_S)):
                    busy.add(key)  # the trader's later ops wait too: one trader's ops keep their order
                    if op.deadline == 0.0:
                        op.deadline = now + LOCK_TIMEOUT_S
                    if now > op.deadline:
                        results.append((op, None, OpFailed("trader is busy")))
                    else:
                        deferred.append(op)
                    continue
                if key not in held:
                    held[key] = s
                    s.store.staged = []
                try:  # in the request's context: the engine's log lines carry its request id
                    results.append((op, op.context.run(op.run, s.engine), None))
                except Exception as exc:  # noqa: BLE001 - the op's own outcome (e.g. an unknown order)
                    results.append((op, None, exc))
            failed = self._commit(list(held.values()))
            for tid in failed:  # still under the locks: its worker must not run on the unstored state
                self._on_failure(tid)
        finally:
            done = []
            for s in held.values():
                if s.trader_id not in failed:
                    done.extend(s.store.after_commit)
                s.store.staged = None
                s.store.after_commit = []
                s.lock.release()
        for fn in done:  # e.g. WebSocket updates: told only what is committed
            try:
                fn()
            except Exception:  # noqa: BLE001 - a listener never fails the orders
                log.exception("after-commit callback failed")
        if held:
            self.transactions += 1
        self.ops += len(results)
        self._resolve([(op, None, OpFailed(f"ledger write failed: {failed[op.trader_id]}"))
                       if op.trader_id in failed else (op, value, exc) for op, value, exc in results])
        return deferred

    def _commit(self, sessions: list[Any]) -> dict[str, str]:
        """Commit every open batch in one transaction; returns {trader id: error} of those not stored."""
        batches = [(s.trader_id, s.store.staged) for s in sessions if s.store.staged]
        if not batches:
            return {}
        try:
            self._store.append_many(batches)
            return {}
        except Exception as exc:  # noqa: BLE001 - isolate the failing trader(s)
            if len(batches) == 1:
                log.error("ledger write for trader %s failed: %s", batches[0][0], exc)
                return {batches[0][0]: type(exc).__name__}
        failed: dict[str, str] = {}
        for tid, events in batches:
            try:
                self._store.append(tid, events)
            except Exception as exc:  # noqa: BLE001
                log.error("ledger write for trader %s failed: %s", tid, exc)
                failed[tid] = type(exc).__name__
        return failed


def ledger_durability(store: Any) -> str:
    """What "committed" means for ``store``'s connections, as the database reports it: SQLite's journal
    mode and ``synchronous`` level, or PostgreSQL's ``synchronous_commit``."""
    from sqlalchemy import text

    with store.connect() as conn:
        if conn.dialect.name == "sqlite":
            mode = conn.execute(text("PRAGMA journal_mode")).scalar()
            level = conn.execute(text("PRAGMA synchronous")).scalar()
            names = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
            return f"sqlite journal_mode={mode} synchronous={names.get(level, level)}"
        return f"postgresql synchronous_commit={conn.execute(text('SHOW synchronous_commit')).scalar()}"
