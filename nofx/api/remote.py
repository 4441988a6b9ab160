"""Several worker processes, one set of traders: the process holding ``STATE_DIR/supervisor.lock``
runs every trader (a ledger must have exactly one writer per trader) and answers the others over a Unix
socket, ``STATE_DIR/supervisor.sock`` (mode 0600: only this user can talk to it).

The protocol is one JSON line each way per call: ``{"op": ..., "args": {...}}`` ->
``{"ok": value}`` | ``{"unavailable": state}`` (the trader is not running) | ``{"error": message}``.
:class:`RemoteSupervisor` offers the same methods the routes call on :class:`TraderSupervisor`.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool

from nofx.api.runtime import SymbolNotTraded, TraderSupervisor, TraderUnavailable
from nofx.domain.orders import OrderRequest

MAX_LINE = 1 << 20


def take_supervisor_lock(state_dir: Path) -> int | None:
    """The lock's file descriptor if this process is the supervisor (held until the process exits)."""
    path = Path(state_dir) / "supervisor.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def socket_path(state_dir: Path) -> Path:
    return Path(state_dir).resolve() / "supervisor.sock"


class SupervisorServer:
    """Serves a local :class:`TraderSupervisor` to the other worker processes."""

    def __init__(self, supervisor: TraderSupervisor, path: Path) -> None:
        self._sup = supervisor
        self._path = path
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        self._path.unlink(missing_ok=True)
        old = os.umask(0o177)  # the socket file is created 0600
        try:
            self._server = await asyncio.start_unix_server(self._client, path=str(self._path), limit=MAX_LINE)
        finally:
            os.umask(old)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        self._path.unlink(missing_ok=True)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                reply = await run_in_threadpool(self._call, line)
                writer.write(json.dumps(reply).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            writer.close()

    def _call(self, line: bytes) -> dict[str, Any]:
        try:
            msg = json.loads(line)
            op, a = msg["op"], msg.get("args", {})
            s = self._sup
            if op == "submit":
                order, created = s.submit(a["trader_id"], OrderRequest.from_dict(a["request"]), a["owner_id"])
                return {"ok": [order, created]}
            if op == "cancel":
                return {"ok": list(s.cancel_outcome(a["trader_id"], a["order_id"]))}
            if op == "owner":
                return {"ok": s.owner_if_running(a["trader_id"])}
            if op == "state":
                return {"ok": list(s.state(a["trader_id"]))}
            if op == "wait_ready":
                return {"ok": s.wait_ready(a["trader_id"], float(a["timeout"]))}
            if op == "start":
                s.start(a["trader_id"], a["owner_id"], a["config"])
                return {"ok": None}
            if op in ("stop", "forget"):
                getattr(s, op)(a["trader_id"])
                return {"ok": None}
            return {"error": f"unknown op {op!r}"}
        except TraderUnavailable as exc:
            return {"unavailable": exc.state}
        except SymbolNotTraded as exc:
            return {"not_traded": str(exc)}
        except Exception as exc:  # noqa: BLE001 - reported to the calling worker, which raises it
            return {"error": f"{type(exc).__name__}: {exc}"}


class RemoteSupervisor:
    """What a non-supervisor worker uses instead of a local :class:`TraderSupervisor`."""

    def __init__(self, path: Path, timeout: float = 60.0) -> None:
        self._path = str(path)
        self._timeout = timeout

    def _connect(self) -> socket.socket:
        deadline = time.monotonic() + 10  # the supervisor may still be starting (workers start together)
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self._timeout)
            try:
                sock.connect(self._path)
                return sock
            except (FileNotFoundError, ConnectionRefusedError):
                sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _call(self, op: str, **args: Any) -> Any:
        with self._connect() as sock:
            sock.sendall(json.dumps({"op": op, "args": args}, default=str).encode() + b"\n")
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError("supervisor closed the connection")
                buf += chunk
        reply = json.loads(buf)
        if "unavailable" in reply:
            raise TraderUnavailable(reply["unavailable"])
        if "not_traded" in reply:
            raise SymbolNotTraded(reply["not_traded"])
        if "error" in reply:
            raise RuntimeError(f"trader supervisor: {reply['error']}")
        return reply["ok"]

    def submit(self, trader_id: str, request: OrderRequest, owner_id: str) -> tuple[dict[str, Any], bool]:
        order, created = self._call("submit", trader_id=trader_id, request=request.to_dict(), owner_id=owner_id)
        return order, bool(created)

    async def submit_async(self, trader_id: str, request: OrderRequest, owner_id: str
                           ) -> tuple[dict[str, Any], bool]:
        return await run_in_threadpool(self.submit, trader_id, request, owner_id)

    def cancel_outcome(self, trader_id: str, order_id: str) -> tuple[str, dict[str, Any] | None]:
        outcome, order = self._call("cancel", trader_id=trader_id, order_id=order_id)
        return str(outcome), order

    async def cancel_async(self, trader_id: str, order_id: str) -> tuple[str, dict[str, Any] | None]:
        return await run_in_threadpool(self.cancel_outcome, trader_id, order_id)

    def owner_if_running(self, trader_id: str) -> str | None:
        return None  # asking the supervisor costs as much as the database query it would save

    def state(self, trader_id: str) -> tuple[str, str | None]:
        st, err = self._call("state", trader_id=trader_id)
        return st, err

    def wait_ready(self, trader_id: str, timeout: float) -> str:
        return str(self._call("wait_ready", trader_id=trader_id, timeout=timeout))

    def start(self, trader_id: str, owner_id: str, config: dict[str, Any]) -> None:
        self._call("start", trader_id=trader_id, owner_id=owner_id, config=config)

    def stop(self, trader_id: str) -> None:
        self._call("stop", trader_id=trader_id)

    def forget(self, trader_id: str) -> None:
        self._call("forget", trader_id=trader_id)

    def shutdown(self) -> None:
        pass  # the supervisor process stops the traders
