"""Dividend tax deducted at sale is its own typed ledger event, written in the same transaction as the
sell fill; ``nofx ledger check`` reconciles cash with it, and a rebuilt engine taxes later sales exactly
as an uninterrupted one would."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from nofx.domain.corporate_actions import CorporateAction
from nofx.domain.enums import OrderType, Side
from nofx.domain.orders import OrderRequest
from nofx.engine.matching import BarQuote
from nofx.engine.store import TraderRecord
from nofx.markets.dividend_tax import DividendTax
from nofx.persistence.ledger_check import check_ledger
from nofx.persistence.store import SqlLedgerStore
from tests.engine.harness import ManualMarket, make_engine

D = Decimal
NAN = float("nan")
SYM = "600036.SH"


def _engine(store, market):
    eng, venue, m = make_engine(store=store, market=market)
    eng.dividend_tax = DividendTax("individual")
    from nofx.domain.tax_lots import TaxLots

    eng.portfolio.tax_lots = TaxLots()
    return eng, venue, m


def _trade(eng, venue, m, side, qty):
    eng.submit(OrderRequest(SYM, side, qty, OrderType.LIMIT, D("30")))
    venue.on_bar(SYM, m.now() + timedelta(minutes=1), BarQuote(30, 30, 30, 30, 1e7, 1.0, NAN, NAN), day_end=True)


def _next_day(eng, m, days=1):
    m.t += timedelta(days=days)
    eng.portfolio.start_day(m.t.date())


def test_tax_event_is_stored_with_the_fill_and_replays(tmp_path):
    store = SqlLedgerStore(f"sqlite:///{tmp_path / 'ledger.db'}")
    store.create_trader(TraderRecord("t", D("1000000"), "cn", "{}", datetime(2021, 6, 1)))
    market = ManualMarket(t=datetime(2021, 6, 1, 10), prices={SYM: D("30")})
    eng, venue, m = _engine(store, market)
    _trade(eng, venue, m, Side.BUY, 1000)
    _next_day(eng, m, 30)  # 2021-07-01
    eng.apply_corporate_action(CorporateAction(SYM, m.t.date(), D("1.25")))
    _next_day(eng, m)  # 2021-07-02: bought 2021-06-01, held over one month -> 10%
    _trade(eng, venue, m, Side.SELL, 400)
    assert [(e.quantity, e.amount) for e in eng.tax_events] == [(400, D("50.00"))]
    kinds = [e.kind for e in store.events("t")]
    assert kinds[-2:] == ["order_filled", "dividend_tax"]
    assert check_ledger(store, "t") == []
    assert store.cash("t") == eng.portfolio.cash

    # a new process rebuilds the lots from the ledger and taxes the rest of the lot the same way
    eng2, venue2, _ = _engine(store, m)
    eng2.rebuild(store.events("t"))
    assert eng2.portfolio.cash == eng.portfolio.cash and eng2.portfolio.dividend_tax == D("50.00")
    assert eng2.portfolio.reconciles()
    _trade(eng2, venue2, m, Side.SELL, 600)
    assert eng2.tax_events[-1].amount == D("75.00")  # 10% of 600 x 1.25
    assert check_ledger(store, "t") == []
    store.close()


def test_ledger_check_catches_a_missing_tax_deduction(tmp_path):
    store = SqlLedgerStore(f"sqlite:///{tmp_path / 'ledger.db'}")
    store.create_trader(TraderRecord("t", D("1000000"), "cn", "{}", datetime(2021, 6, 1)))
    eng, venue, m = _engine(store, ManualMarket(t=datetime(2021, 6, 1, 10), prices={SYM: D("30")}))
    _trade(eng, venue, m, Side.BUY, 1000)
    _next_day(eng, m)
    eng.apply_corporate_action(CorporateAction(SYM, m.t.date(), D("1.25")))
    _next_day(eng, m)
    _trade(eng, venue, m, Side.SELL, 1000)
    assert eng.tax_events[-1].amount == D("250.00")  # within a month: 20% of 1,250
    from sqlalchemy import delete

    from nofx.persistence import schema as t

    with store.connect() as conn:  # someone drops the tax row: cash no longer reconciles
        conn.execute(delete(t.order_events).where(t.order_events.c.kind == "dividend_tax"))
        conn.commit()
    problems = check_ledger(store, "t")
    assert [p.kind.value for p in problems] == ["cash_account"]
    store.close()
