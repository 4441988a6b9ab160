"""The arena on Hong Kong daily bars and on A-share 15-minute bars (real shared data; skips without it)."""

from __future__ import annotations

import pandas as pd

from nofx.arena.competition import run_competition
from nofx.arena.config import competition_from_mapping
from nofx.domain.instruments import parse_symbol
from nofx.persistence.store import SqlLedgerStore
from tests.arena.conftest import arena_state


def _cfg(url: str, tmp, path, symbols, start, end, rules, **ai):  # type: ignore[no-untyped-def]
    return competition_from_mapping({
        "competition": {"id": "m", "bootstrap": 200},
        "ai_defaults": {"base_url": url, "model": "mock-momentum", "cache_dir": str(tmp / "cache"),
                        "max_retries": 1, "timeout_s": 10, **ai},
        "ai": [{"name": "mom"}, {"name": "con", "style": "contrarian: buy oversold"}],
        "baselines": [{"name": "dma", "strategy": "dual_ma", "params": {"target_percent": 0.2}},
                      {"name": "bh", "strategy": "buy_and_hold"}],
        "data": {"path": str(path), "symbols": symbols},
        "backtest": {"start": start, "end": end, "rules": rules, "warmup_bars": 30},
    })


def test_hong_kong_daily(mock_llm, tmp_path, hk_daily_path) -> None:
    url = f"sqlite:///{tmp_path / 'hk.db'}"
    cfg = _cfg(mock_llm.url, tmp_path, hk_daily_path, ["0700.HK", "0005.HK", "0941.HK", "2318.HK", "0388.HK"],
               "2021-03-01", "2021-05-31", "hk", decision_every=3)
    with SqlLedgerStore(url) as store:
        res = run_competition(cfg, store, live=False)
    lots = {"0700.HK": 100, "0005.HK": 400, "0941.HK": 500, "2318.HK": 500, "0388.HK": 100}
    st = arena_state(url, "m")
    fills = [(tid, o) for tid, s in st.items() for o in s["orders"] if o[6]]
    assert {tid for tid, _ in fills} >= {"m.mom.0", "m.bh.0"}
    for _, (_, _, sym, side, qty, *_rest) in fills:
        assert qty % lots[sym] == 0 or side == "sell"  # board lots (odd lots only to sell out)
    assert {r["name"] for r in res.board.rows} == {"mom", "con", "dma", "bh"}
    assert len(res.outcome.seats[0].seen) == len(res.board.traders[0].equity)


def test_a_share_15_minute_bars_decide_at_their_times(mock_llm, tmp_path, cn_15min_path) -> None:
    url = f"sqlite:///{tmp_path / 'm15.db'}"
    cfg = _cfg(mock_llm.url, tmp_path, cn_15min_path, ["600036.SH", "000001.SZ", "600000.SH", "600016.SH"],
               "2025-03-03", "2025-03-14", "cn", decision_times=["10:00", "14:30"])
    with SqlLedgerStore(url) as store:
        res = run_competition(cfg, store, live=False)
    st = arena_state(url, "m")
    ts_of = {cur: ts for ts, _, cur in st["m.bh.0"]["equity"]}
    times = {pd.Timestamp(ts_of[cur]).strftime("%H:%M") for _, cur, *_ in st["m.mom.0"]["decisions"]}
    assert times == {"10:00", "14:30"}
    assert len(st["m.mom.0"]["decisions"]) == 2 * 10  # two a day over ten trading days
    assert len(st["m.bh.0"]["equity"]) == 16 * 10  # a snapshot per 15-minute bar
    assert all(parse_symbol(r[2]).market.value == "cn" for s in st.values() for r in s["orders"])
    assert res.board.traders[0].metrics["periods_per_year"] > 3000  # annualised by bars per day
