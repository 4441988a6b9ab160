"""``/leaderboard``: every user's traders ranked by return since their start (names and owners only:
another user's trader id is never shown, so the board reveals nothing to act on), and the arena's
competitions (``nofx compete``, tables of revision 0006): each with its status and its last scored
leaderboard as ``nofx compete`` printed it (best first), or its traders while it is not scored yet."""

from __future__ import annotations

import json
from datetime import timezone
from typing import Any

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
    return Leaderboard(traders=out, competitions=competitions(svc.store))


MAX_COMPETITIONS = 50


def competitions(store: Any) -> list[dict[str, Any]]:
    """The most recent competitions, newest first (their configs stay out: endpoints are operators' data)."""
    try:
        from nofx.persistence.competitions import CompetitionStore
    except ImportError:  # a build without the arena's tables
        return []
    cs = CompetitionStore(store)
    out = []
    for c in cs.list()[:MAX_COMPETITIONS]:
        results = json.loads(c.results_json) if c.results_json else None
        item: dict[str, Any] = {
            "competition_id": c.competition_id, "name": c.name, "status": c.status, "runs": c.runs,
            "created": _iso(c.created), "started": _iso(c.started), "finished": _iso(c.finished),
            "data_hash": c.data_hash, "code_version": c.code_version, "scored": results is not None}
        if results is not None:
            item["rank_by"] = results.get("rank_by")
            item["period"] = results.get("period")
            item["leaderboard"] = results.get("leaderboard", [])
        else:
            item["leaderboard"] = [{"name": t.name, "kind": t.kind, "run": t.run_index, "model": t.model}
                                   for t in cs.traders(c.competition_id)]
        out.append(item)
    return out


def _iso(d: Any) -> str | None:  # the arena stores naive UTC
    if d is None:
        return None
    return (d.replace(tzinfo=timezone.utc) if d.tzinfo is None else d).isoformat()
