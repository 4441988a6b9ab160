"""The order path's per-instrument rules (``nofx.markets.instrument_rules`` / ``cn_instrument``) answer
exactly what the market rules answer: same values (and the same Decimal text), same errors."""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal as D

import pytest

from nofx.domain.enums import Side
from nofx.domain.errors import NofxError
from nofx.domain.instruments import parse_symbol
from nofx.markets.cn_instrument import ChinaInstrumentRules
from nofx.markets.fees import CN_DEFAULT_COMMISSION, CommissionConfig
from nofx.markets.instrument_rules import InstrumentRules, InstrumentRulesCache
from nofx.markets.rulebook import build_fee_model, build_rulebook

SYMBOLS = ["600519.SH", "000001.SZ", "688981.SH", "300750.SZ", "510300.SH", "830799.BJ", "0700.HK"]
# around the stamp duty and transfer fee changes, and the ChiNext reform
DAYS = [date(2019, 5, 6), date(2020, 8, 24), date(2022, 4, 28), date(2022, 4, 29), date(2023, 8, 25),
        date(2023, 8, 28), date(2024, 1, 2)]


def _outcome(fn, *args):
    try:
        v = fn(*args)
        return ("ok", str(v))
    except NofxError as exc:  # the same error, same text
        return (type(exc).__name__, str(exc))


@pytest.mark.parametrize("commission", [None, CommissionConfig(rate=D("0.0003"), minimum=D("0.1")),
                                        CN_DEFAULT_COMMISSION.model_copy(update={"minimum_basis": "per_fill"})])
def test_fast_fees_equal_the_decimal_fees(commission):
    rb = build_rulebook("auto", cn_commission=commission)
    fm = build_fee_model("default", rb)
    cache = InstrumentRulesCache(rb, fm)
    rnd = random.Random(15)
    n = 0
    for sym in SYMBOLS:
        inst, ir = parse_symbol(sym), cache.get(sym)
        for day in DAYS:
            for _ in range(150):
                side = rnd.choice([Side.BUY, Side.SELL])
                q = rnd.choice([1, 100, 150, 200, 1000, 12345, rnd.randint(1, 10**7)])
                p = D(rnd.randint(1, 3_000_000)) / D(rnd.choice([1, 10, 100, 1000]))
                prior = rnd.choice([D(0), D(0), p * q, D(rnd.randint(0, 10**9)) / 100])
                want = fm.fill_fees(inst, day, side, q, p, prior).total
                got = ir.fee_total(day, side, q, p, prior)
                assert (str(got), got) == (str(want), want), (sym, day, side, q, p, prior)
                n += 1
    assert n == len(SYMBOLS) * len(DAYS) * 150
    assert isinstance(cache.get("600519.SH"), ChinaInstrumentRules)
    assert type(cache.get("0700.HK")) is InstrumentRules  # other markets: the generic forwarding object


def test_fee_errors_are_the_market_rules_errors():
    rb = build_rulebook("auto")
    fm = build_fee_model("default", rb)
    cache = InstrumentRulesCache(rb, fm)
    day = date(2024, 1, 2)
    for sym, q, p in [("000300.SH", 100, D(10)), ("600519.SH", 0, D(10)), ("600519.SH", 100, D(0)),
                      ("600519.SH", -5, D("-1"))]:
        inst = parse_symbol(sym)
        assert _outcome(cache.get(sym).fee_total, day, Side.BUY, q, p, D(0)) == \
            _outcome(lambda *a: fm.fill_fees(*a).total, inst, day, Side.BUY, q, p, D(0))


def test_lots_ticks_and_fill_prices_equal_the_market_rules():
    rb = build_rulebook("auto")
    cache = InstrumentRulesCache(rb)
    rnd = random.Random(9)
    for sym in SYMBOLS + ["000300.SH"]:
        inst, ir = parse_symbol(sym), cache.get(sym)
        for day in DAYS + [date(1985, 1, 2)]:  # a day no table row covers: the same error
            for _ in range(60):
                side = rnd.choice([Side.BUY, Side.SELL])
                q, h = rnd.randint(-5, 3000), rnd.choice([0, 50, 100, 250, 1000, rnd.randint(0, 5000)])
                px = D(rnd.randint(1, 500000)) / D(rnd.choice([1, 100, 1000]))
                f = rnd.uniform(0.01, 3000)
                assert _outcome(ir.quantity_error, day, side, q, h) == \
                    _outcome(rb.quantity_error, inst, day, side, q, h)
                assert _outcome(ir.round_buy_quantity, day, q) == _outcome(rb.round_buy_quantity, inst, day, q)
                assert _outcome(ir.price_on_tick, day, px) == _outcome(rb.price_on_tick, inst, day, px)
                assert _outcome(ir.tick_size, day, px) == _outcome(rb.tick_size, inst, day, px)
                assert _outcome(ir.fill_price, day, f, side) == _outcome(rb.fill_price, inst, day, f, side)
                assert _outcome(ir.allows_short, day) == _outcome(rb.allows_short, inst, day)
                assert _outcome(ir.sell_locked, day) == _outcome(rb.sell_locked_until_next_day, inst, day)


def test_cache_is_bounded():
    cache = InstrumentRulesCache(build_rulebook("auto"), bound=3)
    for sym in SYMBOLS:
        cache.get(sym)
    assert len(cache) <= 3
