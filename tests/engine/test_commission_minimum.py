"""The broker's commission minimum is charged once per order and trading day (``per_order``, default) or
on every fill (``per_fill``), and cash, reservations, the ledger and a resumed run all agree with it."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from nofx.domain.enums import OrderStatus, OrderType, Side
from nofx.domain.orders import OrderRequest
from nofx.engine.matching import BarQuote
from nofx.engine.router import SplitConfig
from nofx.markets.fees import CN_DEFAULT_COMMISSION, HK_DEFAULT_COMMISSION, CommissionConfig
from nofx.markets.rulebook import build_fee_model, build_rulebook
from tests.engine.harness import ManualMarket, make_engine

D = Decimal
NAN = float("nan")
NEXT = timedelta(minutes=1)


def bar(px: float, volume: float) -> BarQuote:
    return BarQuote(px, px, px, px, volume, 1.0, NAN, NAN)


def limit(side, qty, px, sym="000001.SZ"):
    return OrderRequest(sym, side, qty, OrderType.LIMIT, D(px))


def engine_with(basis: str, cash: str = "1000000", split: SplitConfig | None = None, market=None):
    eng, venue, m = make_engine(cash=cash, split=split, market=market)
    rb = build_rulebook("auto", cn_commission=CN_DEFAULT_COMMISSION.model_copy(update={"minimum_basis": basis}),
                        hk_commission=HK_DEFAULT_COMMISSION.model_copy(update={"minimum_basis": basis}))
    eng.rulebook, eng.fees = rb, build_fee_model("default", rb)
    venue.rulebook = rb
    return eng, venue, m


def fill_in_pieces(venue, m, sym: str, px: float, pieces: int, per_piece_volume: float) -> None:
    for _ in range(pieces):
        venue.on_bar(sym, m.now() + NEXT, bar(px, per_piece_volume), day_end=False)
        m.advance(60)


def test_charge_fill_increments_sum_to_one_charge():
    c = CommissionConfig()
    parts = [D("1150"), D("1150"), D("1150"), D("1150"), D("40000")]
    prior, total = D(0), D(0)
    for p in parts:
        total += c.charge_fill(p, prior)
        prior += p
    assert total == c.charge(sum(parts)) == D("11.15")
    per_fill = CommissionConfig(minimum_basis="per_fill")
    assert sum(per_fill.charge_fill(p, D(1)) for p in parts[:4]) == D("20.00")


@pytest.mark.parametrize("basis, commission", [("per_order", D("5.00")), ("per_fill", D("20.00"))])
def test_a_share_order_filled_in_four_pieces(basis, commission):
    eng, venue, m = engine_with(basis)
    o = eng.submit(limit(Side.BUY, 400, "11.52"))
    fill_in_pieces(venue, m, "000001.SZ", 11.52, 4, 400)  # 25% of 400 = one lot per bar
    assert o.status is OrderStatus.FILLED and [f.quantity for f in eng.fills] == [100] * 4
    transfer = 4 * D("0.02")  # 0.002% of 1,152 per fill (2021), rounded to the cent
    assert sum(f.fee for f in eng.fills) == commission + transfer
    assert eng.fills[0].fee == D("5.02")  # the first fill pays the minimum
    pf = eng.portfolio
    assert pf.fees_paid == commission + transfer and pf.reconciles()
    assert pf.cash == D("1000000") - D("4608") - commission - transfer
    assert pf.reserved_cash == 0


def test_sell_order_and_a_second_day_start_a_new_minimum():
    eng, venue, m = engine_with("per_order")
    buy = eng.submit(limit(Side.BUY, 400, "11.52"))
    venue.on_bar("000001.SZ", m.now() + NEXT, bar(11.52, 1e6), day_end=True)
    assert buy.status is OrderStatus.FILLED
    m.t += timedelta(days=1)
    eng.portfolio.start_day(m.t.date())
    sell = eng.submit(limit(Side.SELL, 400, "11.52"))
    # two pieces today, then the same order's third and fourth piece on the next day
    fill_in_pieces(venue, m, "000001.SZ", 11.52, 2, 400)
    day1 = [f.fee for f in eng.fills[1:]]
    m.t += timedelta(days=1)
    eng.portfolio.start_day(m.t.date())
    eng.on_venue_fill(sell, 100, D("11.52"))
    eng.on_venue_fill(sell, 100, D("11.52"))
    day2 = [f.fee for f in eng.fills[3:]]
    stamp = D("1.15")  # 0.1% of 1,152 on each sell fill (2021)
    assert day1 == [D("5.00") + stamp + D("0.02"), stamp + D("0.02")]
    assert day2 == [D("5.00") + stamp + D("0.02"), stamp + D("0.02")]
    assert eng.portfolio.reconciles() and eng.portfolio.quantity("000001.SZ") == 0


def test_twap_children_are_separate_exchange_orders_each_with_its_minimum():
    eng, venue, m = engine_with("per_order", split=SplitConfig(twap_slices=4, twap_window_seconds=60))
    parent = eng.submit(limit(Side.BUY, 400, "11.52"))
    venue.on_bar("000001.SZ", m.now() + NEXT, bar(11.52, 1e6), day_end=False)
    for _ in range(3):
        m.advance(15)
        eng.release_due_children()
        venue.on_bar("000001.SZ", m.now() + NEXT, bar(11.52, 1e6), day_end=False)
    assert parent.status is OrderStatus.FILLED
    assert [f.fee for f in eng.fills] == [D("5.02")] * 4
    assert eng.oms.get(parent.order_id).fees == D("20.08")  # derived from the children


def test_hk_commission_minimum_once_levies_on_every_fill():
    market = ManualMarket(prices={"0700.HK": D("50")})
    out = {}
    for basis in ("per_order", "per_fill"):
        eng, venue, m = engine_with(basis, market=ManualMarket(t=market.t, prices=dict(market.prices)))
        eng.submit(limit(Side.BUY, 200, "50", sym="0700.HK"))
        fill_in_pieces(venue, m, "0700.HK", 50, 2, 400)
        out[basis] = eng
    rb = build_rulebook("hk")
    from nofx.domain.instruments import parse_symbol
    one = rb.fees(parse_symbol("0700.HK"), market.t.date(), Side.BUY, 100, D("50"))
    statutory = one.total - one.commission  # stamp duty, levies, trading fee: no minimum, per fill
    assert sum(f.fee for f in out["per_fill"].fills) == 2 * (D("3.00") + statutory)
    assert sum(f.fee for f in out["per_order"].fills) == D("3.00") + 2 * statutory  # 0.03% of 10,000 = 3.00


@pytest.mark.parametrize("basis, fills", [("per_order", 4), ("per_fill", 3)])
def test_cash_check_and_reservation_follow_the_setting(basis, fills):
    # exactly enough cash for 400 shares and one minimum commission (+ transfer fees)
    cash = D("4608") + D("5.00") + D("0.09")  # what the pre-trade check asks for the whole order
    eng, venue, m = engine_with(basis, cash=str(cash))
    o = eng.submit(limit(Side.BUY, 400, "11.52"))
    assert o.status is OrderStatus.ACCEPTED, eng.rejections
    fill_in_pieces(venue, m, "000001.SZ", 11.52, 4, 400)
    assert len(eng.fills) == fills
    assert eng.portfolio.cash >= 0 and eng.portfolio.reconciles()


def test_resumed_engine_charges_what_an_uninterrupted_one_does(tmp_path):
    sqlite_url = f"sqlite:///{tmp_path / 'ledger.db'}"
    from nofx.engine.store import TraderRecord
    from nofx.persistence.store import SqlLedgerStore
    from datetime import datetime

    store = SqlLedgerStore(sqlite_url)
    store.create_trader(TraderRecord("t", D("1000000"), "cn", "{}", datetime(2021, 6, 1)))
    eng, venue, m = make_engine(store=store)
    o = eng.submit(limit(Side.BUY, 400, "11.52"))
    fill_in_pieces(venue, m, "000001.SZ", 11.52, 2, 400)
    assert [f.fee for f in eng.fills] == [D("5.02"), D("0.02")]
    # crash: a new engine rebuilt from the ledger continues the same order on the same day
    eng2, venue2, _ = make_engine(store=store, market=m)
    eng2.rebuild(store.events("t"))
    eng2.restore_open_orders()
    o2 = eng2.oms.get(o.order_id)
    assert o2.filled_qty == 200
    fill_in_pieces(venue2, m, "000001.SZ", 11.52, 2, 400)
    assert [f.fee for f in eng2.fills[2:]] == [D("0.02"), D("0.02")]
    assert eng2.portfolio.fees_paid == D("5.08") and eng2.portfolio.reconciles()
    from nofx.persistence.ledger_check import check_ledger

    assert check_ledger(store, "t") == []
    store.close()
