"""One error shape for every failure: ``{"error": {"code", "message", "details"}}``.

Handlers map FastAPI's validation errors (naming the field), HTTP errors from routing (404/405), coded
``NofxError``s from the layers below (a user's bad input: 422) and anything unexpected (500 with no
internals: the traceback goes to the server log only, never to the client).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from nofx.domain.errors import NofxError

log = logging.getLogger("nofx.api")


class ErrorDetail(BaseModel):
    code: str  # stable, e.g. VALIDATION_ERROR, NOT_FOUND, RATE_LIMITED
    message: str  # one human line; for validation errors it names the field
    details: Any = None  # e.g. [{"field", "in", "message", "type"}] for validation errors


class ErrorOut(BaseModel):
    """The one error shape of every non-2xx response."""

    error: ErrorDetail


def err(description: str) -> dict[str, Any]:
    """An OpenAPI ``responses`` entry with the error shape."""
    return {"model": ErrorOut, "description": description}


# documented on every operation (the middleware and handlers can answer any of them)
STANDARD_ERRORS: dict[int | str, dict[str, Any]] = {
    400: err("malformed request"), 401: err("missing or invalid credentials"),
    413: err("request body too large"), 422: err("invalid input; the details name the field"),
    429: err("rate limited or login locked; see Retry-After"), 500: err("internal error (no details)"),
}


class ApiError(Exception):
    """Raised by routes and dependencies; rendered as the error shape with ``status``."""

    def __init__(self, status: int, code: str, message: str, details: Any = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers


def not_found(what: str) -> ApiError:
    """The same 404 whether the object does not exist or belongs to someone else (no existence leak)."""
    return ApiError(404, "NOT_FOUND", f"{what} not found")


def unauthorized(message: str = "missing or invalid credentials") -> ApiError:
    return ApiError(401, "UNAUTHORIZED", message, headers={"WWW-Authenticate": "Bearer"})


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def error_response(status: int, code: str, message: str, details: Any = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


_HTTP_CODES = {400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND",
               405: "METHOD_NOT_ALLOWED", 406: "NOT_ACCEPTABLE", 409: "CONFLICT", 413: "PAYLOAD_TOO_LARGE",
               415: "UNSUPPORTED_MEDIA_TYPE", 422: "VALIDATION_ERROR", 429: "RATE_LIMITED"}


UNION_TAG = "kind="  # prefix of the tags of the request bodies' tagged unions (schemas.TraderCreate)


def _field(loc: tuple[Any, ...]) -> str:
    # ("body", "quantity") -> "quantity"; ("query", "limit") -> "limit"; nested: "risk.max_order_value"
    parts = [str(p) for p in loc[1:]] if loc and loc[0] in ("body", "query", "path", "header") else \
        [str(p) for p in loc]
    parts = [p for p in parts if not p.startswith(UNION_TAG)]  # the tag of a union member names no field
    return ".".join(parts) or "body"


def validation_details(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"field": _field(tuple(e.get("loc", ()))), "in": (e.get("loc") or ("body",))[0],
             "message": e.get("msg", "invalid"), "type": e.get("type", "")} for e in errors[:20]]


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = validation_details(list(exc.errors()))
        first = details[0] if details else {"field": "body", "message": "invalid request"}
        return error_response(422, "VALIDATION_ERROR", f"invalid value for {first['field']!r}: {first['message']}",
                              details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
        message = exc.detail if isinstance(exc.detail, str) else code.lower().replace("_", " ")
        return error_response(exc.status_code, code, message, None, getattr(exc, "headers", None))

    @app.exception_handler(NofxError)
    async def _nofx(_: Request, exc: NofxError) -> JSONResponse:
        # bad input detected by the layers below (a symbol, a config, an order): the client's to fix
        return error_response(422, exc.code, exc.message, _jsonable(exc.context))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(500, "INTERNAL_ERROR", "internal server error")


def _jsonable(context: dict[str, Any]) -> dict[str, Any]:
    return {k: v if isinstance(v, (str, int, float, bool, type(None))) else str(v) for k, v in context.items()}
