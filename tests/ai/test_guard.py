"""Contamination guard on a real run (bundled A-share data, the whole universe, the mock model's policy with
scripted oversized and off-tick orders so that cuts and their reasons reach later prompts): no real
symbol, date, price or amount of money appears in any message the model is sent, and its decisions are
mapped back to real symbols and prices on the tick grid."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pandas as pd
import pytest

from nofx.ai.mock_server import reply_text
from nofx.backtest.config import BacktestConfig
from nofx.backtest.runner import run_backtest
from nofx.data.bars import read_bars
from nofx.data.bundled import bundled_bars_path
from nofx.domain.instruments import parse_symbol
from nofx.strategies.ai.config import AILimits, AITraderParams
from nofx.strategies.ai.cycle import ChatRequest, ModelReply
from nofx.strategies.ai.trader import AITrader

_NUM = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


class Recorder(AITrader):
    """Keeps every message sent and the real account at each cycle."""

    def __init__(self, *a, **kw) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*a, **kw)
        self.sent: list[tuple[int, ChatRequest]] = []
        self.accounts: list[tuple[float, float]] = []
        self.responder = self._answer

    def begin_cycle(self, view, portfolio):  # type: ignore[no-untyped-def]
        cycle = super().begin_cycle(view, portfolio)
        if cycle is not None:
            values = [float(p.quantity) * float(view.current("close")[view.symbols.index(s)])
                      for s, p in portfolio.positions().items() if p.quantity]
            self.accounts.append((float(portfolio.cash), portfolio.equity(), *values))
        return cycle

    def _answer(self, req: ChatRequest) -> ModelReply:
        n = self.memory.cycle
        mode = "beyond_cash" if n % 7 == 3 else "off_tick" if n % 11 == 5 else "ok"
        self.sent.append((n, req))
        return ModelReply(reply_text(mode, req.messages[0]["content"], list(req.messages), "mock-momentum"))


@pytest.fixture(scope="module")
def run() -> tuple[Recorder, pd.DataFrame, object]:
    bars = read_bars(bundled_bars_path(), start="2019-11-01", end="2020-12-31")
    limits = AILimits(max_position_value=Decimal(250_000), max_positions=6)
    trader = Recorder(AITraderParams(decision_every=5, guard=True, limits=limits), "guarded")
    res = run_backtest(bars, trader, BacktestConfig(start="2020-01-01", end="2020-12-31", rules="cn",
                                                    warmup_bars=30))
    return trader, bars, res


def test_no_real_symbol_date_price_or_money_reaches_the_model(run) -> None:
    trader, bars, res = run
    assert len(trader.sent) > 40 and res.trades, "a real run: trades, cuts and their reasons"
    texts = [m["content"] for _, req in trader.sent for m in req.messages]
    everything = "\n".join(dict.fromkeys(texts))
    # cuts with money and prices in their reasons were shown back to the model
    assert "max position value" in everything
    # symbols and dates
    for s in trader._tradable:
        assert s not in everything and s.split(".")[0] not in everything, s
    assert not re.search(r"(19|20)\d\d-\d\d-\d\d", everything)
    # money: the real cash, equity and position values of every cycle, and the initial cash
    shown = {float(x) for x in _NUM.findall(everything)}
    real_money = {round(v, 2) for acct in trader.accounts for v in acct} | {1_000_000.0}
    assert not {round(x, 2) for x in shown} & {v for v in real_money if v >= 1000}
    # prices: no value shown for a symbol equals a real price of that symbol on the days the prompt
    # covers (a rescaled price may equal a real price of another time by chance: that reveals nothing)
    g = trader._g
    assert g is not None and all(abs(x - 1.0) > 1e-6 for x in g.scale.values())
    by_sym = {s: b.set_index("datetime")[["open", "high", "low", "close"]].round(4)
              for s, b in bars.groupby("symbol") if s in trader._tradable}
    rows = 0
    for _, req in trader.sent:
        doc = json.loads(req.messages[1]["content"].split("\n")[1])
        day = pd.Timestamp(g.origin) + pd.Timedelta(days=int(doc["account"]["time"].split()[1]))
        cols = doc["market"]["columns"]

        def window(sym: str) -> set[float]:
            px = by_sym[sym].loc[:day].tail(trader.params.history_bars + 1)
            return set(px.to_numpy().ravel())

        for row in doc["market"]["rows"]:
            sym = g.symbol_of[row[0]]
            r = dict(zip(cols, row))
            vals = {r["close"], r["ma5"], r["ma20"], r["band_lo"], r["band_hi"], *r["closes"]} - {None}
            assert not vals & window(sym), (sym, day, vals & window(sym))
            rows += 1
        for p in doc["account"]["positions"]:
            sym = g.symbol_of[p["symbol"]]
            assert not {p["avg_cost"], p["last"], p.get("stop_loss")} & window(sym)
    assert rows > 1000


def test_decisions_come_back_in_real_symbols_and_tick_prices(run) -> None:
    trader, _, res = run
    orders = [o for rec in trader.records for o in rec.outcomes if o.request is not None]
    assert orders and all(o.symbol in trader._tradable for o in orders)
    limits = [o.request for o in orders if o.request.limit_price is not None]
    assert limits, "the scripted off-tick limit orders were sent"
    rules = trader._rules
    for req in limits:
        day = pd.Timestamp("2020-06-01").date()
        assert rules.price_on_tick(parse_symbol(req.symbol), day, req.limit_price), req
    # mapped back and snapped: the guard itself causes no off-tick cut of a limit price
    cuts = [o.reason for rec in trader.records for o in rec.outcomes if "off the tick grid" in o.reason]
    assert not cuts
    # a cut with an amount of money is shown to the model in its units, the log keeps real units
    shown = [o for rec in trader.records for o in rec.outcomes if o.shown is not None]
    assert shown and all(o.shown != o.reason for o in shown)
    assert any("max position value" in o.shown for o in shown) and any("cash" in o.shown for o in shown)
    for rec in trader.records:
        for o in rec.outcomes:
            stop = trader.memory.stops.get(o.symbol)
            if o.request is not None and stop and stop.get("stop_loss"):
                assert rules.price_on_tick(parse_symbol(o.symbol), pd.Timestamp("2020-06-01").date(),
                                           Decimal(stop["stop_loss"]))
