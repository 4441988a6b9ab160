"""Structured logs (structlog over the standard ``logging`` module).

Every ``logging`` record of nofx and its libraries goes through one handler whose structlog formatter
adds the context variables bound for the current request or task (``request_id``, ``trader_id``) and
the record's ``extra`` fields (``order_id``, ``fill_id`` ...), then renders:

* ``json`` — one JSON object per line (``--log-json`` or ``NOFX_LOG_FORMAT=json``), for log shippers;
* ``console`` — the human format (the default): on a terminal structlog's coloured console lines; elsewhere
  (a service's log file) ``TIMESTAMP [PID] LEVEL logger: event key=value ...``, the prefix nofx's plain
  logging format always had, so existing log readers keep working.

Following one order: the API middleware binds ``request_id`` (echoed as the ``X-Request-ID`` response
header) for the whole request, including the thread the route runs in, so the engine's "order accepted"
line and the ledger's "ledger commit" line of that order carry the request id next to the order id; the
"order filled" lines later carry the same order id (and trader id) from the trader's thread.
"""

from __future__ import annotations

import logging
import os
import sys
from contextlib import contextmanager
from typing import Any, Iterator, Literal, TextIO

import structlog

LogFormat = Literal["json", "console"]
FORMATS = ("json", "console")
_HANDLER_NAME = "nofx-structlog"


def log_format_from_env(default: LogFormat = "console") -> LogFormat:
    value = os.environ.get("NOFX_LOG_FORMAT", default).strip().lower()
    if value not in FORMATS:
        from nofx.domain.errors import ConfigError

        raise ConfigError("NOFX_LOG_FORMAT must be json or console", NOFX_LOG_FORMAT=value)
    return value  # type: ignore[return-value]


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_pid,
    ]


def _drop_none(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if v is not None}


def _add_pid(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    event["pid"] = os.getpid()  # several worker processes write one log
    return event


def _plain_line(_: Any, __: str, event: dict[str, Any]) -> str:
    """``TIMESTAMP [PID] LEVEL logger: event key=value ...`` (one line; an exception's text follows)."""
    ts, pid = event.pop("timestamp", ""), event.pop("pid", "")
    level, name = str(event.pop("level", "")).upper(), event.pop("logger", "")
    text = str(event.pop("event", ""))
    exc = event.pop("exception", None)
    rest = "".join(f" {k}={v}" for k, v in event.items())
    return f"{ts} [{pid}] {level} {name}: {text}{rest}" + (f"\n{exc}" if exc else "")


def configure_logging(level: str | int = "INFO", fmt: LogFormat | None = None, stream: TextIO | None = None) -> None:
    """Route all logging through one structlog-formatted handler on ``stream`` (stderr); idempotent
    (a second call replaces the first handler, so a CLI option can override the environment)."""
    fmt = fmt or log_format_from_env()
    stream = stream or sys.stderr
    shared = _shared_processors()
    if fmt == "json":
        renderer: Any = structlog.processors.JSONRenderer(default=str)
        final = [structlog.processors.format_exc_info, renderer]
    elif getattr(stream, "isatty", lambda: False)():
        final = [structlog.dev.ConsoleRenderer(colors=True)]
    else:
        final = [structlog.processors.format_exc_info, _plain_line]
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, _drop_none, *final])
    handler = logging.StreamHandler(stream)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        # ours from an earlier call, or a plain basicConfig handler (never a test harness' capture handler)
        if old.get_name() == _HANDLER_NAME or type(old) is logging.StreamHandler:
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    # structlog's own loggers (structlog.get_logger) hand their events to the same handler
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, structlog.stdlib.add_logger_name,
                    structlog.stdlib.add_log_level, structlog.processors.TimeStamper(fmt="iso", utc=True),
                    structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


@contextmanager
def bound(**ids: Any) -> Iterator[None]:
    """Bind ids (``trader_id=...``) to every log line of this context (thread or task), then unbind."""
    with structlog.contextvars.bound_contextvars(**ids):
        yield
