"""``/strategies`` and ``/symbols``: what a client may put in a trader's or a backtest's config (the
registered strategies with their parameters, and the symbols of the server's bars file), so a form can
offer choices instead of free text."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from nofx.api.deps import Svc, User
from nofx.api.errors import err
from nofx.api.schemas import StrategyOut, SymbolOut

router = APIRouter(tags=["catalog"])
_ERRORS = {401: err("not authenticated")}


def _strategies() -> list[StrategyOut]:
    import nofx.strategies.builtin  # noqa: F401  (the registry)
    from nofx.strategies.registry import REGISTRY

    out = []
    for name in REGISTRY.names():
        schema: dict[str, Any] = REGISTRY.params_model(name).model_json_schema()
        out.append(StrategyOut(name=name, summary=REGISTRY.summary(name), params=schema.get("properties", {}),
                               required=list(schema.get("required", []))))
    return out


@router.get("/strategies", response_model=list[StrategyOut], responses=_ERRORS)
def strategies(_: User) -> list[StrategyOut]:
    """Every registered strategy: its one-line summary and its parameters as JSON-schema properties
    (type, default, description)."""
    return _strategies()


@router.get("/symbols", response_model=list[SymbolOut], responses=_ERRORS)
async def symbols(_: User, svc: Svc) -> list[SymbolOut]:
    """The symbols of the server's bars file with their first and last bar (the dates a trader or a
    backtest can run over)."""
    return [SymbolOut.model_validate(s) for s in await run_in_threadpool(svc.market.catalog)]
