"""``/traders``: a user's traders (strategy + config + account + risk limits) and their lifecycle.

Every lookup goes through ``Repo.trader(owner, id)``: another user's trader is a 404 exactly like a
trader that does not exist.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from nofx.api.deps import Svc, User
from nofx.api.errors import ApiError, err, not_found
from nofx.api.repo import TraderRow
from nofx.api.runtime import config_json
from nofx.api.schemas import AccountConfig, AITraderConfig, TraderConfig, TraderCreate, TraderOut, TraderPatch
from nofx.api.security import new_id
from nofx.api.services import Services

router = APIRouter(tags=["traders"])
_ERRORS = {401: err("not authenticated"), 404: err("no such trader of yours")}
START_WAIT_S = 30.0


def trader_out(svc: Services, row: TraderRow) -> TraderOut:
    state, error = svc.traders.state(row.trader_id)
    return TraderOut(trader_id=row.trader_id, name=row.name, kind=row.kind, config=json.loads(row.config_json),
                     desired=row.desired, state=state, error=error, created=row.created, updated=row.updated)


def owned(svc: Services, user_id: str, trader_id: str) -> TraderRow:
    row = svc.repo.trader(user_id, trader_id)
    if row is None:
        raise not_found("trader")
    return row


def _checked_symbols(svc: Services, symbols: list[str]) -> list[str]:
    out = []
    for k, s in enumerate(symbols):
        try:
            sym = svc.market.resolve(s)
        except ApiError as exc:
            raise ApiError(422, exc.code, exc.message, {**(exc.details or {}), "field": f"config.symbols.{k}"}) \
                from None
        if sym not in svc.market.symbols():
            raise ApiError(422, "UNKNOWN_SYMBOL", f"no market data for {sym}",
                           {"field": f"config.symbols.{k}", "symbol": sym})
        out.append(sym)
    if len(set(out)) != len(out):
        raise ApiError(422, "VALIDATION_ERROR", "duplicate symbol", {"field": "config.symbols"})
    return out


def _account(svc: Services, cfg: AccountConfig) -> dict[str, Any]:
    raw = cfg.model_dump(mode="json", exclude_none=True, include=set(AccountConfig.model_fields))
    raw["risk"] = cfg.risk.model_dump(mode="json", exclude_none=True)
    raw["symbols"] = _checked_symbols(svc, cfg.symbols)
    if cfg.start and cfg.end and cfg.start > cfg.end:
        raise ApiError(422, "VALIDATION_ERROR", "start is after end", {"field": "config.start"})
    return raw


def checked_config(svc: Services, cfg: TraderConfig) -> dict[str, Any]:
    """The config as stored: symbols resolved (bare codes get their suffix), strategy and params
    validated now rather than when the worker starts."""
    import nofx.strategies.builtin  # noqa: F401
    from nofx.strategies.registry import REGISTRY

    raw = {**_account(svc, cfg), "strategy": cfg.strategy, "params": cfg.params}
    REGISTRY.create(cfg.strategy, cfg.params)  # ConfigError -> 422 naming the parameter
    return raw


SERVER_FILES = ("prompt_template", "news", "cache_dir")  # paths on the server: not settable over HTTP


def checked_ai_config(svc: Services, cfg: AITraderConfig) -> dict[str, Any]:
    """An AI trader's config as stored: the endpoint must be one the server allows, and the key is named
    by the server's setting for that endpoint (a user can never send a key to another URL)."""
    t = cfg.trader
    for name in SERVER_FILES:
        if name in t.model_fields_set:
            raise ApiError(422, "VALIDATION_ERROR", f"{name} names a file on the server: not settable over HTTP",
                           {"field": f"config.trader.{name}"})
    for k, role in enumerate(t.roles):
        if role.template is not None:
            raise ApiError(422, "VALIDATION_ERROR", "role templates are files on the server: not settable "
                           "over HTTP", {"field": f"config.trader.roles.{k}.template"})
    allowed = svc.settings.ai_endpoints
    if t.base_url not in allowed:
        raise ApiError(422, "AI_ENDPOINT_NOT_ALLOWED", "this server does not allow that model endpoint (an "
                       "administrator lists them: nofx serve --ai-endpoint URL[=KEY_ENV])",
                       {"field": "config.trader.base_url", "allowed": sorted(allowed)})
    key_env = allowed[t.base_url]
    if "api_key_env" in t.model_fields_set and t.api_key_env != key_env:
        raise ApiError(422, "VALIDATION_ERROR", "api_key_env must be the variable the server names for this "
                       "endpoint", {"field": "config.trader.api_key_env", "expected": key_env})
    trader = t.model_dump(mode="json", exclude_unset=True, exclude={"id", *SERVER_FILES})
    trader["api_key_env"] = key_env
    return {**_account(svc, cfg), "trader": trader}


