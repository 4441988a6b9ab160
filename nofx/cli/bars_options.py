"""The options every command that reads a bars file shares (``--drop-bad-rows``, ``--date-format``),
and how a command says which rows it dropped. Light to import: the CLI's start-up loads it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

DROP_BAD_ROWS_HELP = ("leave out the rows `nofx data check` reports (listed on stderr) instead of refusing "
                      "the file")
DATE_FORMAT_HELP = ("strftime format of the file's dates when they are not ISO (YYYY-MM-DD), e.g. %d/%m/%Y; "
                    "day/month-ambiguous dates are refused without it")


def report_dropped(df: Any) -> None:
    """The rows ``drop_bad_rows`` left out of bars ``df``, on stderr."""
    from nofx.backtest.execute import dropped_notes

    print_dropped(dropped_notes(df))


def print_dropped(notes: Sequence[str]) -> None:
    """One line per dropped row (``dropped FILE line 3: ...``), then the count, on stderr (stdout stays the
    command's output)."""
    dropped = [n for n in notes if n.startswith("dropped ")]
    if not dropped:
        return
    from rich.console import Console

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    for line in dropped:
        err.print(line, markup=False)
    rows = len({line.split(":", 1)[0] for line in dropped})
    err.print(f"dropped {rows} bad row(s) (--drop-bad-rows)", markup=False)
