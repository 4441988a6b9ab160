"""Progress of long work (backtests, paper runs, training, sweeps), on a terminal or off one.

On a terminal it is a rich progress bar on stderr. Off a terminal (output to a file or a pipe, a job
under a scheduler) a bar draws nothing, and a run of many minutes would print nothing at all; there it
is a plain line on stderr every ``interval`` seconds (``NOFX_PROGRESS_SECONDS``, default 15) with the
elapsed time and an ETA, and a last line when work that printed any ends. Work shorter than the
interval prints nothing, so quick commands stay quiet in pipes.

This module sits outside the layers (like the standard library): every layer that runs long loops
uses it, and it depends on nothing of nofx but the domain's error type.
"""

from __future__ import annotations

import os
import sys
import time
from types import TracebackType
from typing import Callable, TextIO

DEFAULT_INTERVAL_S = 15.0


def interval_from_env(default: float) -> float:
    """Seconds between progress lines off a terminal: ``NOFX_PROGRESS_SECONDS`` or ``default``.

    Raises ``ConfigError`` naming the variable when it is not a finite number of seconds >= 0."""
    env = os.environ.get("NOFX_PROGRESS_SECONDS")
    if not env:
        return default
    try:
        seconds = float(env)
    except ValueError:
        seconds = float("nan")
    if not (0 <= seconds < float("inf")):  # 0: a line at every step
        from nofx.domain.errors import ConfigError

        raise ConfigError(f"NOFX_PROGRESS_SECONDS must be a number of seconds (0 or more), got {env!r}",
                          variable="NOFX_PROGRESS_SECONDS")
    return seconds


def _hms(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _is_terminal(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class Progress:
    """``total`` steps of work named ``label``; ``advance``/``update`` as it goes, ``stop`` (or leave
    the ``with`` block) at the end. ``enabled=False`` makes every call a no-op."""

    def __init__(self, label: str, total: int | None, enabled: bool = True, stream: TextIO | None = None,
                 interval: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.label = label
        self.total = total
        self.enabled = enabled
        self.completed = 0
        self._stream = stream
        self._clock = clock
        self._interval = interval if interval is not None else interval_from_env(DEFAULT_INTERVAL_S)
        self._bar = None
        self._task = None
        self._t0 = 0.0
        self._last = 0.0
        self._note = ""
        self._started = False
        self._printed = False
        self._pace_from: tuple[float, int] | None = None  # (time, steps) of the first update

    # ---- life cycle ---------------------------------------------------------------------------
    def start(self) -> "Progress":
        if not self.enabled or self._started:
            return self
        self._started = True
        self._t0 = self._last = self._clock()
        stream = self._stream or sys.stderr
        if _is_terminal(stream):
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, \
                TimeRemainingColumn
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TimeElapsedColumn(), TimeRemainingColumn(),
                                     console=Console(file=stream), transient=True)
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=self.total)
        return self

    def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        elif self._printed:
            done = f"{self.completed:,}/{self.total:,}" if self.total else f"{self.completed:,} steps"
            self._line(f"done {done} in {_hms(self._clock() - self._t0)}")

    def __enter__(self) -> "Progress":
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # ---- progress -----------------------------------------------------------------------------
    def advance(self, steps: int = 1, note: str | None = None) -> None:
        self.update(self.completed + steps, note)

    def update(self, completed: int, note: str | None = None) -> None:
        """Set the number of completed steps (``note``: what is being done, e.g. the current date)."""
        if not self._started:
            return
        now = self._clock()
        if self._pace_from is None:  # the pace is measured from here: set-up before the first step
            self._pace_from = (now, completed)  # (reading data, building features) is not a step
        self.completed = completed
        if note is not None:
            self._note = note
        if self._bar is not None:
            self._bar.update(self._task, completed=completed,
                             description=f"{self.label} {self._note}" if self._note else self.label)
            return
        if now - self._last >= self._interval:
            self._last = now
            self._line(self.status(now - self._t0, now))

    def status(self, elapsed: float, now: float | None = None) -> str:
        """``1,234/10,000 (12%), elapsed 0:01:02, ETA 0:07:30``: the ETA assumes the pace since the first
        step was reported (``now``: the monotonic clock; by default the pace over ``elapsed``)."""
        parts = []
        if self.total:
            parts.append(f"{self.completed:,}/{self.total:,} ({100 * self.completed / self.total:.0f}%)")
        else:
            parts.append(f"{self.completed:,} steps")
        parts.append(f"elapsed {_hms(elapsed)}")
        rate = self._pace(elapsed, now)
        if self.total and rate:
            parts.append(f"ETA {_hms((self.total - self.completed) / rate)}")
        text = ", ".join(parts)
        return f"{text} [{self._note}]" if self._note else text

    def _pace(self, elapsed: float, now: float | None) -> float | None:
        """Steps per second since the first reported step (None until there is a pace to speak of)."""
        if now is not None and self._pace_from is not None:
            t, n = self._pace_from
            if self.completed > n and now > t:
                return (self.completed - n) / (now - t)
            return None
        return self.completed / elapsed if self.completed and elapsed > 0 else None

    def _line(self, text: str) -> None:
        stream = self._stream or sys.stderr
        self._printed = True
        print(f"{self.label}: {text}", file=stream, flush=True)
