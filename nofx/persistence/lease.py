"""Per-trader lease: at most one process writes a trader's ledger at a time.

The write path caches a trader's cash, open orders and positions and the engine's OMS is authoritative
in memory, so two processes running the same trader would each book on a stale picture (the loser of
the race used to die mid-run on a constraint violation). A process therefore takes the trader's row
in ``trader_leases`` before it reads or writes anything of the trader, keeps it fresh with a heartbeat
from a background thread, and deletes it when it ends.

* Taken: no row, or a stale one. A row is stale when its heartbeat is older than ``ttl_s`` seconds, or
  when it names this host and a pid that no longer exists (a killed run restarted by a supervisor on
  the same machine need not wait for the TTL). A stale row is taken over with a conditional UPDATE
  (``WHERE owner = <old owner> AND heartbeat = <old heartbeat>``): of several processes taking over
  the same stale lease exactly one succeeds; the others see a live lease and give up.
* Busy: :class:`TraderBusyError`, "trader X is already running (pid, host, since)", before anything
  of the trader was read or written.
* Lost: a heartbeat that finds the row gone or owned by someone else (this process stalled beyond the
  TTL and another took over) sets :attr:`TraderLease.lost`; the store then refuses further writes for
  the trader (:class:`LeaseLostError`), so the stalled process cannot write over the new owner's work.

Times are UTC from each process's clock: hosts sharing one database must keep their clocks within a
fraction of the TTL (NTP). Works the same on SQLite (the write transaction is ``BEGIN IMMEDIATE``) and
PostgreSQL (the primary key and the conditional UPDATE decide races).
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from nofx.persistence import schema as t
from nofx.persistence.connection import WRITE_OPTION
from nofx.persistence.errors import LedgerError

DEFAULT_TTL_S = 30.0
_L = t.trader_leases


class TraderBusyError(LedgerError):
    """Another live process holds the trader's lease."""

    code = "LEDGER_TRADER_BUSY"


class LeaseLostError(LedgerError):
    """This process no longer holds the trader's lease (another process took it over)."""

    code = "LEDGER_LEASE_LOST"


@dataclass(frozen=True, slots=True)
class LeaseHolder:
    trader_id: str
    owner: str
    pid: int
    host: str
    since: datetime  # UTC
    heartbeat: datetime  # UTC


def utc_now() -> datetime:
    """Naive UTC, as the lease columns store it."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host (signal 0 checks without sending)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    except OSError:
        return True  # cannot tell: treat as alive, the TTL still applies
    return True


class TraderLease:
    """``with TraderLease(engine, trader_id):`` holds the trader's lease for the block (heartbeat thread
    included). ``ttl_s``: after how long without a heartbeat another process may take the lease over;
    the heartbeat runs every ``ttl_s / 3`` seconds."""

    def __init__(self, engine: Engine, trader_id: str, ttl_s: float = DEFAULT_TTL_S) -> None:
        if not ttl_s > 0:
            raise LedgerError("lease ttl must be > 0 seconds", ttl_s=ttl_s)
        self._engine = engine
        self.trader_id = trader_id
        self.ttl = timedelta(seconds=ttl_s)
        self.owner = uuid.uuid4().hex
        self.pid = os.getpid()
        self.host = socket.gethostname()[:255]
        self.lost = threading.Event()
        self.taken_over: LeaseHolder | None = None  # the stale holder replaced by acquire(), if any
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ acquire / release
    def acquire(self) -> None:
        """Take the lease (and start the heartbeat) or raise TraderBusyError."""
        for _ in range(5):  # each retry follows another process's insert or takeover between our steps
            try:
                if self._try_acquire():
                    self._start_heartbeat()
                    return
            except IntegrityError:  # another process inserted the row first: look again
                continue
        holder = self.holder()
        raise self._busy(holder) if holder is not None else LedgerError(
            "could not take the trader's lease", trader_id=self.trader_id)

    def _try_acquire(self) -> bool:
        with self._engine.connect() as conn:
            conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                row = conn.execute(select(_L).where(_L.c.trader_id == self.trader_id)).mappings().first()
                now = utc_now()
                mine = {"owner": self.owner, "pid": self.pid, "host": self.host, "since": now, "heartbeat": now}
                if row is None:
                    conn.execute(insert(_L).values(trader_id=self.trader_id, **mine))
                    return True
                holder = LeaseHolder(**row)
                if not self._is_stale(holder, now):
                    raise self._busy(holder)
                taken = conn.execute(update(_L).where(
                    _L.c.trader_id == self.trader_id, _L.c.owner == holder.owner,
                    _L.c.heartbeat == holder.heartbeat).values(**mine))
                if taken.rowcount == 1:
                    self.taken_over = holder
                    return True
                return False

    def _is_stale(self, holder: LeaseHolder, now: datetime) -> bool:
        if now - holder.heartbeat > self.ttl:
            return True
        return holder.host == self.host and holder.pid != self.pid and not pid_alive(holder.pid)

    def _busy(self, holder: LeaseHolder) -> TraderBusyError:
        return TraderBusyError(f"trader {self.trader_id} is already running", pid=holder.pid, host=holder.host,
                               since=f"{holder.since:%Y-%m-%d %H:%M:%S} UTC")

    def holder(self) -> LeaseHolder | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(_L).where(_L.c.trader_id == self.trader_id)).mappings().first()
        return LeaseHolder(**row) if row is not None else None

    def release(self) -> None:
        """Stop the heartbeat and delete the row if it is still ours (idempotent)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        try:
            with self._engine.connect() as conn:
                conn.execution_options(**{WRITE_OPTION: True})
                with conn.begin():
                    conn.execute(delete(_L).where(_L.c.trader_id == self.trader_id, _L.c.owner == self.owner))
        except Exception:  # noqa: BLE001 - a lease left behind goes stale and is taken over
            pass

    # ------------------------------------------------------------------ heartbeat
    def beat(self) -> bool:
        """Refresh the heartbeat; False (and ``lost`` set) when the row is no longer ours."""
        with self._engine.connect() as conn:
            conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                n = conn.execute(update(_L).where(_L.c.trader_id == self.trader_id, _L.c.owner == self.owner)
                                 .values(heartbeat=utc_now())).rowcount
        if n != 1:
            self.lost.set()
        return n == 1

    def _start_heartbeat(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._beat_loop, name=f"lease-{self.trader_id}", daemon=True)
        self._thread.start()

    def _beat_loop(self) -> None:
        interval = self.ttl.total_seconds() / 3
        while not self._stop.wait(interval):
            try:
                if not self.beat():
                    return
            except Exception:  # noqa: BLE001 - database briefly unreachable: try again next interval
                continue

    def check(self) -> None:
        """Raise LeaseLostError if another process took the lease over."""
        if self.lost.is_set():
            raise LeaseLostError("another process took over this trader's lease; stopping", trader_id=self.trader_id)

    def __enter__(self) -> TraderLease:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
