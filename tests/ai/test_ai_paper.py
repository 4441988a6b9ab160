"""``nofx ai paper``: the decision log in the ledger database, resume with an identical ledger, every
mock failure mode survived with a clean ledger check (SQLite; PostgreSQL where a server answers)."""

from __future__ import annotations

import json

import pytest

from nofx.ai.backtest import run_ai_backtest
from nofx.ai.paper import run_ai_paper
from nofx.persistence.decisions import DecisionLog
from nofx.persistence.ledger_check import check_ledger
from nofx.persistence.store import SqlLedgerStore
from tests.ai.conftest import ai_config, ledger_state


def _paper(url: str, cfg, **kw):
    with SqlLedgerStore(url) as store:
        return run_ai_paper(cfg, store, progress=False, **kw)


def test_paper_resume_gives_the_identical_ledger_and_decision_log(mock_llm, tmp_path, ai_db_url) -> None:
    cfg = ai_config(mock_llm.url, tmp_path, start="2020-01-01", end="2020-05-31", cache="read_write")
    a = cfg.model_copy(update={"trader": cfg.trader.model_copy(update={"id": "ai-a"})})
    b = cfg.model_copy(update={"trader": cfg.trader.model_copy(update={"id": "ai-b"})})
    whole = _paper(ai_db_url, a)
    assert whole.cycles > 10 and whole.paper.fills > 0
    part = _paper(ai_db_url, b, stop_after=41)
    rest = _paper(ai_db_url, b, resume=True)
    assert part.paper.end_index == 40 and rest.paper.start_index == 41
    assert rest.usage["calls"] == 0, "after resume the trader asks exactly the prompts of the whole run"
    sa, sb = ledger_state(ai_db_url, "ai-a"), ledger_state(ai_db_url, "ai-b")
    # ids carry the trader id; everything else must be equal
    ren = json.loads(json.dumps(sb, default=str).replace("ai-b", "ai-a"))
    assert json.loads(json.dumps(sa, default=str)) == ren
    with SqlLedgerStore(ai_db_url) as store:
        assert check_ledger(store, "ai-b") == []
        rows = DecisionLog(store).rows("ai-b")
        assert [r.cycle for r in rows] == list(range(1, len(rows) + 1))
        first = rows[0]
        msgs = DecisionLog(store).prompt(first.calls[0]["prompt_hash"])
        assert msgs is not None and msgs[1]["content"].startswith("<market_data>")


def test_a_replayed_cycle_replaces_its_row(mock_llm, tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'l.db'}"
    cfg = ai_config(mock_llm.url, tmp_path, start="2020-01-01", end="2020-03-31", cache="read_write")
    _paper(url, cfg, stop_after=20)
    with SqlLedgerStore(url) as store:
        # a crash after the cycle's log row, before its slice was marked done: the snapshot says slice 17
        n_before = len(DecisionLog(store).rows("t-test"))
        with store._write() as conn:
            conn.exec_driver_sql("DELETE FROM equity_snapshots WHERE cursor > 17")
    _paper(url, cfg, resume=True)
    with SqlLedgerStore(url) as store:
        cycles = [r.cycle for r in DecisionLog(store).rows("t-test")]
        assert len(cycles) == len(set(cycles)) and len(cycles) > n_before
        assert check_ledger(store, "t-test") == []


MODES = ["malformed_json", "prose_json", "single_object", "unknown_symbol", "odd_lot", "off_tick",
         "beyond_cash", "sell_without_position", "sell_today_buy", "timeout", "rate_limit", "server_error",
         "truncated", "empty", "echo_key", "always_malformed"]


