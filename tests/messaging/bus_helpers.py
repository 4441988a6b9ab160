"""Real processes on real sockets: start a broker process or a bus_procs.py mode, and stop it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from nofx.messaging.broker import BrokerConfig

PROCS = Path(__file__).with_name("bus_procs.py")
REPO = Path(__file__).resolve().parents[2]


def start(*args: str, ready: bool = True) -> subprocess.Popen:
    """Start a process (``python -m nofx.messaging.broker ...`` or a bus_procs.py mode); wait for its
    ``ready`` line when it prints one."""
    p = subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         cwd=REPO)
    if ready:
        line = p.stdout.readline().strip()  # type: ignore[union-attr]
        if line != "ready":
            p.kill()
            raise AssertionError(f"{args} did not start: {line!r} {p.stderr.read()}")  # type: ignore[union-attr]
    return p


def start_broker(cfg: BrokerConfig) -> subprocess.Popen:
    return start("-m", "nofx.messaging.broker", "--pub", cfg.pub_endpoint, "--sub", cfg.sub_endpoint,
                 "--command", cfg.command_endpoint, "--engine", cfg.engine_endpoint, "--hwm", str(cfg.hwm))


def stop(p: subprocess.Popen) -> str:
    if p.poll() is None:
        p.terminate()
    out, _ = p.communicate(timeout=10)
    return out
