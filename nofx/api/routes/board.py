"""``/leaderboard``: every user's traders ranked by return since their start (names and owners only:
another user's trader id is never shown, so the board reveals nothing to act on), and competitions
(none are defined yet: an empty list)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import func, select

from nofx.api.deps import Svc, User
from nofx.api.errors import err
from nofx.api.schemas import Leaderboard, LeaderRow
from nofx.persistence import api_schema as a
from nofx.persistence import schema as t

router = APIRouter(tags=["leaderboard"])


@router.get("/leaderboard", response_model=Leaderboard, responses={401: err("not authenticated")})
def leaderboard(who: User, svc: Svc) -> Leaderboard:
    e = t.equity_snapshots
    last = select(e.c.trader_id, func.max(e.c.id).label("id")).group_by(e.c.trader_id).subquery()
    stmt = (select(a.api_traders.c.trader_id, a.api_traders.c.name, a.api_traders.c.kind, a.api_traders.c.owner_id,
                   a.users.c.username, t.traders.c.initial_cash, e.c.equity)
            .join(a.users, a.users.c.user_id == a.api_traders.c.owner_id)
            .join(t.traders, t.traders.c.trader_id == a.api_traders.c.trader_id)
            .join(last, last.c.trader_id == a.api_traders.c.trader_id, isouter=True)
            .join(e, e.c.id == last.c.id, isouter=True))
    with svc.store.connect() as conn:
        rows = list(conn.execute(stmt))
    scored = []
    for r in rows:
        ret = float(r.equity / r.initial_cash - 1) * 100 if r.equity is not None and r.initial_cash else None
        scored.append((r, ret))
    scored.sort(key=lambda x: (x[1] is None, -(x[1] or 0.0), x[0].name))
    out = [LeaderRow(rank=k + 1, trader_id=r.trader_id if r.owner_id == who.user_id else None, name=r.name,
                     owner=r.username, kind=r.kind, initial_cash=r.initial_cash, equity=r.equity,
                     return_pct=None if ret is None else round(ret, 4))
           for k, (r, ret) in enumerate(scored)]
    return Leaderboard(traders=out, competitions=[])
