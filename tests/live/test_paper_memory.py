"""A long paper run keeps bounded history in memory (the ledger has it all), and its summary still counts
everything the run did."""

from __future__ import annotations

from pathlib import Path

from nofx.backtest.config import BacktestConfig
from nofx.data.bundled import bundled_bars_path
from nofx.data.bars import read_bars
from nofx.domain.enums import Side
from nofx.domain.orders import OrderRequest
from nofx.live.paper import PaperSession
from nofx.persistence.store import SqlLedgerStore
from tests.backtest.scripted import Scripted


def test_summary_counts_every_refusal_beyond_the_refusals_kept_in_memory(tmp_path: Path) -> None:
    bars = read_bars(bundled_bars_path())
    days = sorted(bars.loc[bars["symbol"] == "600519.SH", "datetime"].unique())[:30]
    # a sell of shares never bought: refused on every one of 30 slices (no short selling on A-shares)
    script = {str(d): [OrderRequest("600519.SH", Side.SELL, 100)] for d in days}
    with SqlLedgerStore(f"sqlite:///{tmp_path / 'l.db'}") as store:
        session = PaperSession(bars, Scripted(script), BacktestConfig(), store, "t", symbols=["600519.SH"])
        session.engine.bound_history(keep=5)  # as a long run keeps only recent refusals
        summary = session.run(progress=False, stop_after=40)
        denied = [e for e in store.events("t") if e.kind in ("order_denied", "order_rejected")]
    assert len(session.engine.rejections) == 5
    assert summary.refused == len(denied) == 30  # it said 5 when counted on the kept refusals
