"""A hand-driven market clock and engine for unit tests of the order path (real rules, real venue)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from nofx.engine.kernel import TradingEngine
from nofx.engine.order_book import OrderBookExchange
from nofx.engine.portfolio import Portfolio
from nofx.engine.risk import RiskConfig, RiskEngine
from nofx.engine.router import Router, SplitConfig
from nofx.markets.rulebook import build_fee_model, build_rulebook


@dataclass
class ManualMarket:
    t: datetime = datetime(2021, 6, 1, 10, 0)
    prices: dict[str, Decimal] = field(default_factory=dict)
    bands: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)
    next_day: bool = False  # True: orders execute on the next trading day (as with --fill next_open)

    def now(self) -> datetime:
        return self.t

    def exec_day(self) -> date:
        return self.t.date() + timedelta(days=1) if self.next_day else self.t.date()

    def last_price(self, symbol: str) -> Decimal | None:
        return self.prices.get(symbol)

    def last_price_float(self, symbol: str) -> float | None:
        p = self.prices.get(symbol)
        return None if p is None else float(p)

    def limits(self, symbol: str):
        return self.bands.get(symbol)

    def advance(self, seconds: float) -> None:
        self.t += timedelta(seconds=seconds)


def make_engine(cash: str = "1000000", risk: RiskConfig | None = None, rules: str = "auto",
                split: SplitConfig | None = None, latency_ms: float = 0, store=None,
                market: ManualMarket | None = None):
    market = market or ManualMarket(prices={"600519.SH": Decimal("2000"), "000001.SZ": Decimal("20"),
                                            "0700.HK": Decimal("500")})
    rb = build_rulebook(rules)
    venue = OrderBookExchange(rb, market, latency=timedelta(milliseconds=latency_ms))
    pf = Portfolio(Decimal(cash))
    pf.mark_source = market.last_price_float
    eng = TradingEngine("t", pf, rb, build_fee_model("default", rb), RiskEngine(risk), Router(venue, split),
                        market, store=store)
    venue.listener = eng
    return eng, venue, market
