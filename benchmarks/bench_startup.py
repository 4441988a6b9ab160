"""Start-up time of the ``nofx`` command: every command's ``--help`` and ``nofx strategies``.

Each command line runs as a fresh process (as a user types it), ``--repeat`` times; the median wall
time and CPU time are printed against the goal (``--help`` < 0.5 s, ``nofx strategies`` < 1 s) and
as a ratio to the peer measured in the same run: a bare Python that imports only typer and rich (the
floor any typer CLI pays). On the shared machine other jobs stretch wall times; CPU time is not. Issue 9
measured 2.0 s for ``nofx --help`` and 6.9 s for ``nofx strategies``.

Bytecode: ``pip install`` compiles nofx's modules to ``.pyc`` and a checkout writes ``__pycache__`` on first
run, so by default the commands run with cached bytecode (a private ``PYTHONPYCACHEPREFIX``, one unmeasured
run first) even where ``PYTHONDONTWRITEBYTECODE`` is set, as on the development machine; ``--bytecode none``
measures compiling every nofx module from source on each start instead.

    .venv/bin/python benchmarks/bench_startup.py [--repeat 5] [--bytecode cached|none]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

from common import REPO, line

def help_commands() -> list[list[str]]:
    """Every command and group of the CLI, walked from the app itself (new commands are measured too)."""
    import typer

    from nofx.cli.main import app, mount_for

    mount_for([])  # bare help mounts every sub-app
    out: list[list[str]] = []

    def walk(cmd, path: list[str]) -> None:  # type: ignore[no-untyped-def]
        out.append(path)
        for name, sub in sorted(getattr(cmd, "commands", {}).items()):
            if not getattr(sub, "hidden", False):
                walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return out


HELP_GOAL_S, STRATEGIES_GOAL_S = 0.5, 1.0


ENV = dict(os.environ)


def measure(argv: list[str], repeat: int) -> tuple[float, float]:
    """Medians of ``repeat`` fresh processes: wall time, and CPU time (user + system, from ``wait4``).
    On the shared CPU other jobs stretch the wall time; the CPU time is what start-up costs and what
    the wall time is on an idle machine. One unmeasured run first (it writes the bytecode cache)."""
    walls, cpus = [], []
    for i in range(repeat + 1):
        t = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)
        _, status, usage = os.wait4(proc.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"{' '.join(argv)} failed: {proc.stderr.read().decode().strip()[-300:]}")
        if i:
            walls.append(time.perf_counter() - t)
            cpus.append(usage.ru_utime + usage.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def _verdict(wall: float, cpu: float, goal: float) -> str:
    if wall < goal:
        return "ok"
    return "ok in CPU time, wall time stretched by load" if cpu < goal else "OVER GOAL"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--bytecode", choices=["cached", "none"], default="cached",
                    help="cached: as installed (.pyc written once); none: compile from source every start")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="nofx-pyc-") as pyc:
        if args.bytecode == "cached":
            ENV.pop("PYTHONDONTWRITEBYTECODE", None)
            ENV["PYTHONPYCACHEPREFIX"] = pyc
        else:
            ENV["PYTHONDONTWRITEBYTECODE"] = "1"
        run(args.repeat, args.bytecode)


def run(repeat: int, bytecode: str) -> None:
    nofx = [sys.executable, "-m", "nofx.cli.main"]
    print(f"== start-up: nofx commands as fresh processes (median of {repeat}; wall s / CPU s; "
          f"bytecode {bytecode}) ==")
    peer_wall, peer_cpu = measure([sys.executable, "-c", "import typer, rich.console, rich.table"], repeat)
    line("peer: python importing typer + rich only", f"{peer_wall:.3f} / {peer_cpu:.3f}")
    worst_wall, worst_cpu = 0.0, 0.0
    for cmd in help_commands():
        wall, cpu = measure([*nofx, *cmd, "--help"], repeat)
        worst_wall, worst_cpu = max(worst_wall, wall), max(worst_cpu, cpu)
        line(f"nofx {' '.join(cmd + ['--help'])}", f"{wall:.3f} / {cpu:.3f}  ({cpu / peer_cpu:.1f}x peer CPU; "
             f"goal < {HELP_GOAL_S} s: {_verdict(wall, cpu, HELP_GOAL_S)})")
    wall, cpu = measure([*nofx, "strategies"], repeat)
    line("nofx strategies", f"{wall:.3f} / {cpu:.3f}  ({cpu / peer_cpu:.1f}x peer CPU; "
         f"goal < {STRATEGIES_GOAL_S} s: {_verdict(wall, cpu, STRATEGIES_GOAL_S)})")
    line("slowest --help (wall, CPU: each the worst of any command)", f"{worst_wall:.3f} / {worst_cpu:.3f}  "
         f"(goal < {HELP_GOAL_S} s: {_verdict(worst_wall, worst_cpu, HELP_GOAL_S)})")
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
