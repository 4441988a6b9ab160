"""Every pre-trade risk rule trips just past its limit and passes just inside it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from nofx.domain.enums import OrderStatus, OrderType, Side
from nofx.domain.fills import Fill
from nofx.domain.orders import OrderRequest
from nofx.engine.risk import RiskConfig, SlidingWindowRate
from tests.engine.harness import make_engine

D = Decimal


def buy(sym="000001.SZ", qty=100, price=None, **kw):
    if price is not None:
        return OrderRequest(sym, Side.BUY, qty, OrderType.LIMIT, D(price), **kw)
    return OrderRequest(sym, Side.BUY, qty, **kw)


def sell(sym="000001.SZ", qty=100, price=None):
    if price is not None:
        return OrderRequest(sym, Side.SELL, qty, OrderType.LIMIT, D(price))
    return OrderRequest(sym, Side.SELL, qty)


def code(order):
    return order.reject_code if order.status is OrderStatus.REJECTED else None


def hold(eng, sym, qty, price, days_ago=1):
    """Give the portfolio an old (sellable) position."""
    from datetime import timedelta
    ts = eng.market.now() - timedelta(days=days_ago)
    eng.portfolio.apply_fill(Fill("seed", "seed", sym, Side.BUY, qty, D(price), D(0), ts), lock_until_next_day=True)
    eng.portfolio.start_day(eng.market.now().date())


def test_order_rate_per_trader():
    eng, _, m = make_engine(risk=RiskConfig(max_orders_per_window=3, rate_window_seconds=1.0))
    assert [code(eng.submit(buy(price="19"))) for _ in range(3)] == [None, None, None]
    assert code(eng.submit(buy(price="19"))) == "RISK_RATE_LIMIT"
    m.advance(1.0)  # the window slides: the oldest stamps fall out
    assert code(eng.submit(buy(price="19"))) is None


def test_order_rate_per_symbol():
    eng, _, m = make_engine(risk=RiskConfig(max_orders_per_symbol_window=2, rate_window_seconds=10))
    eng.submit(buy(price="19"))
    assert code(eng.submit(buy(price="19"))) is None
    assert code(eng.submit(buy(price="19"))) == "RISK_SYMBOL_RATE_LIMIT"
    assert code(eng.submit(buy("600519.SH", price="1990"))) is None  # another symbol is not limited


def test_rate_limiter_memory_is_bounded():
    r = SlidingWindowRate(limit=5, window_seconds=1.0)
    for t in range(10_000):
        r.allow("k", t * 0.001)
    assert len(r._stamps["k"]) <= 5
    for k in range(1000):
        r.allow(f"s{k}", 0.0)
    r.forget_idle(100.0)
    assert r._stamps == {}


def test_max_order_value():
    eng, _, _ = make_engine(risk=RiskConfig(max_order_value=D("2000")))
    assert code(eng.submit(buy(qty=100, price="20"))) is None  # exactly 2000
    assert code(eng.submit(buy(qty=100, price="20.01"))) == "RISK_MAX_ORDER_VALUE"


def test_max_position_value():
    eng, _, _ = make_engine(risk=RiskConfig(max_position_value=D("4000")))
    hold(eng, "000001.SZ", 100, "20")
    assert code(eng.submit(buy(qty=100, price="20"))) is None  # 200 x 20 = 4000
    assert code(eng.submit(buy(qty=200, price="20"))) == "RISK_MAX_POSITION_VALUE"
    assert code(eng.submit(sell(qty=100, price="20"))) is None  # reducing is always allowed


def test_max_gross_exposure():
    eng, _, _ = make_engine(risk=RiskConfig(max_gross_exposure=D("204000")))
    hold(eng, "600519.SH", 100, "2000")  # worth 200,000 at the last price
    assert code(eng.submit(buy(qty=200, price="20"))) is None  # +4,000
    assert code(eng.submit(buy(qty=300, price="20"))) == "RISK_MAX_GROSS_EXPOSURE"


def test_price_deviation_from_last():
    eng, _, _ = make_engine(risk=RiskConfig(max_price_deviation=0.05))
    assert code(eng.submit(buy(price="21"))) is None  # +5.0% of 20
    assert code(eng.submit(buy(price="21.02"))) == "RISK_PRICE_DEVIATION"


def test_price_inside_the_day_band():
    eng, _, m = make_engine()
    m.bands["000001.SZ"] = (D("18.00"), D("22.00"))
    assert code(eng.submit(buy(price="22.00"))) is None
    assert code(eng.submit(buy(price="22.01"))) == "RISK_PRICE_LIMIT"
    assert code(eng.submit(buy(price="17.99"))) == "RISK_PRICE_LIMIT"


def test_valid_lot():
    eng, _, m = make_engine()
    m.prices["688981.SH"] = Decimal("50")
    assert code(eng.submit(buy(qty=100, price="20"))) is None
    # the router rounds down to the lot; below one lot nothing is left and the order is refused
    odd = eng.submit(buy(qty=150, price="20"))
    assert code(odd) is None and odd.quantity == 100 and "rounded from 150" in odd.request.tag
    assert code(eng.submit(buy(qty=99, price="20"))) == "RISK_INVALID_LOT"
    assert code(eng.submit(buy("0700.HK", qty=100, price="500"))) is None  # HK board lot 100
    assert code(eng.submit(buy("0700.HK", qty=50, price="500"))) == "RISK_INVALID_LOT"
    assert eng.submit(buy("0700.HK", qty=250, price="500")).quantity == 200
    assert code(eng.submit(buy("688981.SH", qty=199, price="50"))) == "RISK_INVALID_LOT"  # STAR: 200 minimum


def test_enough_cash_including_fees():
    # 100 x 20 = 2000 + commission minimum 5 + transfer fee 0.002% (2021) 0.04 = 2005.04
    eng, _, _ = make_engine(cash="2005.04")
    assert code(eng.submit(buy(qty=100, price="20"))) is None
    eng2, _, _ = make_engine(cash="2005.03")
    assert code(eng2.submit(buy(qty=100, price="20"))) == "RISK_INSUFFICIENT_CASH"


def test_open_buy_orders_reserve_cash():
    eng, _, _ = make_engine(cash="4010.08")
    assert code(eng.submit(buy(qty=100, price="20"))) is None
    assert code(eng.submit(buy(qty=100, price="20"))) is None
    assert code(eng.submit(buy(qty=100, price="20"))) == "RISK_INSUFFICIENT_CASH"


def test_sellable_quantity_t_plus_1():
    eng, venue, m = make_engine()
    hold(eng, "000001.SZ", 100, "20", days_ago=1)
    assert code(eng.submit(sell(qty=100, price="20"))) is None
    # shares bought today are not sellable today on A-shares
    eng2, venue2, m2 = make_engine()
    from datetime import timedelta
    eng2.portfolio.apply_fill(Fill("x", "x", "000001.SZ", Side.BUY, 100, D(20), D(0), m2.now()),
                              lock_until_next_day=True)
    assert code(eng2.submit(sell(qty=100, price="20"))) == "RISK_T1_LOCKED"
    m2.next_day = True  # an order executing tomorrow may sell them
    assert code(eng2.submit(sell(qty=100, price="20"))) is None
    del timedelta


def test_sell_of_a_whole_odd_holding_is_valid_and_odd_sells_round_down():
    eng, _, _ = make_engine()
    hold(eng, "000001.SZ", 250, "20")
    assert eng.submit(sell(qty=180, price="20")).quantity == 150  # 100 + the odd 50 remainder
    eng2, _, _ = make_engine()
    hold(eng2, "000001.SZ", 250, "20")
    assert eng2.submit(sell(qty=300, price="20")).quantity == 250  # whole holding, odd lot included


def test_no_short_sale_on_a_shares():
    eng, _, _ = make_engine()
    hold(eng, "000001.SZ", 100, "20")
    assert code(eng.submit(sell(qty=100, price="20"))) is None
    assert code(eng.submit(sell(qty=100, price="20"))) == "RISK_NO_SHORT"  # the first sell reserved them


def test_max_open_orders():
    eng, _, _ = make_engine(risk=RiskConfig(max_open_orders=2))
    assert code(eng.submit(buy(price="19"))) is None
    assert code(eng.submit(buy(price="19"))) is None
    assert code(eng.submit(buy(price="19"))) == "RISK_MAX_OPEN_ORDERS"


def test_daily_loss_kill_switch_stops_buys_for_the_day():
    eng, _, m = make_engine(risk=RiskConfig(daily_loss_limit=D("1000")))
    hold(eng, "000001.SZ", 1000, "20")
    eng.day_start_equity = eng.portfolio.equity()
    m.prices["000001.SZ"] = D("19.01")  # loss 990: inside the limit
    assert code(eng.submit(buy(price="19"))) is None
    m.prices["000001.SZ"] = D("19.00")  # loss 1000: the limit
    assert code(eng.submit(buy(price="19"))) == "RISK_KILL_SWITCH"
    m.prices["000001.SZ"] = D("20.00")  # recovered, but the switch holds for the rest of the day
    assert code(eng.submit(buy(price="19"))) == "RISK_KILL_SWITCH"
    assert code(eng.submit(sell(qty=100, price="20"))) is None  # sells are still allowed
    m.advance(24 * 3600)
    eng.day_start_equity = eng.portfolio.equity()
    assert code(eng.submit(buy(price="19"))) is None


def test_index_is_not_tradable():
    eng, _, m = make_engine()
    m.prices["000300.SH"] = D("5000")
    assert code(eng.submit(buy("000300.SH", price="5000"))) == "RISK_NOT_TRADABLE"


@pytest.mark.parametrize("bad", [{"max_order_value": -1}, {"max_open_orders": 0}, {"nonsense": 1}])
def test_risk_config_is_validated(bad):
    from pydantic import ValidationError
    with pytest.raises(ValidationError):
        RiskConfig(**bad)


def test_price_deviation_leaves_market_orders_alone():
    """A market order's protection price is the day's far limit (about 10% away), set by the engine:
    the deviation limit must not refuse every market order for it; a limit order just past it still is."""
    eng, _, m = make_engine(risk=RiskConfig(max_price_deviation=0.05))
    m.bands["000001.SZ"] = (D("18.00"), D("22.00"))
    order = eng.submit(buy(qty=100))
    assert code(order) is None and order.request.limit_price == D("22.00")
    hold(eng, "000001.SZ", 100, "20")
    sold = eng.submit(sell(qty=100))
    assert code(sold) is None and sold.request.limit_price == D("18.00")
    assert code(eng.submit(buy(price="21.02"))) == "RISK_PRICE_DEVIATION"
