"""The live leaderboard (plain lines off a terminal, a rich table on one) and ml_topk as a baseline."""

from __future__ import annotations

import io

from nofx.arena.competition import run_competition
from nofx.data.bars import read_bars
from nofx.data.bundled import bundled_bars_path
from nofx.persistence.store import SqlLedgerStore
from tests.arena.conftest import SYMBOLS, competition


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _momentum_preds(path) -> None:  # type: ignore[no-untyped-def]
    """20-day momentum as ml_topk's scores (a score at t uses closes up to t)."""
    bars = read_bars(bundled_bars_path(), symbols=list(SYMBOLS))
    close = bars.pivot(index="datetime", columns="symbol", values="close")
    score = (close / close.shift(20) - 1).stack().rename("score").reset_index()
    score.dropna().to_parquet(path)


def test_live_board_lines_and_ml_topk_baseline(mock_llm, tmp_path, monkeypatch) -> None:
    preds = tmp_path / "preds.parquet"
    _momentum_preds(preds)
    cfg = competition(mock_llm.url, tmp_path, end="2020-02-28", baselines=[
        {"name": "topk", "strategy": "ml_topk", "params": {"preds": str(preds), "topk": 3, "n_drop": 1}},
        {"name": "bh", "strategy": "buy_and_hold"}])
    plain = io.StringIO()
    with SqlLedgerStore(f"sqlite:///{tmp_path / 'a.db'}") as store:
        res = run_competition(cfg, store, live=True, stream=plain)
    lines = plain.getvalue().splitlines()
    n = res.outcome.times.steps
    assert lines and f"step {n}/{n}" in lines[-1]
    assert all(name in lines[-1] for name in ("mom", "con", "topk", "bh"))
    topk = next(t for t in res.board.traders if t.name == "topk")
    assert topk.metrics["n_trades"] > 0
    monkeypatch.setenv("COLUMNS", "200")  # a wide terminal
    tty = _Tty()
    cfg2 = cfg.model_copy(update={"competition": cfg.competition.model_copy(update={"id": "t2"})})
    with SqlLedgerStore(f"sqlite:///{tmp_path / 'b.db'}") as store:
        run_competition(cfg2, store, live=True, stream=tty)
    out = tty.getvalue()
    for header in ("return", "excess", "Sharpe", "max DD", "win", "trades", "fees", "tokens", "cost", "invalid",
                   "refusals"):
        assert header in out
    assert "topk" in out
