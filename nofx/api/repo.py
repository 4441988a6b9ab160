"""SQL for the API's own tables (SQLAlchemy 2 Core). Every query on a user's objects filters by its
owner, so a route cannot forget the check: another user's trader or backtest is simply not found."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from nofx.persistence import api_schema as t
from nofx.persistence.connection import WRITE_OPTION


def utcnow() -> datetime:
    """Naive UTC (the ledger's convention: DateTime columns without time zone)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


@dataclass(frozen=True, slots=True)
class UserRow:
    user_id: str
    username: str
    password_hash: str
    is_admin: bool
    disabled: bool
    created: datetime


@dataclass(frozen=True, slots=True)
class ApiKeyRow:
    key_id: str
    user_id: str
    name: str
    prefix: str
    revoked: bool
    created: datetime
    last_used: datetime | None


@dataclass(frozen=True, slots=True)
class TraderRow:
    trader_id: str
    owner_id: str
    name: str
    kind: str
    config_json: str
    desired: str
    created: datetime
    updated: datetime


@dataclass(frozen=True, slots=True)
class BacktestRow:
    backtest_id: str
    owner_id: str
    config_json: str
    status: str
    progress: float
    metrics_json: str | None
    error: str | None
    report_path: str | None
    created: datetime
    finished: datetime | None


class Conflict(Exception):
    """A unique key is taken (username, API key name clash)."""


def _row(cls, r: Any):  # type: ignore[no-untyped-def]
    return None if r is None else cls(**{k: r[k] for k in cls.__slots__})


class Repo:
    def __init__(self, engine: Engine) -> None:
        self._e = engine

    def _write(self):  # type: ignore[no-untyped-def]
        # BEGIN IMMEDIATE on SQLite (see nofx.persistence.connection): no lock upgrade failures
        return self._e.connect().execution_options(**{WRITE_OPTION: True})

    def _one(self, stmt) -> Any:  # type: ignore[no-untyped-def]
        with self._e.connect() as conn:
            return conn.execute(stmt).mappings().first()

    def _all(self, stmt) -> list[Any]:  # type: ignore[no-untyped-def]
        with self._e.connect() as conn:
            return list(conn.execute(stmt).mappings())

    def _exec(self, stmt) -> int:  # type: ignore[no-untyped-def]
        with self._write() as conn, conn.begin():
            return conn.execute(stmt).rowcount

    # ---- users -----------------------------------------------------------------------------------
    def create_user(self, user_id: str, username: str, password_hash: str, is_admin: bool) -> UserRow:
        row = dict(user_id=user_id, username=username, password_hash=password_hash, is_admin=is_admin,
                   disabled=False, created=utcnow())
        try:
            self._exec(insert(t.users).values(**row))
        except IntegrityError:
            raise Conflict(f"username {username!r} is taken") from None
        return UserRow(**row)

    def user_by_name(self, username: str) -> UserRow | None:
        return _row(UserRow, self._one(select(t.users).where(t.users.c.username == username)))

    def user(self, user_id: str) -> UserRow | None:
        return _row(UserRow, self._one(select(t.users).where(t.users.c.user_id == user_id)))

    def users(self) -> list[UserRow]:
        return [_row(UserRow, r) for r in self._all(select(t.users).order_by(t.users.c.created, t.users.c.user_id))]

    def set_user(self, user_id: str, **values: Any) -> bool:
        return self._exec(update(t.users).where(t.users.c.user_id == user_id).values(**values)) > 0

    def delete_user(self, user_id: str) -> bool:
        return self._exec(delete(t.users).where(t.users.c.user_id == user_id)) > 0

    # ---- refresh tokens ------------------------------------------------------------------------------
    def add_refresh(self, token_hash: str, user_id: str, family: str, ttl_s: int) -> None:
        now = utcnow()
        self._exec(insert(t.refresh_tokens).values(token_hash=token_hash, user_id=user_id, family=family,
                                                   expires=now + timedelta(seconds=ttl_s), revoked=False,
                                                   created=now))

    def rotate_refresh(self, token_hash: str) -> tuple[str, str] | None | str:
        """Revoke a live refresh token atomically; returns (user_id, family). A token already revoked
        returns its family as a str (reuse: the caller revokes the family); unknown/expired: None."""
        rt = t.refresh_tokens
        with self._write() as conn, conn.begin():
            r = conn.execute(select(rt).where(rt.c.token_hash == token_hash)).mappings().first()
            if r is None or r["expires"] <= utcnow():
                return None
            if r["revoked"]:
                return str(r["family"])
            done = conn.execute(update(rt).where(rt.c.token_hash == token_hash, rt.c.revoked.is_(False))
                                .values(revoked=True)).rowcount
            if not done:  # a concurrent refresh won the race: this use is a reuse
                return str(r["family"])
            return str(r["user_id"]), str(r["family"])

    def revoke_family(self, family: str) -> None:
        self._exec(update(t.refresh_tokens).where(t.refresh_tokens.c.family == family).values(revoked=True))

    def refresh_owner(self, token_hash: str) -> tuple[str, str] | None:
        r = self._one(select(t.refresh_tokens).where(t.refresh_tokens.c.token_hash == token_hash))
        return None if r is None else (str(r["user_id"]), str(r["family"]))

    def revoke_user_tokens(self, user_id: str) -> None:
        self._exec(update(t.refresh_tokens).where(t.refresh_tokens.c.user_id == user_id).values(revoked=True))

    # ---- API keys -------------------------------------------------------------------------------------
    def add_key(self, key_id: str, user_id: str, name: str, prefix: str, key_hash: str) -> ApiKeyRow:
        row = dict(key_id=key_id, user_id=user_id, name=name, prefix=prefix, key_hash=key_hash, revoked=False,
                   created=utcnow(), last_used=None)
        self._exec(insert(t.api_keys).values(**row))
        row.pop("key_hash")
        return ApiKeyRow(**row)

    def keys(self, user_id: str) -> list[ApiKeyRow]:
        k = t.api_keys
        return [_row(ApiKeyRow, r) for r in self._all(select(k).where(k.c.user_id == user_id)
                                                      .order_by(k.c.created, k.c.key_id))]

    def revoke_key(self, user_id: str, key_id: str) -> bool:
        k = t.api_keys
        return self._exec(update(k).where(k.c.user_id == user_id, k.c.key_id == key_id).values(revoked=True)) > 0

    def user_by_key(self, key_hash: str) -> UserRow | None:
        k, u = t.api_keys, t.users
        r = self._one(select(u).join(k, k.c.user_id == u.c.user_id)
                      .where(k.c.key_hash == key_hash, k.c.revoked.is_(False)))
        return _row(UserRow, r)

    # ---- traders ---------------------------------------------------------------------------------------
    def add_trader(self, trader_id: str, owner_id: str, name: str, kind: str, config_json: str) -> TraderRow:
        now = utcnow()
        row = dict(trader_id=trader_id, owner_id=owner_id, name=name, kind=kind, config_json=config_json,
                   desired="stopped", created=now, updated=now)
        self._exec(insert(t.api_traders).values(**row))
        return TraderRow(**row)

    def _owned(self, table: Any, key: str, object_id: str, owner_id: str | None) -> Any:
        """The row with ``key`` = ``object_id`` if ``owner_id`` owns it (None: any owner)."""
        stmt = select(table).where(table.c[key] == object_id)
        if owner_id is not None:
            stmt = stmt.where(table.c.owner_id == owner_id)
        return self._one(stmt)

    def trader(self, owner_id: str | None, trader_id: str) -> TraderRow | None:
        """The trader if ``owner_id`` owns it (None: any owner, for the supervisor)."""
        return _row(TraderRow, self._owned(t.api_traders, "trader_id", trader_id, owner_id))

    def traders(self, owner_id: str | None = None, desired: str | None = None) -> list[TraderRow]:
        tr = t.api_traders
        stmt = select(tr)
        if owner_id is not None:
            stmt = stmt.where(tr.c.owner_id == owner_id)
        if desired is not None:
            stmt = stmt.where(tr.c.desired == desired)
        return [_row(TraderRow, r) for r in self._all(stmt.order_by(tr.c.created, tr.c.trader_id))]

    def update_trader(self, owner_id: str, trader_id: str, **values: Any) -> bool:
        tr = t.api_traders
        values["updated"] = utcnow()
        return self._exec(update(tr).where(tr.c.trader_id == trader_id, tr.c.owner_id == owner_id)
                          .values(**values)) > 0

    def delete_trader(self, owner_id: str, trader_id: str) -> bool:
        tr = t.api_traders
        return self._exec(delete(tr).where(tr.c.trader_id == trader_id, tr.c.owner_id == owner_id)) > 0

    # ---- backtests -------------------------------------------------------------------------------------
    def add_backtest(self, backtest_id: str, owner_id: str, config_json: str) -> BacktestRow:
        row = dict(backtest_id=backtest_id, owner_id=owner_id, config_json=config_json, status="queued",
                   progress=0.0, metrics_json=None, error=None, report_path=None, created=utcnow(), finished=None)
        self._exec(insert(t.backtests).values(**row))
        return BacktestRow(**row)

    def backtest(self, owner_id: str | None, backtest_id: str) -> BacktestRow | None:
        return _row(BacktestRow, self._owned(t.backtests, "backtest_id", backtest_id, owner_id))

    def backtests(self, owner_id: str) -> list[BacktestRow]:
        b = t.backtests
        return [_row(BacktestRow, r) for r in self._all(select(b).where(b.c.owner_id == owner_id)
                                                        .order_by(b.c.created, b.c.backtest_id))]

    def unfinished_backtests(self) -> list[BacktestRow]:
        b = t.backtests
        return [_row(BacktestRow, r) for r in self._all(select(b).where(b.c.status.in_(("queued", "running"))))]

    def set_backtest(self, backtest_id: str, **values: Any) -> None:
        self._exec(update(t.backtests).where(t.backtests.c.backtest_id == backtest_id).values(**values))
