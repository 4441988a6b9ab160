"""User management: administrators only (403 for everyone else)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from nofx.api.deps import Admin, Svc
from nofx.api.errors import ApiError, err, not_found
from nofx.api.repo import Conflict
from nofx.api.schemas import UserCreate, UserOut, UserPatch
from nofx.api.security import hash_password, new_id

router = APIRouter(tags=["users"])
_ERRORS = {401: err("not authenticated"), 403: err("not an administrator")}


def _out(u) -> UserOut:  # type: ignore[no-untyped-def]
    return UserOut(user_id=u.user_id, username=u.username, is_admin=u.is_admin, disabled=u.disabled, created=u.created)


@router.get("/users", response_model=list[UserOut], responses=_ERRORS)
def list_users(_: Admin, svc: Svc) -> list[UserOut]:
    return [_out(u) for u in svc.repo.users()]


@router.post("/users", response_model=UserOut, status_code=201, responses={**_ERRORS, 409: err("taken")})
def create_user(body: UserCreate, _: Admin, svc: Svc) -> UserOut:
    try:
        return _out(svc.repo.create_user(new_id("usr"), body.username, hash_password(body.password), body.is_admin))
    except Conflict as exc:
        raise ApiError(409, "CONFLICT", str(exc), {"field": "username"}) from None


@router.patch("/users/{user_id}", response_model=UserOut,
              responses={**_ERRORS, 404: err("no such user"), 409: err("would lock yourself out")})
def patch_user(user_id: str, body: UserPatch, who: Admin, svc: Svc) -> UserOut:
    values = body.model_dump(exclude_none=True)
    if user_id == who.user_id and (values.get("disabled") or values.get("is_admin") is False):
        raise ApiError(409, "CONFLICT", "administrators cannot disable or demote themselves")
    if values and not svc.repo.set_user(user_id, **values):
        raise not_found("user")
    if values.get("disabled"):
        _cut_off(svc, user_id)
    user = svc.repo.user(user_id)
    if user is None:
        raise not_found("user")
    return _out(user)


@router.delete("/users/{user_id}", status_code=204,
               responses={**_ERRORS, 404: err("no such user"), 409: err("cannot delete yourself")})
def delete_user(user_id: str, who: Admin, svc: Svc) -> Response:
    if user_id == who.user_id:
        raise ApiError(409, "CONFLICT", "administrators cannot delete themselves")
    for tr in svc.repo.traders(owner_id=user_id):
        svc.traders.forget(tr.trader_id)
        svc.owners.forget(tr.trader_id)
    if not svc.repo.delete_user(user_id):
        raise not_found("user")
    _cut_off(svc, user_id)
    return Response(status_code=204)


def _cut_off(svc, user_id: str) -> None:  # type: ignore[no-untyped-def]
    """End a user's sessions now: refresh tokens revoked, live access tokens refused until they expire."""
    svc.repo.revoke_user_tokens(user_id)
    svc.state.revoke(f"user:{user_id}", svc.settings.access_ttl_s + 5)
