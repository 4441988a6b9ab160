"""User errors become one clear line and a non-zero exit, never a traceback."""

from __future__ import annotations

import functools
import sys
from typing import Any, Callable, TypeVar

from pydantic import ValidationError
from rich.console import Console

from nofx.domain.errors import NofxError

F = TypeVar("F", bound=Callable[..., Any])
_err = Console(stderr=True)


def report_error(exc: BaseException) -> None:
    if isinstance(exc, NofxError):
        _err.print(f"[bold red]error[/] [{exc.code}] {exc}", highlight=False, markup=True, soft_wrap=True)
    elif isinstance(exc, ValidationError):
        e = exc.errors()[0]
        where = ".".join(str(x) for x in e["loc"])
        _err.print(f"[bold red]error[/] invalid value for {where!r}: {e['msg']}", highlight=False, soft_wrap=True)
    elif isinstance(exc, FileNotFoundError):
        _err.print(f"[bold red]error[/] file not found: {exc.filename}", highlight=False, soft_wrap=True)
    else:
        raise exc


def user_errors(fn: F) -> F:
    """Decorator for CLI commands: NofxError / validation errors exit 2 with one line."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (NofxError, ValidationError, FileNotFoundError) as exc:
            report_error(exc)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]
