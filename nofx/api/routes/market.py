"""``/market/{symbol}`` (latest quote and recent bars, cached) and ``/market/{symbol}/bars``."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from starlette.concurrency import run_in_threadpool

from nofx.api.deps import Svc, User
from nofx.api.errors import ApiError, err
from nofx.api.schemas import BarsOut, QuoteOut

router = APIRouter(tags=["market"])
SymbolP = Annotated[str, Path(min_length=1, max_length=16, description="600519.SH, or a bare 6-digit code")]
# pandas' nanosecond timestamps end in 2262: a date outside this range is a 422 naming it, not a 500
DateQ = Annotated[date | None, Query(ge=date(1900, 1, 1), le=date(2200, 12, 31))]
_ERRORS = {401: err("not authenticated"), 404: err("no data for the symbol"),
           422: err("unknown or ambiguous symbol")}


def _render(quote: dict) -> bytes:  # type: ignore[type-arg]
    return QuoteOut.model_validate(quote).model_dump_json().encode()


@router.get("/market/{symbol}", response_model=QuoteOut, responses=_ERRORS)
async def quote(symbol: SymbolP, _: User, svc: Svc) -> Response:
    """The latest bar and the recent bars; cached for ``market_ttl_s`` (served from the cache on the
    event loop: a miss reads one symbol's frame already in memory)."""
    resolved = svc.market.resolve(symbol)
    return Response(svc.market.quote_json(resolved, _render), media_type="application/json")


@router.get("/market/{symbol}/bars", response_model=BarsOut, responses=_ERRORS)
async def bars(symbol: SymbolP, _: User, svc: Svc, start: DateQ = None, end: DateQ = None,
               limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> BarsOut:
    if start and end and start > end:
        raise ApiError(422, "VALIDATION_ERROR", "start is after end",
                       [{"field": "start", "in": "query", "message": "after end"}])
    resolved = svc.market.resolve(symbol)
    rows = await run_in_threadpool(svc.market.bars, resolved, start, end, limit)
    return BarsOut(symbol=resolved, bars=rows)
