"""User errors become one clear line and exit code 2, never a traceback: the CLI's one error mapping.

What counts as a user error: a :class:`NofxError` (raised where bad input enters: configs, options,
data, databases), a pydantic ``ValidationError`` that reached the CLI unwrapped, a file the user named
that cannot be read or written (``OSError`` with a file name), and click's usage errors (an unknown
option, a value of the wrong type). Anything else is a bug: :func:`report_bug` prints one line that
names the command and asks for a bug report (``NOFX_DEBUG=1`` shows the traceback), exit code 70.

Messages are printed as plain text: ``[strategy]`` in a message is a TOML section, not Rich markup.
"""

from __future__ import annotations

import functools
import os
import sys
import traceback
from typing import Any, Callable, TypeVar

from typer.exceptions import TyperException  # typer vendors click: its usage errors derive from this

from nofx.domain.errors import NofxError, one_line, validation_problem

F = TypeVar("F", bound=Callable[..., Any])

USER_ERROR_EXIT = 2
BUG_EXIT = 70  # EX_SOFTWARE (sysexits.h): an internal error, not bad input


def _print(message: str) -> None:
    # imported here: `nofx --help` must not pay for what only an error prints
    from rich.console import Console
    from rich.text import Text

    line = Text("error", style="bold red")
    line.append(" " + one_line(message))  # appended as text: brackets stay brackets
    Console(stderr=True, highlight=False, soft_wrap=True).print(line)


def _is_validation_error(exc: BaseException) -> bool:
    # pydantic's ValidationError is pydantic_core's: if that was never imported, nothing raised one, and
    # importing pydantic only to answer "no" would cost every command's start-up (issue 9)
    core = sys.modules.get("pydantic_core")
    return core is not None and isinstance(exc, core.ValidationError)


def _os_error_text(exc: OSError) -> str:
    path = exc.filename if exc.filename is not None else "?"
    if isinstance(exc, FileNotFoundError):
        return f"file not found: {path}"
    reason = exc.strerror or type(exc).__name__
    return f"cannot access {path}: {reason}"


def user_error_text(exc: BaseException) -> str | None:
    """The one-line text of a user error, or None when ``exc`` is not one (a bug)."""
    if isinstance(exc, NofxError):
        return f"[{exc.code}] {exc}"
    if _is_validation_error(exc):
        where, what = validation_problem(exc)
        return f"invalid value for {where}: {what}"
    if isinstance(exc, OSError) and exc.filename is not None:
        return _os_error_text(exc)
    if isinstance(exc, TyperException):  # click's usage errors: unknown option, bad value, missing argument
        ctx = getattr(exc, "ctx", None)
        cmd = f" (see {ctx.command_path} --help)" if ctx is not None else ""
        return f"{exc.format_message()}{cmd}"
    return None


def report_error(exc: BaseException) -> None:
    """Print a user error as one line; re-raise anything else (it is a bug)."""
    text = user_error_text(exc)
    if text is None:
        raise exc
    _print(text)


def report_bug(exc: BaseException, command: str) -> None:
    """The last line of defence: a failure that is not a user error still gets one line, naming the
    command, and a request for a bug report instead of a traceback (unless NOFX_DEBUG is set)."""
    if os.environ.get("NOFX_DEBUG"):
        traceback.print_exception(exc, file=sys.stderr)
    _print(f"internal error in `{command}`: {type(exc).__name__}: {exc}. This is a bug in nofx; please report "
           "it to the maintainers with the command line (NOFX_DEBUG=1 shows the traceback)")


def user_errors(fn: F) -> F:
    """Decorator for CLI commands run without :func:`nofx.cli.main.main` (tests through ``CliRunner``):
    user errors exit 2 with one line."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - only user errors are handled; the rest re-raised
            if user_error_text(exc) is None or isinstance(exc, TyperException):
                raise
            report_error(exc)
            sys.exit(USER_ERROR_EXIT)

    return wrapper  # type: ignore[return-value]
