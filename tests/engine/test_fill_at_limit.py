"""Fills at a price limit (cn_daily, real days found by scanning the file): a buy whose execution price is
the limit-up price, or a sell at the limit-down price, is refused by default (VENUE_AT_LIMIT_UP/DOWN, as
RQAlpha and Qlib do) although the bar was not locked; ``at_limit = "fraction"`` fills at most that share
of the bar's volume instead. The backtest's bar exchange and the paper order book apply it identically."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from nofx.backtest.config import BacktestConfig
from nofx.backtest.runner import run_backtest
from nofx.data.bars import read_bars
from nofx.domain.enums import Side
from nofx.domain.instruments import parse_symbol
from nofx.domain.orders import OrderRequest
from nofx.live.paper import PaperSession
from nofx.markets.cn import ChinaRules
from nofx.persistence.store import SqlLedgerStore
from tests.backtest.scripted import Scripted

D = Decimal

# (symbol, day): found by scanning cn_daily 2019-2021 for bars that were not locked (they traded below
# limit-up / above limit-down) but whose close (open) was the limit price; every board and ST stocks.
CLOSE_AT_UP = [("603126.SH", "2019-01-11"),  # the example: preclose 5.33, limit-up 5.86, low 5.28
               ("600006.SH", "2019-03-22"), ("000001.SZ", "2020-07-06"), ("300001.SZ", "2019-03-11"),
               ("300013.SZ", "2020-09-02"), ("688011.SH", "2019-08-05"), ("000408.SZ", "2020-05-21")]
CLOSE_AT_DOWN = [("600006.SH", "2020-12-24"), ("000032.SZ", "2020-08-04"), ("300001.SZ", "2019-05-06"),
                 ("300116.SZ", "2020-09-10"), ("688008.SH", "2020-02-03"), ("600149.SH", "2019-03-08")]
OPEN_AT_UP = [("600006.SH", "2019-04-12"), ("000055.SZ", "2021-10-25"), ("300013.SZ", "2019-05-15"),
              ("300139.SZ", "2021-10-27"), ("600149.SH", "2019-03-22")]
OPEN_AT_DOWN = [("600000.SH", "2020-02-03"), ("000032.SZ", "2020-02-04"), ("688166.SH", "2020-03-02"),
                ("300816.SZ", "2020-09-24"), ("000409.SZ", "2019-01-21")]
ALL = CLOSE_AT_UP + CLOSE_AT_DOWN + OPEN_AT_UP + OPEN_AT_DOWN


@pytest.fixture(scope="module")
def bars(cn_daily_path):
    return read_bars(cn_daily_path, symbols=sorted({s for s, _ in ALL}), start="2018-12-01", end="2021-12-31")


def _row(bars, sym, day):
    return bars[(bars.symbol == sym) & (bars.datetime == pd.Timestamp(day))].iloc[0]


def _days_before(bars, sym, day, n):
    days = np.unique(bars.loc[(bars.symbol == sym) & (bars.trade_status == 1), "datetime"].to_numpy())
    return [str(pd.Timestamp(d).date()) for d in days[days < np.datetime64(day)][-n:]]


def _limits(bars, sym, day):
    r = _row(bars, sym, day)
    lim = ChinaRules().price_limits(parse_symbol(sym), pd.Timestamp(day).date(), D(repr(float(r.preclose))),
                                    bool(r.is_st), None)
    return r, float(lim.lower), float(lim.upper)


def _qty(sym):
    return 200 if sym.startswith("688") else 100


def run_case(bars, sym, day, side, fill, **cfg):
    """One order of ``side`` that executes on ``day`` at the close (``fill=close``) or at the open
    (``next_open``); a sell first buys the shares a day (two for next_open) earlier."""
    q = _qty(sym)
    if fill == "close":
        hold, decide = _days_before(bars, sym, day, 1)[0], day
    else:
        hold, decide = _days_before(bars, sym, day, 2)
    script = {decide: [OrderRequest(sym, side, q)]}
    if side is Side.SELL:
        script.setdefault(hold, []).insert(0, OrderRequest(sym, Side.BUY, q))
    s = Scripted(script)
    r = run_backtest(bars, s, BacktestConfig(start=min(script), end=day, rules="cn", fill=fill, **cfg),
                     symbols=[sym])
    return r


@pytest.mark.parametrize("sym,day", CLOSE_AT_UP)
def test_buy_at_the_close_at_limit_up_is_refused(bars, sym, day):
    row, _, up = _limits(bars, sym, day)
    assert row.close == up and row.low < up  # at the limit, not locked
    r = run_case(bars, sym, day, Side.BUY, "close")
    assert r.trades == []
    assert [(x.code, x.ts.date().isoformat()) for x in r.rejections] == [("VENUE_AT_LIMIT_UP", day)]
    assert f"limit-up price {D(repr(up)).quantize(D('0.01'))}" in r.rejections[0].reason


@pytest.mark.parametrize("sym,day", CLOSE_AT_DOWN)
def test_sell_at_the_close_at_limit_down_is_refused(bars, sym, day):
    row, down, _ = _limits(bars, sym, day)
    assert row.close == down and row.high > down
    r = run_case(bars, sym, day, Side.SELL, "close")
    assert [t.side for t in r.trades] == [Side.BUY]
    assert [(x.code, x.ts.date().isoformat()) for x in r.rejections] == [("VENUE_AT_LIMIT_DOWN", day)]


@pytest.mark.parametrize("sym,day", OPEN_AT_UP)
def test_buy_at_the_open_at_limit_up_is_refused(bars, sym, day):
    row, _, up = _limits(bars, sym, day)
    assert row.open == up and row.low < up
    r = run_case(bars, sym, day, Side.BUY, "next_open")
    assert r.trades == [] and [x.code for x in r.rejections] == ["VENUE_AT_LIMIT_UP"]


@pytest.mark.parametrize("sym,day", OPEN_AT_DOWN)
def test_sell_at_the_open_at_limit_down_is_refused(bars, sym, day):
    row, down, _ = _limits(bars, sym, day)
    assert row.open == down and row.high > down
    r = run_case(bars, sym, day, Side.SELL, "next_open")
    assert [t.side for t in r.trades] == [Side.BUY] and [x.code for x in r.rejections] == ["VENUE_AT_LIMIT_DOWN"]


def test_fraction_setting_fills_a_share_of_the_bar_volume_at_the_limit(bars):
    sym, day = "603126.SH", "2019-01-11"
    vol = float(_row(bars, sym, day).volume)
    want = int(vol) // 100 * 100  # more than any cap allows
    s = Scripted({day: [OrderRequest(sym, Side.BUY, want)]})
    r = run_backtest(bars, s, BacktestConfig(start=day, end=day, rules="cn", fill="close", cash=10**9,
                                             at_limit="fraction", at_limit_fraction=0.02), symbols=[sym])
    assert [(t.quantity, t.price) for t in r.trades] == [(int(vol * 0.02) // 100 * 100, D("5.86"))]
    assert [x.code for x in r.rejections] == ["VENUE_EXPIRED"] and "at most 2%" in r.rejections[0].reason


def _paper(bars, script, cfg, tmp_path, name):
    s = Scripted(script)
    with SqlLedgerStore(f"sqlite:///{tmp_path / name}.db") as store:
        PaperSession(bars, s, cfg, store, name, symbols=sorted({o.symbol for v in script.values() for o in v}),
                     corporate_actions=False).run(progress=False)
        fills = [(f.symbol, f.side, f.quantity, f.price, f.ts.date()) for f in store.all_fills(name)]
    return fills, [c for c, _ in s.refusals]


@pytest.mark.parametrize("at_limit", [{}, {"at_limit": "fraction", "at_limit_fraction": 0.01}])
def test_backtest_and_paper_venues_apply_the_setting_identically(bars, tmp_path, at_limit):
    # orders decided the day before execute at the next open in both venues; each opened at its limit
    script: dict[str, list[OrderRequest]] = {}
    for sym, day in OPEN_AT_UP[:3]:
        want = int(float(_row(bars, sym, day).volume)) // 100 * 100
        script.setdefault(_days_before(bars, sym, day, 1)[0], []).append(OrderRequest(sym, Side.BUY, want))
    start, end = min(script), max(d for _, d in OPEN_AT_UP[:3])
    cfg = BacktestConfig(start=start, end=end, rules="cn", cash=10**10, corporate_actions=False, **at_limit)
    s = Scripted(script)
    syms = sorted({s for s, _ in OPEN_AT_UP[:3]})
    r = run_backtest(bars, s, cfg, symbols=syms)
    back = [(f.symbol, f.side, f.quantity, f.price, f.ts.date()) for f in r.trades]
    paper, paper_codes = _paper(bars, script, cfg, tmp_path, "p")
    assert sorted(back) == sorted(paper)
    assert sorted(c for c, _ in s.refusals) == sorted(paper_codes)
    if at_limit:
        assert len(back) == 3 and all(q <= 0.01 * float(_row(bars, sym, str(d)).volume) for sym, _, q, _, d in back)
    else:
        assert back == [] and paper_codes == ["VENUE_AT_LIMIT_UP"] * 3


def test_the_setting_is_validated():
    with pytest.raises(ValidationError, match="needs at_limit_fraction"):
        BacktestConfig(at_limit="fraction")
    with pytest.raises(ValidationError, match="only with at_limit = 'fraction'"):
        BacktestConfig(at_limit_fraction=0.1)
    with pytest.raises(ValidationError):
        BacktestConfig(at_limit="fraction", at_limit_fraction=1.5)
    out = subprocess.run([sys.executable, "-m", "nofx.cli.main", "backtest", "--strategy", "dual_ma", "--symbols",
                          "600519.SH", "--at-limit", "fraction", "--no-progress"], capture_output=True, text=True)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "needs at_limit_fraction" in out.stderr and len(out.stderr.strip().splitlines()) == 1
