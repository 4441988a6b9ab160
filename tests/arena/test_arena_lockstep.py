"""Lockstep: a slow endpoint costs only its own trader a missed cycle; model calls share each endpoint's
concurrency limit; the competition is recorded (config, data hash, code version, status, times)."""

from __future__ import annotations

import json

import pytest

from nofx.ai.mock_server import MockServer, MockState
from nofx.arena.competition import run_competition
from nofx.arena.scoring import score_competition
from nofx.persistence.competitions import CompetitionStore
from nofx.persistence.store import SqlLedgerStore
from tests.arena.conftest import arena_state, competition


@pytest.mark.slow
def test_a_slow_endpoint_costs_only_its_own_trader(tmp_path) -> None:
    both, alone = f"sqlite:///{tmp_path / 'both.db'}", f"sqlite:///{tmp_path / 'alone.db'}"
    fast = {"name": "fast"}
    slow = {"name": "slow", "model": "mock-momentum+timeout"}  # this mock hangs 8 s on every such request
    kw = dict(end="2020-02-12", baselines=[{"name": "bh", "strategy": "buy_and_hold"}], step_timeout_s=4)  # ample for the fast one on a loaded machine
    with MockServer(state=MockState(timeout_sleep=8)) as srv:
        with SqlLedgerStore(both) as store:
            res = run_competition(competition(srv.url, tmp_path / "c1", ai=[fast, slow], **kw), store, live=False)
        with SqlLedgerStore(alone) as store:
            run_competition(competition(srv.url, tmp_path / "c2", ai=[fast], **kw), store, live=False)
    seats = {s.entrant.name: s for s in res.outcome.seats}
    assert seats["slow"].missed >= 3 and seats["fast"].missed == 0
    st = arena_state(both, "t")
    slow_rows = st["t.slow.0"]["decisions"]
    assert slow_rows and all(status == "failed" for _, _, status, _, _ in slow_rows)
    assert st["t.slow.0"]["fills"] == []
    # the other traders did exactly what they do without the slow one
    ref = arena_state(alone, "t")
    assert st["t.fast.0"] == ref["t.fast.0"] and st["t.bh.0"] == ref["t.bh.0"]
    assert any(st["t.fast.0"]["fills"])
    board = {r["name"]: r for r in res.board.rows}
    assert board["slow"]["trades"] == 0
    failures = next(t for t in res.board.traders if t.name == "slow").decisions["failures"]
    assert any("step timeout" in k for k in failures)


def test_concurrent_calls_respect_the_endpoint_limit(mock_llm, tmp_path, monkeypatch) -> None:
    """Four traders on one endpoint with concurrency 2: their calls overlap, never more than 2 at once."""
    import asyncio

    import httpx

    url = f"sqlite:///{tmp_path / 'c.db'}"
    cfg = competition(mock_llm.url, tmp_path, ai=[{"name": f"a{k}", "seed": k} for k in range(4)], baselines=[],
                      end="2020-02-14")
    cfg.ai = [a.model_copy(update={"concurrency": 2, "cache": "off"}) for a in cfg.ai]
    flight = [0, 0]
    real = httpx.AsyncClient.post

    async def post(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        flight[0] += 1
        flight[1] = max(flight[1], flight[0])
        try:
            await asyncio.sleep(0.05)  # hold the slot a little so that overlapping calls would show
            return await real(self, *args, **kwargs)
        finally:
            flight[0] -= 1

    monkeypatch.setattr(httpx.AsyncClient, "post", post)
    with SqlLedgerStore(url) as store:
        res = run_competition(cfg, store, live=False)
    assert sum(s.caller.usage.calls for s in res.outcome.seats if s.caller is not None) >= 8
    assert len({id(s.caller.client.pool) for s in res.outcome.seats if s.caller is not None}) == 1
    assert flight[1] == 2


def test_the_competition_is_recorded(mock_llm, tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'rec.db'}"
    cfg = competition(mock_llm.url, tmp_path, end="2020-02-21", runs=2)
    with SqlLedgerStore(url) as store:
        res = run_competition(cfg, store, live=False)
        cs = CompetitionStore(store)
        rec = cs.get("t")
        traders = cs.traders("t")
    assert rec.status == "finished" and rec.started and rec.finished and rec.finished >= rec.started
    assert len(rec.data_hash) == 64 and rec.code_version
    assert json.loads(rec.config_json)["competition"]["runs"] == 2
    assert rec.runs == 2
    kinds = sorted((t.name, t.kind, t.run_index) for t in traders)
    assert kinds == [("bh", "baseline", 0), ("con", "ai", 0), ("con", "ai", 1), ("dma", "baseline", 0),
                     ("mom", "ai", 0), ("mom", "ai", 1)]
    assert {t.trader_id for t in traders} == {"t.mom.0", "t.mom.1", "t.con.0", "t.con.1", "t.dma.0", "t.bh.0"}
    assert all(t.metrics_json and "total_return" in json.loads(t.metrics_json) for t in traders)
    seeds = {(t.name, t.run_index): t.seed for t in traders if t.kind == "ai"}
    assert seeds[("mom", 1)] == seeds[("mom", 0)] + 1
    results = json.loads(rec.results_json)
    assert results["leaderboard"] == res.board.rows
    with SqlLedgerStore(url) as store:  # re-scored from the ledgers alone: the same table
        assert score_competition(store, "t", save=False).rows == res.board.rows
    # runs with different seeds trade differently (the mock samples above temperature 0)
    st = arena_state(url, "t")
    assert st["t.mom.0"]["fills"] != st["t.mom.1"]["fills"]
