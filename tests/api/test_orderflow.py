"""The API's group commit (nofx/api/orderflow.py) on a real SQLite ledger with real paper sessions: ops
that arrive while a batch commits share the next transaction; a trader whose events cannot be stored
fails alone (its ops get OpFailed, the supervisor is told) while the others in the batch are committed."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest

import nofx.strategies.builtin  # noqa: F401
from nofx.api.orderflow import Op, OpFailed, OrderFlow, StagingStore
from nofx.backtest.config import BacktestConfig
from nofx.data.bars import read_bars
from nofx.data.bundled import bundled_bars_path
from nofx.domain.enums import OrderType, Side, TimeInForce
from nofx.domain.events import OrderAccepted
from nofx.domain.orders import OrderRequest
from nofx.live.paper import PaperSession
from nofx.persistence.store import SqlLedgerStore
from nofx.strategies.registry import REGISTRY

SYMBOL = "000001.SZ"


@pytest.fixture()
def sessions(tmp_path):  # type: ignore[no-untyped-def]
    store = SqlLedgerStore(f"sqlite:///{tmp_path / 'flow.db'}")
    bt = BacktestConfig.model_validate({"cash": "10000000"})
    bars = read_bars(bundled_bars_path(), symbols=[SYMBOL], start=bt.start, end=bt.end)
    stop = threading.Event()
    out, threads = [], []
    for tid in ("flow-a", "flow-b"):
        s = PaperSession(bars, REGISTRY.create("buy_and_hold", {"percent": 0.0001}), bt, StagingStore(store), tid,
                         symbols=[SYMBOL], speed=1, group_commit=False)
        th = threading.Thread(target=s.run, kwargs={"progress": False, "stop": stop}, daemon=True)
        th.start()
        assert s.ready.wait(30)
        deadline = time.monotonic() + 30
        while s.cursor < 0:  # its first slice done, it waits a (paced) day: its lock is free for the test
            assert time.monotonic() < deadline
            time.sleep(0.01)
        out.append(s)
        threads.append(th)
    yield store, out
    stop.set()
    for th in threads:
        th.join(10)
    store.close()


def _buy(cid: str) -> OrderRequest:
    return OrderRequest(SYMBOL, Side.BUY, 100, OrderType.LIMIT, Decimal("10.00"), TimeInForce.DAY, cid, "api")


def test_ops_arriving_together_share_one_transaction_and_a_bad_trader_fails_alone(sessions) -> None:  # type: ignore[no-untyped-def]
    store, (a, b) = sessions
    failed: list[str] = []
    flow = OrderFlow(store, failed.append)
    try:
        gate, running = threading.Event(), threading.Event()

        def hold(engine) -> bool:  # type: ignore[no-untyped-def]
            running.set()
            return gate.wait(10)

        first = Op("flow-a", a, hold)  # holds the flow thread while the others queue up
        flow.submit(first)
        assert running.wait(10)
        ops = [Op("flow-a", a, lambda engine, k=k: engine.submit(_buy(f"a-{k}")).order_id) for k in range(5)]
        # trader b's events do not apply to its ledger (an order it never submitted): they cannot be stored
        bad = Op("flow-b", b, lambda engine: b.store.append("flow-b", [OrderAccepted(engine.market.now(), "flow-b-O999")]))
        for op in [*ops, bad]:
            flow.submit(op)
        gate.set()
        ids = [op.future.result(10) for op in ops]  # type: ignore[union-attr]
        with pytest.raises(OpFailed):
            bad.future.result(10)  # type: ignore[union-attr]
        assert first.future.result(10) is True  # type: ignore[union-attr]
        assert flow.transactions == 2  # the first op alone, then the five orders and the bad op together
        assert failed == ["flow-b"]
        stored = {o.order_id for o in store.list_orders("flow-a", limit=100).items}
        assert set(ids) <= stored  # committed although trader b's events failed in the same batch
    finally:
        flow.close()