def _checked(svc: Services, kind: str, cfg: TraderConfig | AITraderConfig) -> dict[str, Any]:
    if kind == "ai":
        if not isinstance(cfg, AITraderConfig):
            raise ApiError(422, "VALIDATION_ERROR", "an AI trader's config has a trader section",
                           {"field": "config.trader"})
        return checked_ai_config(svc, cfg)
    if not isinstance(cfg, TraderConfig):
        raise ApiError(422, "VALIDATION_ERROR", "a strategy trader's config names its strategy",
                       {"field": "config.strategy"})
    return checked_config(svc, cfg)


@router.get("/traders", response_model=list[TraderOut], responses=_ERRORS)
def list_traders(who: User, svc: Svc) -> list[TraderOut]:
    return [trader_out(svc, r) for r in svc.repo.traders(owner_id=who.user_id)]


@router.post("/traders", response_model=TraderOut, status_code=201, responses=_ERRORS)
def create_trader(body: TraderCreate, who: User, svc: Svc) -> TraderOut:
    """A strategy trader (``kind`` "strategy", the default) or an AI trader (``kind`` "ai"); stopped
    until ``POST /traders/{id}/start``."""
    cfg = _checked(svc, body.kind, body.config)
    row = svc.repo.add_trader(new_id("tr"), who.user_id, body.name, body.kind, config_json(cfg))
    return trader_out(svc, row)


@router.get("/traders/{trader_id}", response_model=TraderOut, responses=_ERRORS)
def get_trader(trader_id: str, who: User, svc: Svc) -> TraderOut:
    return trader_out(svc, owned(svc, who.user_id, trader_id))


@router.patch("/traders/{trader_id}", response_model=TraderOut, responses={**_ERRORS, 409: err("running")})
def patch_trader(trader_id: str, body: TraderPatch, who: User, svc: Svc) -> TraderOut:
    row = owned(svc, who.user_id, trader_id)
    values: dict[str, Any] = {}
    if body.name is not None:
        values["name"] = body.name
    if body.config is not None:
        if row.desired == "running" or svc.traders.state(trader_id)[0] in ("starting", "running"):
            raise ApiError(409, "TRADER_RUNNING", "stop the trader before changing its config", {"field": "config"})
        if svc.store.get_trader(trader_id) is not None:
            raise ApiError(409, "TRADER_HAS_LEDGER", "this trader has traded: its config is part of its ledger; "
                           "create a new trader instead", {"field": "config"})
        values["config_json"] = config_json(_checked(svc, row.kind, body.config))
    if values:
        svc.repo.update_trader(who.user_id, trader_id, **values)
    return trader_out(svc, owned(svc, who.user_id, trader_id))


@router.delete("/traders/{trader_id}", status_code=204, responses=_ERRORS)
def delete_trader(trader_id: str, who: User, svc: Svc) -> Response:
    owned(svc, who.user_id, trader_id)
    svc.traders.forget(trader_id)
    svc.repo.delete_trader(who.user_id, trader_id)
    svc.owners.forget(trader_id)
    return Response(status_code=204)


@router.post("/traders/{trader_id}/start", response_model=TraderOut, responses=_ERRORS)
def start_trader(trader_id: str, who: User, svc: Svc) -> TraderOut:
    """Start paper trading (resuming from the trader's ledger if it has one); waits until the worker
    takes orders or fails, at most 30 s."""
    row = owned(svc, who.user_id, trader_id)
    svc.repo.update_trader(who.user_id, trader_id, desired="running")
    svc.traders.start(trader_id, who.user_id, json.loads(row.config_json))
    svc.traders.wait_ready(trader_id, START_WAIT_S)
    return trader_out(svc, owned(svc, who.user_id, trader_id))


@router.post("/traders/{trader_id}/stop", response_model=TraderOut, responses=_ERRORS)
def stop_trader(trader_id: str, who: User, svc: Svc) -> TraderOut:
    owned(svc, who.user_id, trader_id)
    svc.repo.update_trader(who.user_id, trader_id, desired="stopped")
    svc.traders.stop(trader_id)
    return trader_out(svc, owned(svc, who.user_id, trader_id))


@router.get("/traders/{trader_id}/decisions", response_model=list[dict[str, Any]], responses=_ERRORS)
def trader_decisions(trader_id: str, who: User, svc: Svc,
                     limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
    """The AI decision log (``nofx.persistence.decisions``), the last ``limit`` cycles, oldest first: raw
    replies, parsed decisions, the limits' verdicts and the orders they led to. A strategy trader makes no
    LLM decisions: an empty list."""
    from nofx.persistence.decisions import DecisionLog

    owned(svc, who.user_id, trader_id)
    return [r.to_dict() for r in DecisionLog(svc.store).rows(trader_id, limit=limit)]
