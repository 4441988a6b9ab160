"""Multi-factor stock selection (``multi_factor``): rank stocks by a weighted composite of point-in-time
value, growth, quality and technical factors, hold the top N in equal weight, rebalance monthly.

Everything the strategy decides on is known at the close of the decision day (valuation of that
day, fundamentals from the first trading day after their ``pub_date``, prices up to that close);
orders fill at the next open under the backtester's default ``fill = "next_open"``.

Rebalance in two steps because the engine reserves cash when an order is submitted: on the
rebalance day the strategy sells what dropped out of the top N (and trims overweight holdings);
on the next slices it buys the new targets with the cash those sales freed. A sale that cannot be
made (suspended, limit-down, T+1) is retried on each following slice until it goes through.

Data: the factor inputs beyond bars come from files given in the parameters (``valuation_path``,
``fundamentals_path``); without them (e.g. HK stocks) only the technical factors exist and the
composite is built from those. The shared data's stock list is survivor-biased
(a recent CSI 300 list plus a sample): results overstate what was investable at the time.
"""

from __future__ import annotations

from datetime import date
from typing import Sequence

import numpy as np

from nofx.data.panel import BarPanel
from nofx.domain.enums import Side
from nofx.domain.errors import NofxError
from nofx.domain.instruments import parse_symbol
from nofx.domain.orders import OrderRequest
from nofx.features.factors import (
    FUNDAMENTAL_SOURCE,
    VALUATION_SOURCE,
    build_composite,
    compute_factors,
    eligible_mask,
)
from nofx.features.fundamentals import align_fundamentals, align_valuation, load_fundamentals, load_valuation
from nofx.markets.base import MarketRules
from nofx.strategies.base import MarketView, PortfolioView, Strategy, StrategyContext
from nofx.strategies.pairs import strategy_rules
from nofx.strategies.params import MultiFactorParams
from nofx.strategies.registry import register_strategy
from nofx.strategies.sizing import round_buy, screen, sell_quantity

COMPOSITE = "multi_factor.composite"
ELIGIBLE = "multi_factor.eligible"


