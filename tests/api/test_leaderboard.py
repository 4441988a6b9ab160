"""``GET /leaderboard`` lists the arena's competitions (``nofx compete``'s tables) next to the API's traders:
a scored competition with its leaderboard as scored, an unscored one with its traders."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

competitions = pytest.importorskip("nofx.persistence.competitions", reason="the arena's tables (migration 0006)")


def test_leaderboard_lists_competitions(server) -> None:  # type: ignore[no-untyped-def]
    from nofx.engine.store import TraderRecord

    store = server.svc.store
    cs = competitions.CompetitionStore(store)
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    board = {"rank_by": "sharpe", "period": {"start": "2020-01-02", "end": "2020-06-30"},
             "leaderboard": [{"rank": 1, "name": "ai-a", "return": 0.12, "sharpe": 1.4},
                             {"rank": 2, "name": "buy_and_hold", "return": 0.05, "sharpe": 0.6}]}
    for cid, results in (("cmp-scored", json.dumps(board)), ("cmp-running", None)):
        cs.create(competitions.CompetitionRecord(cid, f"test {cid}", "finished" if results else "running", now, now,
                                                 None, "{}", "0" * 64, "test", 1, -1, results))
        tid = f"{cid}-t1"
        store.create_trader(TraderRecord(tid, 1_000_000, "cn", "{}", now))
        cs.add_traders([competitions.CompetitionTrader(cid, tid, "ai-a", "ai", 0, "mock-momentum", 7, 0.0)])
    c = server.user_client("board-reader")
    r = c.get("/api/v1/leaderboard")
    assert r.status_code == 200, r.text
    by_id = {x["competition_id"]: x for x in r.json()["competitions"]}
    scored, running = by_id["cmp-scored"], by_id["cmp-running"]
    assert scored["scored"] and scored["rank_by"] == "sharpe" and scored["status"] == "finished"
    assert [row["name"] for row in scored["leaderboard"]] == ["ai-a", "buy_and_hold"]
    assert not running["scored"] and running["leaderboard"] == [{"name": "ai-a", "kind": "ai", "run": 0,
                                                                  "model": "mock-momentum"}]
    assert scored["created"].endswith("+00:00")
