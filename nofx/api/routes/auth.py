"""``/auth/login``, ``/auth/refresh``, ``/auth/logout``, ``/me`` and API keys.

Login failures are counted per username (and per client address) in the shared state: each failure
adds ``login_delay_s`` before the answer (up to 2 s), and ``login_max_failures`` within the lock window
lock the username for ``login_lock_s`` (429 with Retry-After, even with the right password). Unknown
usernames fail exactly like wrong passwords. Refresh tokens rotate: each use revokes the token and
returns a new pair; presenting a revoked one again revokes its whole family (a copy was stolen).
"""

from __future__ import annotations

import asyncio
import math

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from nofx.api.deps import Svc, User, rate_limited
from nofx.api.errors import ApiError, err, not_found, unauthorized
from nofx.api.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    LoginRequest,
    RefreshRequest,
    TokenPair,
    UserOut,
)
from nofx.api.security import digest, new_api_key, new_id, new_refresh_token, verify_password
from nofx.api.services import Services

router = APIRouter(tags=["auth"])
_AUTH_ERRORS = {401: err("invalid credentials"), 429: err("rate limited or locked")}


def _verifications(request: Request, n: int) -> asyncio.Semaphore:
    """The app's semaphore bounding concurrent password verifications (created on first use, on the loop)."""
    sem = getattr(request.app.state, "login_semaphore", None)
    if sem is None:
        sem = request.app.state.login_semaphore = asyncio.Semaphore(n)
    return sem


def _client(request: Request) -> str:
    return request.client.host if request.client else "?"


def _issue(svc: Services, user_id: str, is_admin: bool, family: str | None = None) -> TokenPair:
    access, _ = svc.signer.issue(user_id, is_admin)
    refresh = new_refresh_token()
    svc.repo.add_refresh(digest(refresh), user_id, family or new_id("fam"), svc.settings.refresh_ttl_s)
    return TokenPair(access_token=access, refresh_token=refresh, expires_in=svc.settings.access_ttl_s)


@router.post("/auth/login", response_model=TokenPair, responses=_AUTH_ERRORS)
async def login(body: LoginRequest, request: Request, svc: Svc) -> TokenPair:
    s, state = svc.settings, svc.state
    wait = state.take(f"login-ip:{_client(request)}", s.login_ip_rate.burst, s.login_ip_rate.per_second)
    if wait > 0:
        raise rate_limited(wait, "login attempts from this address")
    who = f"login:{body.username.lower()}"
    locked = state.locked_for(who)
    if locked > 0:
        secs = max(1, math.ceil(locked))
        raise ApiError(429, "LOGIN_LOCKED", f"too many failed logins; try again in {secs} s",
                       {"retry_after": secs}, headers={"Retry-After": str(secs)})
    user = await run_in_threadpool(svc.repo.user_by_name, body.username)
    async with _verifications(request, s.login_concurrency):  # a login storm queues here, not on the CPU
        ok = await run_in_threadpool(verify_password, user.password_hash if user else None, body.password)
    if not ok or user is None or user.disabled:
        failures = state.add_failure(who, s.login_lock_s)
        if failures >= s.login_max_failures:
            state.lock(who, s.login_lock_s)
        await asyncio.sleep(min(2.0, s.login_delay_s * failures))
        raise unauthorized("invalid username or password")
    state.clear_failures(who)
    return await run_in_threadpool(_issue, svc, user.user_id, user.is_admin)


@router.post("/auth/refresh", response_model=TokenPair, responses=_AUTH_ERRORS)
def refresh(body: RefreshRequest, svc: Svc) -> TokenPair:
    got = svc.repo.rotate_refresh(digest(body.refresh_token))
    if got is None:
        raise unauthorized("invalid refresh token")
    if isinstance(got, str):  # reuse of a rotated token: revoke every token descended from it
        svc.repo.revoke_family(got)
        raise unauthorized("invalid refresh token")
    user_id, family = got
    user = svc.repo.user(user_id)
    if user is None or user.disabled:
        raise unauthorized("invalid refresh token")
    return _issue(svc, user.user_id, user.is_admin, family)


@router.post("/auth/logout", status_code=204, responses=_AUTH_ERRORS)
def logout(body: RefreshRequest, who: User, svc: Svc) -> Response:
    """Revoke the refresh token (and its rotation family) and the access token used for this call."""
    owner = svc.repo.refresh_owner(digest(body.refresh_token))
    if owner is not None and owner[0] == who.user_id:
        svc.repo.revoke_family(owner[1])
    if who.jti is not None and who.expires is not None:
        import time

        svc.state.revoke(who.jti, who.expires - time.time() + 1)
    return Response(status_code=204)


@router.get("/me", response_model=UserOut, responses=_AUTH_ERRORS)
def me(who: User, svc: Svc) -> UserOut:
    user = svc.repo.user(who.user_id)
    if user is None:
        raise unauthorized()
    return UserOut(user_id=user.user_id, username=user.username, is_admin=user.is_admin, disabled=user.disabled,
                   created=user.created)


@router.post("/api-keys", response_model=ApiKeyCreated, status_code=201, tags=["api keys"], responses=_AUTH_ERRORS)
def create_api_key(body: ApiKeyCreate, who: User, svc: Svc) -> ApiKeyCreated:
    key = new_api_key()
    row = svc.repo.add_key(new_id("key"), who.user_id, body.name, key[:12], digest(key))
    return ApiKeyCreated(api_key=key, **_key_fields(row))


@router.get("/api-keys", response_model=list[ApiKeyOut], tags=["api keys"], responses=_AUTH_ERRORS)
def list_api_keys(who: User, svc: Svc) -> list[ApiKeyOut]:
    return [ApiKeyOut(**_key_fields(r)) for r in svc.repo.keys(who.user_id)]


@router.delete("/api-keys/{key_id}", status_code=204, tags=["api keys"],
               responses={**_AUTH_ERRORS, 404: err("no such key of yours")})
def revoke_api_key(key_id: str, who: User, svc: Svc) -> Response:
    if not svc.repo.revoke_key(who.user_id, key_id):
        raise not_found("API key")
    return Response(status_code=204)


def _key_fields(r) -> dict:  # type: ignore[no-untyped-def]
    return {"key_id": r.key_id, "name": r.name, "prefix": r.prefix, "revoked": r.revoked, "created": r.created,
            "last_used": r.last_used}
