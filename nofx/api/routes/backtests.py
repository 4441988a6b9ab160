"""``/backtests``: run a backtest in the background; poll its status, progress and metrics; fetch the
HTML report. Another user's backtest is a 404."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from nofx.api.deps import Svc, User
from nofx.api.errors import ApiError, err, not_found
from nofx.api.repo import BacktestRow
from nofx.api.schemas import BacktestCreate, BacktestOut, Created
from nofx.api.security import new_id

router = APIRouter(tags=["backtests"])
_ERRORS = {401: err("not authenticated"), 404: err("no such backtest of yours")}


def _out(r: BacktestRow) -> BacktestOut:
    return BacktestOut(backtest_id=r.backtest_id, status=r.status, progress=r.progress,  # type: ignore[arg-type]
                       metrics=json.loads(r.metrics_json) if r.metrics_json else None, error=r.error,
                       created=r.created, finished=r.finished)


@router.post("/backtests", response_model=Created, status_code=202, responses=_ERRORS)
def submit_backtest(body: BacktestCreate, who: User, svc: Svc) -> Created:
    import nofx.strategies.builtin  # noqa: F401
    from nofx.strategies.registry import REGISTRY

    raw = body.model_dump(mode="json", exclude_none=True)
    raw["risk"] = body.risk.model_dump(mode="json", exclude_none=True)
    symbols = []
    for k, s in enumerate(body.symbols):
        sym = svc.market.resolve(s)
        if sym not in svc.market.symbols():
            raise ApiError(422, "UNKNOWN_SYMBOL", f"no market data for {sym}", {"field": f"symbols.{k}", "symbol": sym})
        symbols.append(sym)
    if len(set(symbols)) != len(symbols):
        raise ApiError(422, "VALIDATION_ERROR", "duplicate symbol", {"field": "symbols"})
    raw["symbols"] = symbols
    if body.benchmark is not None:
        raw["benchmark"] = svc.market.resolve(body.benchmark)
    if body.start and body.end and body.start > body.end:
        raise ApiError(422, "VALIDATION_ERROR", "start is after end", {"field": "start"})
    REGISTRY.create(body.strategy, body.params)
    bid = new_id("bt")
    svc.repo.add_backtest(bid, who.user_id, json.dumps(raw))
    svc.backtests.submit(bid, raw)
    return Created(id=bid)


@router.get("/backtests", response_model=list[BacktestOut], responses=_ERRORS)
def list_backtests(who: User, svc: Svc) -> list[BacktestOut]:
    return [_out(r) for r in svc.repo.backtests(who.user_id)]


@router.get("/backtests/{backtest_id}", response_model=BacktestOut, responses=_ERRORS)
def get_backtest(backtest_id: str, who: User, svc: Svc) -> BacktestOut:
    row = svc.repo.backtest(who.user_id, backtest_id)
    if row is None:
        raise not_found("backtest")
    return _out(row)


@router.get("/backtests/{backtest_id}/report",
            responses={**_ERRORS, 409: err("not finished"),
                       200: {"content": {"text/html": {"schema": {"type": "string"}}}, "description": "the report"}})
def backtest_report(backtest_id: str, who: User, svc: Svc) -> HTMLResponse:
    row = svc.repo.backtest(who.user_id, backtest_id)
    if row is None:
        raise not_found("backtest")
    if row.status != "done" or not row.report_path or not Path(row.report_path).exists():
        raise ApiError(409, "NOT_READY", f"backtest is {row.status}: no report yet", {"status": row.status})
    return HTMLResponse(Path(row.report_path).read_text(encoding="utf-8"))
