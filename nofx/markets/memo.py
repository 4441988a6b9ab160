"""Memo of date-keyed rule answers that is bounded by the run's progress, not by a size.

The rule tables are asked the same questions many times a day (lot grid, limit row, fee rates of the
trading day), and the answer for a (question, day) never changes. An ``lru_cache`` keyed by the day
keeps up to ``maxsize`` answers of past days: a long paper or backtest run fills it one day at a time,
so resident memory grows with the run's length until the cache is full (issue 9). A run moves forward
in time, so only the last few days are asked again: :class:`DayMemo` keeps the answers of the
``keep`` most recently started days and drops older days whole.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from datetime import date
from typing import Generic, TypeVar

T = TypeVar("T")

DAYS_KEPT = 4
"""Days kept by default: today, the previous trading day (preclose, T+1) and room for a few runs in one
process asking about different days without evicting each other on every call."""

class DayMemo(Generic[T]):
    """Remembers ``fn(*args, on)`` for the ``keep`` most recently started days.

    ``fn`` must be pure. Entries of a day are dropped together when a newer day pushes it out, so the
    memo holds at most ``keep`` days of answers whatever the run's length. Safe under threads that
    share it (a lost entry is recomputed, never wrong): the dict operations used are atomic.
    """

    __slots__ = ("_fn", "_keep", "_days")

    def __init__(self, fn: Callable[..., T], keep: int = DAYS_KEPT) -> None:
        if keep < 1:
            raise ValueError("a DayMemo keeps at least one day")
        self._fn = fn
        self._keep = keep
        self._days: dict[date, dict[Hashable, T]] = {}

    def __call__(self, args: tuple[Hashable, ...], on: date) -> T:
        """``fn(*args, on)``, remembered for the day ``on``."""
        try:  # the hot path: two dict lookups (this runs several times per order)
            return self._days[on][args]
        except KeyError:
            return self._miss(args, on)

    def _miss(self, args: tuple[Hashable, ...], on: date) -> T:
        memo = self._days.get(on)
        if memo is None:
            memo = self._start_day(on)
        value = memo[args] = self._fn(*args, on)
        return value

    def days(self) -> tuple[date, ...]:
        """The days currently remembered, oldest started first."""
        return tuple(self._days)

    def __len__(self) -> int:
        """Answers currently remembered, over all kept days."""
        return sum(len(m) for m in list(self._days.values()))

    def clear(self) -> None:
        self._days.clear()

    def _start_day(self, on: date) -> dict[Hashable, T]:
        memo: dict[Hashable, T] = {}
        while len(self._days) >= self._keep:
            try:  # oldest started day first (dicts keep insertion order)
                del self._days[next(iter(self._days))]
            except (KeyError, RuntimeError, StopIteration):  # another thread got there first
                break
        return self._days.setdefault(on, memo)
