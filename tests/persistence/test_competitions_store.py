"""The arena's tables (revision 0006) and the batched writes it uses, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from decimal import Decimal

from nofx.engine.store import EquitySnapshot, TraderRecord
from nofx.persistence.competitions import CompetitionRecord, CompetitionStore, CompetitionTrader, equity_curve
from nofx.persistence.decisions import DecisionLog, DecisionRow


def _traders(store, n: int, cid: str) -> list[str]:  # type: ignore[no-untyped-def]
    ids = [f"{cid}.t{k}.0" for k in range(n)]
    for tid in ids:
        store.create_trader(TraderRecord(tid, Decimal("1000000"), "cn", "{}", datetime.now(timezone.utc)))
    return ids


def test_competition_rows_round_trip(store) -> None:  # type: ignore[no-untyped-def]
    cs = CompetitionStore(store)
    now = datetime(2026, 12, 1, 4, 0, 0)
    c1 = uuid.uuid4().hex[:12]  # the PostgreSQL database is shared by the session's tests
    cs.create(CompetitionRecord(c1, "demo", "running", now, now, None, '{"a": 1}', "ab" * 32, "git:abc", 3, -1,
                                json.dumps({"market": {"symbols": ["600519.SH"]}})))
    ids = _traders(store, 2, c1)
    cs.add_traders([CompetitionTrader(c1, ids[0], "t0", "ai", 0, "mock-momentum", 7, 0.7),
                    CompetitionTrader(c1, ids[1], "t1", "baseline", 0, None, None, None)])
    cs.update(c1, status="finished", finished=now, cursor=41)
    cs.save_scores(c1, '{"leaderboard": []}', {ids[0]: ('{"total_return": 0.1}', "f" * 64),
                                                 ids[1]: ('{"total_return": 0.2}', None)})
    rec = cs.get(c1)
    assert (rec.status, rec.finished, rec.cursor, rec.runs, rec.results_json) == \
        ("finished", now, 41, 3, '{"leaderboard": []}')
    got = {t.trader_id: t for t in cs.traders(c1)}
    assert got[ids[0]].seed == 7 and got[ids[0]].temperature == 0.7 and got[ids[0]].seen_hash == "f" * 64
    assert json.loads(got[ids[1]].metrics_json) == {"total_return": 0.2} and got[ids[1]].seen_hash is None
    assert c1 in [c.competition_id for c in cs.list()]
    assert cs.get("nope") is None


def test_snapshots_and_decision_records_of_one_step_in_one_call(store) -> None:  # type: ignore[no-untyped-def]
    ids = _traders(store, 3, uuid.uuid4().hex[:12])
    ts = datetime(2020, 2, 3)
    store.snapshot_many([EquitySnapshot(tid, ts, Decimal(1000 + k), Decimal(900), 5) for k, tid in enumerate(ids)])
    store.snapshot_many([EquitySnapshot(tid, ts, Decimal(2000 + k), Decimal(900), 6) for k, tid in enumerate(ids)])
    for k, tid in enumerate(ids):
        assert store.last_snapshot(tid).cursor == 6
        assert [(cur, eq) for _, eq, cur in equity_curve(store, tid)] == [(5, Decimal(1000 + k)), (6, Decimal(2000 + k))]
    log = DecisionLog(store)
    rows = [(DecisionRow(tid, 1, 5, ts, "ok", "normal", None, "m", [], [], [], 1.0, 10, 2, Decimal("0.01"), "{}"),
             {"h" + tid: "[]", "s" + ids[0]: "[]"}) for tid in ids]
    log.record_many(rows)
    log.record_many(rows[:1])  # a replayed cycle replaces its row
    for tid in ids:
        assert [(r.cycle, r.cursor) for r in log.rows(tid)] == [(1, 5)]
    assert log.prompt("s" + ids[0]) == []
