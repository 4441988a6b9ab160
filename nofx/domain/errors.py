"""Errors with stable codes, so callers (CLI, API, risk events) can act on them without parsing text."""

from __future__ import annotations

from decimal import Decimal
from typing import Any


class NofxError(Exception):
    """Base error: a stable ``code``, a human message and the context that locates the problem."""

    code: str = "NOFX_ERROR"

    def __init__(self, message: str, *, code: str | None = None, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.context = context

    def __str__(self) -> str:  # one clear line: what and where
        where = ", ".join(f"{k}={v}" for k, v in self.context.items())
        return f"{self.message} ({where})" if where else self.message


class InvalidSymbolError(NofxError):
    code = "INVALID_SYMBOL"


class DataError(NofxError):
    code = "DATA_ERROR"


class ConfigError(NofxError):
    code = "CONFIG_ERROR"


class OrderError(NofxError):
    code = "ORDER_ERROR"


class InvalidTransitionError(OrderError):
    code = "ORDER_INVALID_TRANSITION"


class UnknownStrategyError(ConfigError):
    code = "UNKNOWN_STRATEGY"


def one_line(text: object) -> str:
    """``text`` on one line: parser and validator messages (YAML, pydantic) spread over several lines,
    and the CLI promise is one line per error."""
    return " ".join(str(text).split())


def validation_problem(exc: Any, section: str = "") -> tuple[str, str]:
    """(where, what) of the first error of a pydantic ``ValidationError``.

    ``where`` is the dotted location, prefixed with ``section``; a model-level check (which pydantic
    locates at ``()``) is located at the section itself instead of at the empty name ``''``. ``what``
    is pydantic's message without its "Value error, " prefix, with the rejected input when it is a scalar."""
    err = exc.errors()[0]
    loc = ".".join(str(x) for x in err.get("loc", ()))
    where = ".".join(x for x in (section, loc) if x) or "the whole value"
    msg = str(err.get("msg", exc)).removeprefix("Value error, ")
    given = err.get("input")
    scalar = isinstance(given, (str, int, float, Decimal)) and not isinstance(given, bool)
    if loc and scalar and err["type"] != "missing":
        shown = repr(given) if isinstance(given, str) else str(given)
        msg = f"{msg} (got {shown if len(shown) <= 60 else shown[:57] + '...'})"
    return where, one_line(msg)


def check_range(name: str, value: float, low: float, high: float) -> float:
    """``value`` if it is a finite number in [low, high], else ConfigError naming ``name`` (an option or key).
    NaN compares false with everything, so a plain ``value < low`` test lets it through: this does not."""
    if not (low <= value <= high):  # also False for NaN
        raise ConfigError(f"{name} must be a number from {low:g} to {high:g}", value=value)
    return value
