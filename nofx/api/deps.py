"""Authentication and per-user rate limiting as FastAPI dependencies.

A request authenticates with ``Authorization: Bearer <access JWT>`` or ``X-API-Key: nofx_...``. Any
failure is the same plain 401 (the reason is never told to the client). After authentication the
user's token bucket is charged; an empty bucket is a 429 with ``Retry-After``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from nofx.api.errors import ApiError, unauthorized
from nofx.api.security import TokenError, digest
from nofx.api.services import Services


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: str
    is_admin: bool
    jti: str | None  # None for API keys
    expires: float | None


def svc_of(request: Request) -> Services:
    return request.app.state.svc  # type: ignore[no-any-return]


async def services(request: Request) -> Services:
    # async: FastAPI runs a plain ``def`` dependency in the thread pool, a thread hand-off per request
    return request.app.state.svc  # type: ignore[no-any-return]


_bearer = HTTPBearer(auto_error=False, description="access token from POST /api/v1/auth/login")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key from POST /api/v1/api-keys")


def rate_limited(retry_after: float, scope: str) -> ApiError:
    secs = max(1, math.ceil(retry_after))
    return ApiError(429, "RATE_LIMITED", f"too many requests ({scope}); retry after {secs} s",
                    {"retry_after": secs}, headers={"Retry-After": str(secs)})


async def current_user(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Principal:
    svc = svc_of(request)
    if bearer is not None and bearer.credentials:
        try:
            claims = svc.signer.verify_cached(bearer.credentials)
        except TokenError:
            raise unauthorized() from None
        if svc.state.is_revoked(claims.jti) or svc.state.is_revoked(f"user:{claims.user_id}"):
            raise unauthorized()
        who = Principal(claims.user_id, claims.is_admin, claims.jti, claims.expires)
    elif api_key:
        if len(api_key) > 128:
            raise unauthorized()
        user = await run_in_threadpool(svc.repo.user_by_key, digest(api_key))
        if user is None or user.disabled:
            raise unauthorized()
        who = Principal(user.user_id, user.is_admin, None, None)
    else:
        raise unauthorized()
    rl = svc.settings.user_rate
    wait = svc.state.take(f"user:{who.user_id}", rl.burst, rl.per_second)
    if wait > 0:
        raise rate_limited(wait, "per user")
    request.state.user_id = who.user_id
    return who


async def admin_user(request: Request, who: Annotated[Principal, Depends(current_user)]) -> Principal:
    # the database, not the token's claim, decides: a demoted admin loses the right at once
    user = await run_in_threadpool(svc_of(request).repo.user, who.user_id) if who.is_admin else None
    if user is None or not user.is_admin or user.disabled:
        raise ApiError(403, "FORBIDDEN", "only administrators manage users")
    return who


User = Annotated[Principal, Depends(current_user)]
Admin = Annotated[Principal, Depends(admin_user)]
Svc = Annotated[Services, Depends(services)]
