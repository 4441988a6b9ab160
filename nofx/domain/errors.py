"""Errors with stable codes, so callers (CLI, API, risk events) can act on them without parsing text."""

from __future__ import annotations

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
