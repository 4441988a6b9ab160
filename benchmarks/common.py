"""Helpers shared by the benchmark scripts: locating the shared data, timing, peak memory."""

from __future__ import annotations

import os
import resource
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NOFX_SHARED_DATA", REPO.parent / "shared" / "data"))
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def shared_file(name: str) -> Path:
    p = SHARED / name
    if not p.exists():
        sys.exit(f"benchmark needs {p} (set NOFX_SHARED_DATA)")
    return p


@contextmanager
def timed() -> Iterator[list[float]]:
    box: list[float] = []
    t = time.perf_counter()
    yield box
    box.append(time.perf_counter() - t)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def line(label: str, value: str) -> None:
    print(f"{label:<58} {value}", flush=True)
