"""The console every command prints its tables and lines to, sized for a terminal or for a file.

(Output *paths* are checked in :mod:`nofx.cli.outputs`.)"""

from __future__ import annotations

import sys

from rich.console import Console

# Off a terminal (a pipe, a file) nothing limits the width, so tables are printed whole rather than
# cut at rich's default 80 columns (an ICIR shown as "-0.36…" in a log is a lost figure).
PIPE_WIDTH = 10_000


def output_console(**kwargs: object) -> Console:
    """A stdout console: as wide as the terminal on one, wide enough for any table otherwise."""
    if not _is_terminal(sys.stdout):
        kwargs.setdefault("width", PIPE_WIDTH)
    return Console(**kwargs)  # type: ignore[arg-type]


def _is_terminal(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False
