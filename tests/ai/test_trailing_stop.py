"""Engine-managed trailing stops on the bundled real data: one decision cycle buys with a 6% trailing stop,
then only the engine acts. Each stop's high-water mark ratchets with the bars' highs and the exit goes
through the one order path (risk, OMS, venue, ledger), in the backtest and on the paper engine, without
another model call. The expected trigger day and high-water mark are computed here from the bars."""

from __future__ import annotations

import re
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from nofx.ai.backtest import run_ai_backtest
from nofx.ai.paper import run_ai_paper
from nofx.data.bars import read_bars
from nofx.data.bundled import bundled_bars_path
from nofx.persistence.decisions import DecisionLog
from nofx.persistence.ledger_check import check_ledger
from nofx.persistence.store import SqlLedgerStore
from tests.ai.conftest import ai_config

PCT = 0.06  # the mock's trailing_stop_pct
START, END = "2020-01-01", "2020-12-31"


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return read_bars(bundled_bars_path(), start=START, end=END)


def _config(url: str, tmp):  # one decision cycle (the first bar), then only the engine
    return ai_config(url, tmp, start=START, end=END, decision_every=10_000, model="mock-momentum+trailing_stop")


def expected_exit(bars: pd.DataFrame, symbol: str, fill_day: pd.Timestamp, fill_price: Decimal
                  ) -> tuple[pd.Timestamp, float, pd.Timestamp]:
    """(trigger day, high-water mark then, day the exit fills): the high-water mark starts at the fill
    price and rises with each bar's high; a bar whose low reaches mark x (1 - PCT) triggers; the exit is
    a market order filled at the next bar's open (T+1: not before the day after the buy)."""
    b = bars[(bars["symbol"] == symbol) & (bars["datetime"] >= fill_day)].sort_values("datetime")
    days = np.sort(bars["datetime"].unique())
    hw = float(fill_price)
    for row in b.itertuples():
        if row.low != row.low or row.trade_status == 0:
            continue
        if row.low <= hw * (1 - PCT):
            k = int(np.searchsorted(days, np.datetime64(row.datetime)))
            sell_from = k + 1 if row.datetime > fill_day else k + 2  # the order's slice, fill at the next
            return row.datetime, hw, pd.Timestamp(days[sell_from])
        hw = max(hw, float(row.high))
    raise AssertionError(f"{symbol}: the trailing stop never triggers in the data")


def _check_exits(bars, buys, sells, fired) -> None:
    """``buys``/``sells``: {symbol: (day, price)}; ``fired``: {symbol: reason text}."""
    assert buys and set(sells) == set(buys), "every position bought is exited by its stop"
    ratcheted = 0
    for sym, (day, price) in buys.items():
        trigger_day, hw, exit_day = expected_exit(bars, sym, day, price)
        assert sells[sym][0] == exit_day, (sym, sells[sym], exit_day)
        m = re.match(r"trailing stop 6\.0% from high ([\d.]+) hit \(low ([\d.]+)\)", fired[sym])
        assert m, fired[sym]
        assert float(m.group(1)) == pytest.approx(hw, abs=1e-9)
        if hw > float(price):
            ratcheted += 1
            # the level that fired is above where a stop fixed at the entry would stand
            assert float(m.group(2)) > float(price) * (1 - PCT)
    assert ratcheted >= 2, "the marks rose with the price before the exits"


def test_trailing_stop_ratchets_and_fires_without_the_model_in_the_backtest(mock_llm, tmp_path, bars) -> None:
    before = len(mock_llm.state.served)
    res = run_ai_backtest(_config(mock_llm.url, tmp_path))
    assert len(res.decisions) == 1 and len(mock_llm.state.served) - before == 1, "one model call in the year"
    assert all(d.get("trailing_stop_pct") == PCT for d in res.decisions[0]["decisions"])
    trades = res.result.trades
    buys = {f.symbol: (pd.Timestamp(f.ts), f.price) for f in trades if f.side.value == "buy"}
    sells = {f.symbol: (pd.Timestamp(f.ts), f.price) for f in trades if f.side.value == "sell"}
    fired = {}
    for msg in res.result.messages:
        m = re.match(r"stop fired at slice \d+: (\S+) (.*)", msg)
        if m:
            fired[m.group(1)] = m.group(2)
    _check_exits(bars, buys, sells, fired)


def test_trailing_stop_fires_on_the_paper_engine_through_the_ledger(mock_llm, tmp_path, bars) -> None:
    url = f"sqlite:///{tmp_path / 'l.db'}"
    with SqlLedgerStore(url) as store:
        run_ai_paper(_config(mock_llm.url, tmp_path), store, progress=False)
        assert len(DecisionLog(store).rows("t-test")) == 1
        assert check_ledger(store, "t-test") == []
        orders = {o.order_id: o for o in store.list_orders("t-test", limit=1000).items}
        fills = store.all_fills("t-test")
    buys = {f.symbol: (pd.Timestamp(f.ts).normalize(), f.price) for f in fills if f.side.value == "buy"}
    sells = {f.symbol: (pd.Timestamp(f.ts).normalize(), f.price) for f in fills if f.side.value == "sell"}
    stop_orders = {o.symbol: o for o in orders.values() if ":stop:" in (o.client_order_id or "")}
    assert set(stop_orders) == set(sells), "every exit is an engine stop order in the ledger"
    assert all(o.status.value == "filled" for o in stop_orders.values())
    _check_exits(bars, buys, sells, {s: o.tag for s, o in stop_orders.items()})