def _period_key(ts: np.datetime64, rebalance: str) -> int:
    day = ts.astype("datetime64[D]")
    if rebalance == "monthly":
        return int(day.astype("datetime64[M]").astype(np.int64))
    # weeks starting on Monday (1970-01-01 was a Thursday)
    return int((day.astype(np.int64) + 3) // 7)


@register_strategy
class MultiFactor(Strategy):
    name = "multi_factor"
    Params = MultiFactorParams
    params: MultiFactorParams

    def __init__(self, params: MultiFactorParams | None = None) -> None:
        super().__init__(params)
        self._rules: MarketRules | None = None
        self._last_period: int | None = None  # month (week) of the previous slice
        self._targets: dict[str, float] = {}  # symbol -> target value at the last rebalance
        self._pending_buys: set[str] = set()
        self._unsizable: set[str] = set()  # symbols the rules cannot size (logged once)
        self._warmup = self.params.window + 1

    # --- set-up ---------------------------------------------------------------------------------
    def on_start(self, ctx: StrategyContext) -> None:
        p = self.params
        self._rules = strategy_rules(ctx, p.rules, hk_lot_tables=p.hk_lot_tables)

        def composite(panel: BarPanel) -> np.ndarray:
            valuation = fundamentals = None
            if p.valuation_path:
                valuation = align_valuation(load_valuation(p.valuation_path), panel.timestamps, panel.symbols,
                                            fields=tuple(VALUATION_SOURCE.values()))
            if p.fundamentals_path:
                fundamentals = align_fundamentals(load_fundamentals(p.fundamentals_path), panel.timestamps,
                                                  panel.symbols, fields=tuple(FUNDAMENTAL_SOURCE.values()))
            factors = compute_factors(panel, valuation, fundamentals, window=p.window)
            mask = eligible_mask(panel, p.min_listed_days)
            cs, _ = build_composite(panel, factors, mask, p.weights, p.n_mad, p.min_coverage, p.weighting,
                                    p.ic_horizon, p.ic_lookback)
            return cs.composite

        ctx.add_feature(COMPOSITE, composite)
        ctx.add_feature(ELIGIBLE, lambda panel: eligible_mask(panel, p.min_listed_days).astype("float64"))

    # --- decisions --------------------------------------------------------------------------------
    def on_slice(self, view: MarketView, portfolio: PortfolioView) -> Sequence[OrderRequest]:
        today = view.timestamp.astype("datetime64[D]").item()
        close = view.current("close")
        traded = (view.current("trade_status") == 1) & (view.current("volume") > 0) & np.isfinite(close)
        col = {s: k for k, s in enumerate(view.symbols)}
        orders: list[OrderRequest] = []

        # rebalance on the first slice of each month (week) once the factors have their history
        period = _period_key(view.timestamp, self.params.rebalance)
        rebalance = view.index >= self._warmup and self._last_period is not None and period != self._last_period
        self._last_period = period
        if rebalance:
            self._choose_targets(view, portfolio, today)
            orders += self._trim_overweight(view, portfolio, close, traded, col, today)
        elif self._pending_buys:
            orders += self._buy_targets(view, portfolio, close, traded, col, today)

        # sell what is not a target; retried every slice until it can be sold
        for sym, pos in portfolio.positions().items():
            if sym in self._targets or pos.quantity <= 0:
                continue
            k = col.get(sym)
            qty = sell_quantity(self._rules, sym, today, portfolio.sellable(sym), pos.quantity)
            if k is not None and traded[k] and qty > 0:
                orders.append(OrderRequest(sym, Side.SELL, qty, tag="multi_factor: dropped out of top N"))
        return screen(view, portfolio, orders, self)

    def _choose_targets(self, view: MarketView, portfolio: PortfolioView, today: date) -> None:
        score = view.feature(COMPOSITE)
        eligible = view.feature(ELIGIBLE) > 0
        ok = np.flatnonzero(np.isfinite(score) & eligible)
        if len(ok) == 0:
            self.log(f"{today}: no stock has a composite score; holding cash")
            self._targets = {}
            self._pending_buys = set()
            return
        # best first; ties broken by symbol order so that runs are reproducible
        order = ok[np.lexsort((ok, -score[ok]))]
        chosen: list[str] = []
        for k in order:  # skip what the rules cannot size (an HK stock without a known board lot)
            if self._lot_round(view.symbols[k], today, 10**7) > 0:
                chosen.append(view.symbols[k])
                if len(chosen) == self.params.top_n:
                    break
        value = portfolio.equity() * self.params.invest_fraction / self.params.top_n
        self._targets = {s: value for s in chosen}
        self._pending_buys = set(chosen)
        held = {s for s, pos in portfolio.positions().items() if pos.quantity > 0}
        self.log(f"{today}: rebalance to {len(chosen)} stocks ({len(ok)} eligible with scores); "
                 f"drop {len(held - set(chosen))}, add {len(set(chosen) - held)}")

    def _trim_overweight(self, view: MarketView, portfolio: PortfolioView, close: np.ndarray,
                         traded: np.ndarray, col: dict[str, int], today: date) -> list[OrderRequest]:
        orders = []
        for sym, target in self._targets.items():
            k = col[sym]
            held = portfolio.quantity(sym)
            if held <= 0 or not traded[k]:
                continue
            value = held * close[k]
            if value > target * (1 + self.params.trim_tolerance):
                excess = self._lot_round(sym, today, int((value - target) / close[k]))
                qty = sell_quantity(self._rules, sym, today, min(excess, portfolio.sellable(sym)), held)
                if qty > 0:
                    orders.append(OrderRequest(sym, Side.SELL, qty, tag="multi_factor: trim to equal weight"))
        return orders

    def _buy_targets(self, view: MarketView, portfolio: PortfolioView, close: np.ndarray,
                     traded: np.ndarray, col: dict[str, int], today: date) -> list[OrderRequest]:
        """Buy the shortfall of each target, within the cash there is now (kept 1% for fees)."""
        wants: list[tuple[str, int, float]] = []
        for sym in sorted(self._pending_buys):
            k = col[sym]
            if not traded[k]:
                continue  # suspended today: try again tomorrow
            short_value = self._targets[sym] - portfolio.quantity(sym) * close[k]
            if short_value <= self._targets[sym] * self.params.trim_tolerance and portfolio.quantity(sym) > 0:
                self._pending_buys.discard(sym)  # close enough to equal weight
                continue
            wants.append((sym, k, max(short_value, 0.0)))
        budget = float(portfolio.cash) * 0.99
        need = sum(w for _, _, w in wants)
        scale = min(1.0, budget / need) if need > 0 else 0.0
        orders = []
        for sym, k, want in wants:
            qty = self._lot_round(sym, today, int(want * scale / close[k]))
            self._pending_buys.discard(sym)
            if qty > 0:
                orders.append(OrderRequest(sym, Side.BUY, qty, tag="multi_factor: top N equal weight"))
        return orders

    def _lot_round(self, symbol: str, on: date, quantity: int) -> int:
        if quantity <= 0:
            return 0
        assert self._rules is not None
        try:
            return int(self._rules.round_buy_quantity(parse_symbol(symbol), on, quantity))
        except NofxError as exc:  # e.g. an HK stock missing from the board-lot table
            if symbol not in self._unsizable:
                self._unsizable.add(symbol)
                self.log(f"{on}: cannot size {symbol}, skipped: {exc}")
            return round_buy(None, symbol, on, 0)
