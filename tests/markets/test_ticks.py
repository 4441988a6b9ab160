"""Tick sizes as effective-dated table data: A-share stocks 0.01, A-share funds 0.001, the HK spread
table by price band; limit prices and venue fill prices land on that grid."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import numpy as np
import pytest

from nofx.domain.enums import Side
from nofx.domain.instruments import Board, SecurityType, parse_symbol
from nofx.markets.cn import ChinaRules
from nofx.markets.hk import HongKongRules
from nofx.markets.none import NoRules
from nofx.markets.tables import RuleNotFoundError

CN = ChinaRules()
HK = HongKongRules()
DAY = date(2021, 6, 1)
D = Decimal


@pytest.mark.parametrize("sym", ["510300.SH", "510050.SH", "588000.SH", "159915.SZ", "161725.SZ", "501050.SH"])
def test_exchange_traded_funds_parse_as_funds(sym):
    inst = parse_symbol(sym)
    assert (inst.board, inst.security_type) == (Board.FUND, SecurityType.FUND)


@pytest.mark.parametrize("sym,tick", [("000001.SZ", "0.01"), ("600519.SH", "0.01"), ("300750.SZ", "0.01"),
                                      ("688981.SH", "0.01"), ("510300.SH", "0.001"), ("159915.SZ", "0.001")])
def test_a_share_tick_by_security_type(sym, tick):
    assert CN.tick_size(parse_symbol(sym), DAY, D("12.3")) == D(tick)


def test_a_share_tick_is_effective_dated_table_data():
    # the fund row starts 2005-01-01: an earlier date is not guessed
    with pytest.raises(RuleNotFoundError, match="cn_tick_sizes.csv"):
        CN.tick_size(parse_symbol("510300.SH"), date(2004, 12, 31), D("1"))
    assert CN.tick_size(parse_symbol("510300.SH"), date(2005, 1, 1), D("1")) == D("0.001")


@pytest.mark.parametrize("price,ok", [("4.123", True), ("4.1235", False), ("4.12", True), ("0.001", True)])
def test_fund_prices_on_the_fund_grid(price, ok):
    # the HK bands and the stock grid are checked on real orders in tests/engine/test_tick_grid.py
    assert CN.price_on_tick(parse_symbol("510300.SH"), DAY, D(price)) is ok


def test_fund_limit_prices_are_on_the_fund_tick():
    inst = parse_symbol("510300.SH")
    lim = CN.price_limits(inst, DAY, D("4.123"), False, None)
    assert (lim.lower, lim.upper) == (D("3.711"), D("4.535"))  # 4.123 * 0.9 = 3.7107, * 1.1 = 4.5353
    stock = CN.price_limits(parse_symbol("600000.SH"), DAY, D("4.123"), False, None)
    assert (stock.lower, stock.upper) == (D("3.71"), D("4.54"))


def test_vectorised_fund_limits_agree_with_the_scalar_rule():
    rng = np.random.default_rng(7)
    inst = parse_symbol("159915.SZ")
    pre = np.round(rng.uniform(0.5, 9.0, 400), 3)
    days = np.full(400, np.datetime64("2021-06-01"), dtype="datetime64[D]")
    lo, hi = CN.limit_arrays(inst, days, pre, np.zeros(400, bool), np.full(400, -1))
    for k in range(400):
        lim = CN.price_limits(inst, DAY, D(repr(float(pre[k]))), False, None)
        assert (D(repr(float(lo[k]))), D(repr(float(hi[k])))) == (lim.lower, lim.upper)


def test_funds_pay_commission_only():
    fund = CN.fees(parse_symbol("510300.SH"), DAY, Side.SELL, 10_000, D("4.123"))
    stock = CN.fees(parse_symbol("600000.SH"), DAY, Side.SELL, 10_000, D("4.12"))
    assert fund.stamp_duty == fund.transfer_fee == 0 and fund.commission > 0
    assert stock.stamp_duty > 0


@pytest.mark.parametrize("sym,price,side,expected", [
    ("0005.HK", 55.586956, Side.BUY, "55.60"),   # adjusted HK open -> nearest 0.05
    ("0005.HK", 55.575, Side.BUY, "55.60"),      # a tie goes against the buyer (up)
    ("0005.HK", 55.575, Side.SELL, "55.55"),     # and against the seller (down)
    ("0700.HK", 562.197266, Side.SELL, "562.00"),
    ("0388.HK", 350.4021820664115, Side.BUY, "350.40"),
    ("000001.SZ", 4.1499999999, Side.BUY, "4.15"),  # binary noise of a resampled bar
    ("510300.SH", 4.1235, Side.SELL, "4.123"),
])
def test_fill_prices_land_on_the_grid(sym, price, side, expected):
    inst = parse_symbol(sym)
    rules = CN if inst.market.value == "cn" else HK
    px = rules.fill_price(inst, DAY, price, side)
    assert px == D(expected) and rules.price_on_tick(inst, DAY, px)


def test_rules_none_has_no_grid():
    inst = parse_symbol("000001.SZ")
    assert NoRules().price_on_tick(inst, DAY, D("12.345"))
    assert NoRules().fill_price(inst, DAY, 12.3456, Side.BUY) == D("12.3456")


def test_a_strategy_that_asks_gets_the_passive_price_on_the_fund_grid():
    inst = parse_symbol("510300.SH")
    assert CN.round_price_to_tick(inst, DAY, D("4.1235"), Side.BUY) == D("4.123")
    assert CN.round_price_to_tick(inst, DAY, D("4.1235"), Side.SELL) == D("4.124")
