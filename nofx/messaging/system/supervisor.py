"""The supervisor: starts a system's processes (broker, engine, market data, one strategy per trader),
restarts any that dies, collects their health and shuts them all down cleanly.

Each process is a real OS process (``python -m ...``), so any of them can be killed and restarted on
its own: a restarted engine resumes from the ledger, a restarted strategy re-introduces itself and gets
the slice the engine waits on, a restarted broker is reconnected to by everyone (ZeroMQ reconnects and
re-sends subscriptions; what was in flight is asked for again after ``resend_s``).

Health: every process publishes a ``ProcessStatus`` each second on ``sys.health.<name>``; the supervisor
keeps the latest of each, adds what only it knows (restarts, uptime since first start) and writes them
to the status file that ``nofx system status`` reads.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import zmq

from nofx.domain.errors import NofxError
from nofx.messaging.messages import ProcessStatus, Rejected, decode
from nofx.messaging.system.spec import SystemSpec

READY_TIMEOUT_S = 120.0


class SystemError_(NofxError):
    code = "SYS_PROCESS"


@dataclass
class Managed:
    name: str
    role: str
    argv: list[str]
    log: Path
    proc: subprocess.Popen | None = None
    restarts: int = 0
    first_start: float = 0.0
    started: float = 0.0
    exit_code: int | None = None
    health: dict = field(default_factory=dict)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None


class Supervisor:
    def __init__(self, spec: SystemSpec, spec_path: Path, workdir: Path, max_restarts: int = 20) -> None:
        self.spec = spec
        self.spec_path = spec_path
        self.workdir = workdir
        self.max_restarts = max_restarts
        py = sys.executable
        b = spec.broker
        logs = workdir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        proc = [py, "-m", "nofx.messaging.system.proc"]
        self.procs: dict[str, Managed] = {
            "broker": Managed("broker", "broker", [py, "-m", "nofx.messaging.broker", "--pub", b.pub_endpoint,
                                                   "--sub", b.sub_endpoint, "--command", b.command_endpoint,
                                                   "--engine", b.engine_endpoint, "--hwm", str(b.hwm)],
                              logs / "broker.log"),
            "engine": Managed("engine", "engine", [*proc, "engine", "--spec", str(spec_path)], logs / "engine.log"),
            "md": Managed("md", "market_data", [*proc, "market_data", "--spec", str(spec_path)], logs / "md.log"),
        }
        for t in spec.traders:
            self.procs[f"strategy-{t.id}"] = Managed(f"strategy-{t.id}", "strategy",
                                                     [*proc, "strategy", "--spec", str(spec_path), "--trader", t.id],
                                                     logs / f"strategy-{t.id}.log")
        self._ctx = zmq.Context()
        self._health = self._ctx.socket(zmq.SUB)
        self._health.setsockopt(zmq.SUBSCRIBE, b"sys.health.")
        self._health.setsockopt(zmq.LINGER, 0)
        self._health.connect(b.sub_endpoint)
        self.started_at = time.time()
        self.health_rejected = 0

    # ---- processes ----------------------------------------------------------------------------------
    def start(self, name: str, wait_ready: bool = True) -> None:
        m = self.procs[name]
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with open(m.log, "ab") as err:
            m.proc = subprocess.Popen(m.argv, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL,
                                      env=env, start_new_session=True)
        now = time.time()
        m.first_start = m.first_start or now
        m.started = now
        m.exit_code = None
        if wait_ready:
            self._wait_ready(m)

    def _wait_ready(self, m: Managed) -> None:
        assert m.proc is not None and m.proc.stdout is not None
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            r, _, _ = select.select([m.proc.stdout], [], [], 0.2)
            if r:
                line = m.proc.stdout.readline()
                if line.strip() == b"ready":
                    return
                if not line:
                    break
            if m.proc.poll() is not None:
                break
        try:
            rc = m.proc.wait(5)
        except subprocess.TimeoutExpired:
            m.proc.kill()
            rc = m.proc.wait()
        last = _last_line(m.log)
        if last.startswith("error: "):  # the process's own one-line message (bad input, exit code 2)
            raise SystemError_(f"the {m.name} process stopped: {last.removeprefix('error: ')}", process=m.name)
        raise SystemError_(f"the {m.name} process did not start (exit code {rc}); see {m.log}: {last}",
                           process=m.name)

    def start_all(self) -> None:
        # the broker first (everyone connects to it), then the rest at once (they load their data in
        # parallel; ZeroMQ connects them in any order)
        self.start("broker")
        rest = [n for n in self.procs if n != "broker"]
        for name in rest:
            self.start(name, wait_ready=False)
        for name in rest:
            self._wait_ready(self.procs[name])

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        m = self.procs[name]
        if m.proc is not None and m.proc.poll() is None:
            m.proc.send_signal(sig)

    def check(self, on_restart: Callable[[str, int], None] | None = None) -> bool:
        """Restart dead processes; True once the engine has finished the replay (exit code 0)."""
        self.collect_health()
        for name, m in self.procs.items():
            if m.proc is None:
                continue
            rc = m.proc.poll()
            if rc is None:
                continue
            if m.exit_code is None and rc == 0 and name != "engine":
                m.exit_code = rc  # a strategy that saw the end of the replay: done, not dead
            if m.exit_code == 0:
                continue
            m.exit_code = rc
            if name == "engine" and rc == 0:
                return True
            if rc == 2:
                raise SystemError_(f"the {name} process stopped on an error: {_last_line(m.log)}", process=name)
            if m.restarts >= self.max_restarts:
                raise SystemError_(f"the {name} process died {m.restarts + 1} times (exit code {rc}); see {m.log}",
                                   process=name)
            m.restarts += 1
            if on_restart is not None:
                on_restart(name, rc)
            self.start(name)
        return False

    def run(self, poll_s: float = 0.1, on_restart: Callable[[str, int], None] | None = None,
            stop: Callable[[], bool] | None = None) -> bool:
        """Supervise until the engine finishes (True) or ``stop()`` says so (False)."""
        while True:
            if self.check(on_restart):
                self.write_status()
                return True
            if stop is not None and stop():
                return False
            self.write_status()
            time.sleep(poll_s)

    def shutdown(self, timeout: float = 10.0) -> dict[str, int | None]:
        """SIGTERM strategies, market data, engine, then the broker; SIGKILL what has not exited in time."""
        order = [n for n in self.procs if n.startswith("strategy-")] + ["md", "engine", "broker"]
        codes: dict[str, int | None] = {}
        for name in order:
            m = self.procs[name]
            if m.proc is None:
                continue
            if m.proc.poll() is None:
                m.proc.send_signal(signal.SIGTERM)
            try:
                codes[name] = m.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                m.proc.kill()
                codes[name] = m.proc.wait()
            if m.proc.stdout is not None:
                m.proc.stdout.close()
        self._health.close()
        self._ctx.term()
        self.write_status(stopped=True)
        return codes

    # ---- health ---------------------------------------------------------------------------------------
    def collect_health(self) -> None:
        while True:
            try:
                frames = self._health.recv_multipart(zmq.NOBLOCK)
            except (zmq.Again, zmq.ZMQError):
                return
            try:
                msg = decode(frames[-1])
            except Rejected:
                self.health_rejected += 1
                continue
            st = msg.payload
            if isinstance(st, ProcessStatus):
                key = st.name if st.name in self.procs else ("md" if st.role == "market_data" else st.name)
                m = self.procs.get(key)
                if m is not None:
                    prev = m.health
                    now = time.time()
                    h = {"received": st.received, "sent": st.sent, "rejected": st.rejected, "gaps": st.gaps,
                         "lost": st.lost, "lag_ms": st.lag_ms, "index": st.index, "at": now, "pid": st.pid}
                    if prev and prev.get("pid") == st.pid and now > prev["at"]:
                        dt = now - prev["at"]
                        h["in_per_s"] = round((st.received - prev["received"]) / dt, 1)
                        h["out_per_s"] = round((st.sent - prev["sent"]) / dt, 1)
                    m.health = h

    def status(self, stopped: bool = False) -> dict:
        now = time.time()
        out = []
        for name, m in self.procs.items():
            alive = m.proc is not None and m.proc.poll() is None
            out.append({"name": name, "role": m.role, "pid": m.pid, "alive": alive and not stopped,
                        "uptime_s": round(now - m.started, 1) if alive else 0.0, "restarts": m.restarts,
                        "exit_code": m.proc.poll() if m.proc is not None else None, **m.health})
        return {"supervisor_pid": os.getpid(), "started": self.started_at, "written": now, "stopped": stopped,
                "processes": out}

    def write_status(self, stopped: bool = False) -> None:
        path = self.spec.status_file
        if not path:
            return
        tmp = Path(path).with_suffix(".tmp")
        tmp.write_text(json.dumps(self.status(stopped), indent=1))
        os.replace(tmp, path)  # readers never see half a file


def _last_line(path: Path) -> str:
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1] if lines else ""
