"""The day-bounded memo of rule answers: a long run keeps the answers of the last few days only."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D

import pytest

from nofx.domain.enums import Side
from nofx.domain.instruments import parse_symbol
from nofx.markets.cn import ChinaRules
from nofx.markets.fees import MarketFees
from nofx.markets.hk import HongKongRules, spread_tick
from nofx.markets.memo import DAYS_KEPT, DayMemo
from nofx.markets.rulebook import build_rulebook

START = date(2019, 1, 2)


def _days(n: int) -> list[date]:
    return [START + timedelta(days=i) for i in range(n)]


def test_each_answer_is_computed_once_per_day_and_old_days_leave_whole():
    calls: list[tuple[str, date]] = []

    def fn(key: str, on: date) -> str:
        calls.append((key, on))
        return f"{key}@{on}"

    memo: DayMemo[str] = DayMemo(fn, keep=2)
    d1, d2, d3 = _days(3)
    assert memo(("a",), d1) == "a@2019-01-02" and memo(("a",), d1) == "a@2019-01-02"
    memo(("b",), d1)
    memo(("a",), d2)
    assert len(calls) == 3 and memo.days() == (d1, d2) and len(memo) == 3
    memo(("a",), d3)  # a third day pushes the oldest out, with all its answers
    assert memo.days() == (d2, d3) and len(memo) == 2
    assert memo(("a",), d1) == "a@2019-01-02" and len(calls) == 5  # recomputed, still right


def test_none_is_remembered_like_any_answer():
    calls = []
    memo: DayMemo[None] = DayMemo(lambda on: calls.append(on))
    memo((), START)
    memo((), START)
    assert calls == [START]


def test_keep_must_be_positive():
    with pytest.raises(ValueError):
        DayMemo(lambda on: on, keep=0)


def test_rule_and_fee_memos_stay_small_through_a_long_run():
    # 2,000 calendar days of the questions the order path asks: with the former lru caches (up to
    # 65,536 answers per table) every day's answers stayed; now only the last DAYS_KEPT days do
    cn, hk = ChinaRules(), HongKongRules()
    fees = MarketFees(build_rulebook("auto"))
    a, h = parse_symbol("600519.SH"), parse_symbol("0700.HK")
    for day in _days(2000):
        cn.round_buy_quantity(a, day, 150)
        cn.price_limits(a, day, D("10.00"), False, None)
        cn.fees(a, day, Side.SELL, 100, D("10.00"))
        hk.quantity_error(h, day, Side.BUY, 100, 0)
        hk.fees(h, day, Side.BUY, 100, D("300"))
        spread_tick(D("300"), day)
        fees.fees(a, day, Side.BUY, 100, D("10.00"))
    memos = [cn._grid_memo, cn._fee_rates_memo, cn._lots._find_cached, cn._limits._find_cached,
             cn._ticks._find_cached, cn._fees._find_cached, hk._grid_memo, hk._fee_rates_memo,
             hk._lots._find_cached, hk._fees._find_cached, fees._memo]
    for memo in memos:
        assert len(memo.days()) <= DAYS_KEPT
        assert len(memo) <= 4 * DAYS_KEPT  # a handful of keys per day
    # and the answers are those of the day asked
    assert fees.fees(a, date(2023, 8, 28), Side.SELL, 100, D("10")).stamp_duty == D("0.50")
    assert fees.fees(a, date(2023, 8, 25), Side.SELL, 100, D("10")).stamp_duty == D("1.00")
