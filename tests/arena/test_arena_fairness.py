"""Fairness: every trader sees the same bars at the same times, pays the same fees and is refused by the
same rules; listing the traders in another order changes nothing in any trader's results."""

from __future__ import annotations

import json

from nofx.arena.competition import run_competition
from nofx.persistence.competitions import CompetitionStore
from nofx.persistence.store import SqlLedgerStore
from tests.arena.conftest import arena_state, competition


def _run(cfg, url):
    with SqlLedgerStore(url) as store:
        return run_competition(cfg, store, live=False)


def test_same_bars_same_times_and_order_changes_nothing(mock_llm, tmp_path) -> None:
    url_a, url_b = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    cfg = competition(mock_llm.url, tmp_path)
    res = _run(cfg, url_a)
    seats = res.outcome.seats
    # the same bars at the same times: each trader's own view, hashed at every step
    steps = sorted(seats[0].seen)
    assert len(steps) > 30
    for s in seats[1:]:
        assert s.seen == seats[0].seen
        assert s.seen_chain.hexdigest() == seats[0].seen_chain.hexdigest()
    with SqlLedgerStore(url_a) as store:
        stored = {t.trader_id: t.seen_hash for t in CompetitionStore(store).traders("t")}
    assert set(stored.values()) == {seats[0].seen_chain.hexdigest()}
    # the AI traders' prompts hold the same market table (their own holdings left out)
    ai = [s for s in seats if s.ai is not None]
    assert ai[0].context_seen and ai[0].context_seen == ai[1].context_seen
    # the same rule book, fee model and venue rules: one object shared by every engine
    assert len({id(s.engine.rulebook) for s in seats}) == 1
    assert len({id(s.engine.fees) for s in seats}) == 1
    # the traders differ (or this test would prove little)
    state_a = arena_state(url_a, "t")
    assert len({json.dumps(v["fills"], default=str) for v in state_a.values()}) == len(state_a)

    reordered = cfg.model_copy(update={"ai": list(reversed(cfg.ai)), "baselines": list(reversed(cfg.baselines))})
    res_b = _run(reordered, url_b)
    assert [s.trader_id for s in res_b.outcome.seats] != [s.trader_id for s in seats]
    assert arena_state(url_b, "t") == state_a
    assert res_b.board.rows == res.board.rows


def test_same_rules_refuse_the_same_decisions(mock_llm, tmp_path) -> None:
    """Two AI traders asking for the same impossible orders (beyond cash, odd lots) get the same cuts and
    refusals, word for word, whatever their names."""
    url = f"sqlite:///{tmp_path / 'r.db'}"
    cfg = competition(mock_llm.url, tmp_path, end="2020-02-28", baselines=[], ai=[
        {"name": "x", "model": "mock-momentum+beyond_cash", "temperature": 0.0},
        {"name": "y", "model": "mock-momentum+beyond_cash", "temperature": 0.0}])
    _run(cfg, url)
    st = arena_state(url, "t")
    x, y = st["t.x.0"], st["t.y.0"]
    outcomes = [o for _, _, _, _, outs in x["decisions"] for o in outs]
    assert any(o["status"] == "cut" for o in outcomes) and any(o["status"] == "refused" for o in outcomes)
    strip = lambda rows: [(c, cur, s, d, [{k: v for k, v in o.items() if k != "order"} for o in outs])  # noqa: E731
                          for c, cur, s, d, outs in rows]
    assert strip(x["decisions"]) == strip(y["decisions"])
    assert [f[2:] for f in x["fills"]] == [f[2:] for f in y["fills"]]
    assert [o[2:] for o in x["orders"]] == [o[2:] for o in y["orders"]]
    assert x["cash"] == y["cash"]