@pytest.mark.parametrize("mode", MODES)
def test_failure_modes_in_paper_leave_a_clean_ledger_and_a_log(mock_llm, tmp_path, monkeypatch, mode) -> None:
    monkeypatch.setenv("NOFX_TEST_KEY", "sk-secret-key-123456")
    url = f"sqlite:///{tmp_path / 'l.db'}"
    cfg = ai_config(mock_llm.url, tmp_path, start="2020-01-01", end="2020-02-14", decision_every=2,
                    model=f"mock-momentum+{mode}", api_key_env="NOFX_TEST_KEY",
                    timeout_s=0.3 if mode == "timeout" else 10,
                    max_retries=0 if mode == "timeout" else 1,
                    breaker_failures=100)
    res = _paper(url, cfg)
    assert res.cycles > 5
    with SqlLedgerStore(url) as store:
        assert check_ledger(store, "t-test") == []
        rows = DecisionLog(store).rows("t-test")
        assert len(rows) == res.cycles
        with store._read() as conn:
            dump = json.dumps([list(r) for r in conn.exec_driver_sql("SELECT * FROM ai_decisions")], default=str)
            dump += json.dumps([list(r) for r in conn.exec_driver_sql("SELECT * FROM ai_prompts")], default=str)
    assert "sk-secret-key-123456" not in dump
    statuses = {r.status for r in rows}
    if mode in ("timeout", "rate_limit", "server_error", "echo_key", "always_malformed"):
        assert statuses == {"failed"} and all(r.error for r in rows)
        assert rows[-1].mode == "reduce_only"
    elif mode in ("malformed_json", "truncated", "empty"):
        assert statuses == {"repaired"}
    else:
        assert statuses == {"ok"}


def test_a_sell_superseded_by_a_stop_exit_is_logged_as_such(mock_llm, tmp_path) -> None:
    # on 2020-03-13 the model closes two positions whose stops fire on the same bar: only the stops sell
    url = f"sqlite:///{tmp_path / 'l.db'}"
    cfg = ai_config(mock_llm.url, tmp_path, start="2020-01-01", end="2020-03-20", symbols="all",
                    decision_every=5, limits={"max_positions": 5, "max_position_weight": 0.2,
                                              "min_confidence": 0.5, "min_reward_risk": 1.5,
                                              "daily_loss_pause": 0.05, "max_orders_per_cycle": 8})
    _paper(url, cfg)
    with SqlLedgerStore(url) as store:
        log = DecisionLog(store)
        rows = log.rows("t-test")
        sent = [o["order"]["client_order_id"] for r in rows for o in r.outcomes if o.get("order")]
        known = log.engine_outcomes("t-test", sent)
        assert set(sent) == set(known), "every order a logged decision claims was sent is in the ledger"
        superseded = [o for r in rows for o in r.outcomes if o["reason"].startswith("superseded")]
        assert superseded and all(o["order"] is None for o in superseded)


def test_a_crash_between_a_slices_writes_and_its_snapshot_resumes_to_the_same_ledger(mock_llm, tmp_path) -> None:
    # the slice's orders (and fills) are in the ledger but the slice is not marked done: the resumed run
    # replays it. At a decision slice the logged cycle is replayed (never asked again: the prompt would
    # see the reserved cash of its own orders); at the next slice the buys' fills arm their stops from
    # the ledger (their on_fill will not come again); open market buys reserve cash as submit did.
    from tests.live.ledger_tables import first_difference, stored_tables

    cfg = ai_config(mock_llm.url, tmp_path, start="2020-01-01", end="2020-05-31", cache="read_write")
    whole = f"sqlite:///{tmp_path / 'whole.db'}"
    run_ai_backtest(cfg)  # fills the cache: every run below answers from it (deterministic call records)
    _paper(whole, cfg)
    with SqlLedgerStore(whole) as store:
        rows = DecisionLog(store).rows("t-test")
    busy = next(r.cursor for r in rows if sum(1 for o in r.outcomes if o.get("order")) >= 3)
    want = stored_tables(whole)
    for crash in (busy, busy + 1):
        url = f"sqlite:///{tmp_path / f'crash{crash}.db'}"
        _paper(url, cfg, stop_after=crash + 1)
        with SqlLedgerStore(url) as store, store._write() as conn:
            conn.exec_driver_sql(f"DELETE FROM equity_snapshots WHERE cursor >= {crash}")
        rest = _paper(url, cfg, resume=True)
        assert rest.paper.start_index == crash and rest.usage["calls"] == 0
        diff = first_difference(stored_tables(url), want)
        assert diff is None, f"crash at slice {crash}: {diff}"
