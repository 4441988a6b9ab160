"""Choosing rules by mode and market, the fee models, and the frictionless NoRules."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import numpy as np
import pytest

from nofx.domain.enums import Side
from nofx.domain.errors import ConfigError
from nofx.domain.fills import FeeBreakdown
from nofx.domain.instruments import parse_symbol
from nofx.markets.cn import ChinaRules
from nofx.markets.fees import CommissionConfig, MarketFees, ZeroFees
from nofx.markets.hk import HongKongRules
from nofx.markets.none import NoRules
from nofx.markets.rulebook import build_fee_model, build_rulebook

CN = parse_symbol("600519.SH")
HK = parse_symbol("0700.HK")
ON = date(2021, 9, 15)


def test_auto_picks_rules_by_market():
    book = build_rulebook("auto")
    assert isinstance(book.rules_for(CN), ChinaRules) and isinstance(book.rules_for(HK), HongKongRules)
    assert isinstance(book.for_symbol("0700.HK"), HongKongRules)
    # forwarding: T+1 for A-shares, T+0 for HK, through the one book
    assert book.sell_locked_until_next_day(CN, ON) and not book.sell_locked_until_next_day(HK, ON)
    assert book.quantity_error(CN, ON, Side.BUY, 150, 0) is not None
    assert book.calendar_name(HK) == "XHKG"
    assert book.fees(HK, ON, Side.BUY, 100, D("520")) == HongKongRules().fees(HK, ON, Side.BUY, 100, D("520"))


@pytest.mark.parametrize(("mode", "ok", "refused"), [("cn", CN, HK), ("hk", HK, CN)])
def test_single_market_modes_refuse_the_other_market(mode, ok, refused):
    book = build_rulebook(mode)
    assert book.rules_for(ok) is not None
    with pytest.raises(ConfigError, match=f"rules mode '{mode}'") as exc:
        book.quantity_error(refused, ON, Side.BUY, 100, 0)
    assert exc.value.context["symbol"] == refused.symbol


def test_unknown_modes():
    with pytest.raises(ConfigError, match="auto, cn, hk, none"):
        build_rulebook("us")
    with pytest.raises(ConfigError, match="default, zero"):
        build_fee_model("cheap", build_rulebook())


def test_commission_overrides_reach_each_market():
    book = build_rulebook("AUTO", cn_commission=CommissionConfig(rate=D("0"), minimum=D("0")),
                          hk_commission=CommissionConfig(rate=D("0.001"), minimum=D("0")))
    assert book.fees(CN, ON, Side.BUY, 100, D("1000")).commission == D("0.00")
    assert book.fees(HK, ON, Side.BUY, 100, D("1000")).commission == D("100.00")


def test_fee_models():
    book = build_rulebook("auto")
    default = build_fee_model("default", book)
    assert isinstance(default, MarketFees)
    assert default.fees(CN, ON, Side.SELL, 100, D("2000")) == book.fees(CN, ON, Side.SELL, 100, D("2000"))
    zero = build_fee_model("zero", book)
    assert isinstance(zero, ZeroFees)
    assert zero.fees(CN, ON, Side.SELL, 100, D("2000")).total == 0


def test_none_mode_is_frictionless():
    book = build_rulebook("none")
    assert isinstance(book.rules_for(CN), NoRules) and isinstance(book.rules_for(HK), NoRules)
    for inst in (CN, HK):
        assert book.quantity_error(inst, ON, Side.BUY, 7, 0) is None
        assert book.quantity_error(inst, ON, Side.SELL, 7, 0) is None
        assert book.quantity_error(inst, ON, Side.BUY, 0, 0) is not None
        assert book.round_buy_quantity(inst, ON, 7) == 7
        assert book.price_limits(inst, ON, D("10"), True, 1) is None
        assert not book.sell_locked_until_next_day(inst, ON)
        assert book.fees(inst, ON, Side.SELL, 7, D("10")) == FeeBreakdown()
        assert book.tick_size(inst, ON, D("10")) == D("0.01")
        assert book.calendar_name(inst) is None
    lo, hi = book.limit_arrays(CN, np.array(["2021-09-15"], dtype="datetime64[D]"), np.array([10.0]),
                               np.array([True]), np.array([1]))
    assert np.isnan(lo).all() and np.isnan(hi).all()
