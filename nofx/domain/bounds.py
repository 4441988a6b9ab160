"""Limits on dates a user may enter (run configs, ``--start``/``--end``, model and RL periods).

1900-01-01 .. 2199-12-31 holds any market's history and any plan, and keeps every date (plus the
calendar days a backtest loads around it) inside pandas' nanosecond timestamps (1677-09-22 .. 2262-04-11);
a date outside would otherwise fail deep inside a run with an OverflowError.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

FIRST_DATE = date(1900, 1, 1)
LAST_DATE = date(2199, 12, 31)


def check_date(value: date) -> date:
    """``value`` if inside [FIRST_DATE, LAST_DATE]; else ``ValueError`` (pydantic reports it with the key)."""
    if not FIRST_DATE <= value <= LAST_DATE:
        raise ValueError(f"date must be from {FIRST_DATE} to {LAST_DATE}")
    return value


if TYPE_CHECKING:
    from typing import Annotated

    from pydantic import AfterValidator

    BoundedDate = Annotated[date, AfterValidator(check_date)]


def __getattr__(name: str) -> Any:
    # ``BoundedDate`` (a date field checked by pydantic) is built on first use: the CLI imports
    # ``check_date`` to parse options, and `nofx --help` must not import pydantic for it (issue 9)
    if name == "BoundedDate":
        from typing import Annotated

        from pydantic import AfterValidator

        value = Annotated[date, AfterValidator(check_date)]
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
