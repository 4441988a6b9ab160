"""Start-up time of the ``nofx`` command: every command's ``--help`` and ``nofx strategies``.

Each command line runs as a fresh process (as a user types it), ``--repeat`` times; the median wall
time is printed against the goal (``--help`` < 0.5 s, ``nofx strategies`` < 1 s) and as a ratio to
the peer measured in the same run: a bare Python that imports only typer and rich (the floor any
typer CLI pays). Issue 9 measured 2.0 s for ``nofx --help`` and 6.9 s for ``nofx strategies``.

    .venv/bin/python benchmarks/bench_startup.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from common import REPO, line

HELP_COMMANDS = [
    [], ["backtest"], ["demo"], ["strategies"], ["paper"], ["sweep"], ["orders"], ["positions"], ["trades"],
    ["ledger"], ["ledger", "check"], ["data"], ["data", "info"], ["data", "check"], ["factors"],
    ["factors", "report"], ["model"], ["model", "train"], ["model", "eval"], ["model", "predict"],
    ["model", "results"], ["rl"], ["rl", "train"], ["rl", "eval"], ["serve"], ["user", "create"],
]
HELP_GOAL_S, STRATEGIES_GOAL_S = 0.5, 1.0


def wall(argv: list[str], repeat: int) -> float:
    """Median wall time of ``repeat`` fresh processes (the CPU is shared: the median resists outliers)."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        r = subprocess.run(argv, cwd=REPO, capture_output=True, text=True)
        times.append(time.perf_counter() - t)
        if r.returncode != 0:
            sys.exit(f"{' '.join(argv)} failed: {r.stderr.strip()[-300:]}")
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    nofx = [sys.executable, "-m", "nofx.cli.main"]
    print("== start-up: nofx commands as fresh processes (median of %d) ==" % args.repeat)
    peer = wall([sys.executable, "-c", "import typer, rich.console, rich.table"], args.repeat)
    line("peer: python importing typer + rich only", f"{peer:.3f} s")
    worst = 0.0
    for cmd in HELP_COMMANDS:
        s = wall([*nofx, *cmd, "--help"], args.repeat)
        worst = max(worst, s)
        ok = "ok" if s < HELP_GOAL_S else "OVER GOAL"
        line(f"nofx {' '.join(cmd + ['--help'])}", f"{s:.3f} s  ({s / peer:.1f}x peer; goal < {HELP_GOAL_S} s: {ok})")
    s = wall([*nofx, "strategies"], args.repeat)
    ok = "ok" if s < STRATEGIES_GOAL_S else "OVER GOAL"
    line("nofx strategies", f"{s:.3f} s  ({s / peer:.1f}x peer; goal < {STRATEGIES_GOAL_S} s: {ok})")
    line("slowest --help", f"{worst:.3f} s  (goal < {HELP_GOAL_S} s: {'ok' if worst < HELP_GOAL_S else 'OVER GOAL'})")


if __name__ == "__main__":
    main()
