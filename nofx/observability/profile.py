"""Run a callable under pyinstrument's statistical profiler and write its interactive HTML profile."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class ProfileResult:
    path: Path
    seconds: float  # wall time of the profiled call
    samples: int


def profile_call(fn: Callable[[], T], out: Path, interval: float = 0.001) -> tuple[T | None, ProfileResult,
                                                                                   BaseException | None]:
    """Call ``fn`` under the profiler, write the HTML profile to ``out`` (even if ``fn`` raised or exited)
    and return (its result, the profile, the exception it raised or None)."""
    from pyinstrument import Profiler

    profiler = Profiler(interval=interval)
    result: T | None = None
    error: BaseException | None = None
    profiler.start()
    try:
        result = fn()
    except BaseException as exc:  # noqa: BLE001 - SystemExit of a CLI command included; re-raised by the caller
        error = exc
    finally:
        session = profiler.stop()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(profiler.output_html(), encoding="utf-8")
    return result, ProfileResult(out, session.duration, session.sample_count), error
