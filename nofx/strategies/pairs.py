"""Cointegration pairs trading (``pairs``).

Formation: every ``reform_every`` slices (first once ``formation_days`` of history exist), the
``max_universe`` most traded stocks of the last ``formation_days`` are screened with the vectorised
Engle-Granger test (:func:`nofx.models.cointegration.screen_pairs`); pairs with p < ``pvalue_max``
and a positive hedge ratio are taken best first, each stock in at most one pair, up to ``max_pairs``. Stocks suspended on more
than ``1 - min_traded_fraction`` of the window are left out (a suspension repeats one close for
weeks, which looks like a stationary spread).

Prices are the causal total-return prices (``close`` chained through ``preclose``, so an ex-dividend
gap is not a spread move), rescaled so that they equal the real close on the formation day: the
hedge ratio ``beta`` (``y = alpha + beta * x``) is then in shares of x per share of y.

Trading: z-score of the spread ``y - beta * x`` over a rolling ``z_window``; enter at |z| >=
``entry_z`` (short the spread when z is high: sell y, buy x; long it when z is low), exit when |z| <=
``exit_z``, stop out at |z| >= ``stop_z`` (the pair is then left alone until the next formation).
Both legs are sized by the hedge ratio and rounded to board lots.

Shorting is a market rule, not an assumption. The strategy asks the same rules the backtester
enforces (``allows_short``): A-shares only for instruments in the marginable table, HK only for
designated short-sell securities. When the short leg is not allowed the strategy trades the long leg
alone and says so in its log; when neither leg can be traded long it does nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Sequence

import numpy as np

from nofx.domain.enums import Side
from nofx.domain.errors import ConfigError, NofxError
from nofx.domain.instruments import Market, parse_symbol
from nofx.domain.orders import OrderRequest
from nofx.features.adjusted import adjustment_factor
from nofx.markets.base import MarketRules
from nofx.markets.cn import ChinaRules
from nofx.markets.hk import HongKongRules
from nofx.markets.none import NoRules
from nofx.markets.rulebook import RuleBook
from nofx.models.cointegration import screen_pairs
from nofx.strategies.base import MarketView, PortfolioView, Strategy, StrategyContext
from nofx.strategies.params import PairsParams
from nofx.strategies.registry import register_strategy
from nofx.strategies.sizing import round_buy, screen, sell_quantity

ADJ_CLOSE = "pairs.adj_close"


def strategy_rules(
    ctx: StrategyContext,
    mode: str = "auto",
    marginable_tables: Sequence[str] = (),
    hk_lot_tables: Sequence[str] = (),
    hk_short_tables: Sequence[str] = (),
) -> MarketRules:
    """The market rules a strategy sizes and checks shorts with.

    If the runner hands its own rules to the context (``ctx.rules``), those are used, so strategy and
    backtester cannot disagree. Otherwise the same rule classes are built from the bundled tables plus
    the given user tables; pass the files you pass to the backtest's ``rule_tables``."""
    given = getattr(ctx, "rules", None)
    if isinstance(given, MarketRules):
        return given
    if mode == "none":
        free = NoRules()
        return RuleBook({Market.CN: free, Market.HK: free}, name="none")
    by_market: dict[Market, MarketRules] = {}
    if mode in ("auto", "cn"):
        by_market[Market.CN] = ChinaRules(marginable_tables=list(marginable_tables))
    if mode in ("auto", "hk"):
        by_market[Market.HK] = HongKongRules(lot_tables=list(hk_lot_tables), short_tables=list(hk_short_tables))
    if not by_market:
        raise ConfigError(f"unknown rules mode {mode!r}", rules=mode)
    return RuleBook(by_market, name=mode)


@dataclass
class Pair:
    """One traded pair: formation parameters, state and the leg quantities it wants to hold."""

    y: str
    x: str
    alpha: float
    beta: float
    pvalue: float
    scale_y: float  # real close / adjusted close on the formation day
    scale_x: float
    state: int = 0  # +1 long spread (long y, short x), -1 short spread, 0 flat
    stopped: bool = False
    retired: bool = False  # no longer selected: close, then forget
    target: dict[str, int] = field(default_factory=dict)  # symbol -> wanted quantity (negative: short)


@register_strategy
class PairsTrading(Strategy):
    name = "pairs"
    Params = PairsParams
    params: PairsParams

    def __init__(self, params: PairsParams | None = None) -> None:
        super().__init__(params)
        self._rules: MarketRules | None = None
        self._pairs: list[Pair] = []
        self._last_formation: int | None = None

    def on_start(self, ctx: StrategyContext) -> None:
        p = self.params
        self._rules = strategy_rules(ctx, p.rules, p.marginable_tables, p.hk_lot_tables, p.hk_short_tables)
        ctx.add_feature(ADJ_CLOSE, lambda panel: panel["close"] * adjustment_factor(panel["close"], panel["preclose"]))
        if p.universe is not None:
            missing = sorted(set(p.universe) - set(ctx.symbols))
            if missing:
                raise ConfigError("pairs universe symbols not in the data", symbols=",".join(missing))

    # --- rules ------------------------------------------------------------------------------------
    def may_short(self, symbol: str, on: date) -> bool:
        assert self._rules is not None
        return bool(self._rules.allows_short(parse_symbol(symbol), on))

    def _lots(self, symbol: str, on: date, quantity: int) -> int:
        assert self._rules is not None
        try:
            return int(self._rules.round_buy_quantity(parse_symbol(symbol), on, max(quantity, 0)))
        except NofxError as exc:  # e.g. an HK stock missing from the board-lot table
            self.log(f"{on}: cannot size {symbol}: {exc}")
            return 0

    # --- formation --------------------------------------------------------------------------------
    def _form(self, view: MarketView, today: date) -> None:
        p = self.params
        n = p.formation_days
        adj = view.feature_history(ADJ_CLOSE, n)
        close = view.current("close")
        traded = (view.current("trade_status") == 1) & (view.current("is_st") != 1)
        # liquidity by traded value close * volume (HK files have no ``amount`` column)
        value = view.history("close", n) * view.history("volume", n)
        with np.errstate(invalid="ignore"):
            liquidity = np.where(np.isfinite(value), value, 0.0).mean(axis=0)
        stock = np.array([not parse_symbol(s).is_index for s in view.symbols])
        traded_days = (view.history("trade_status", n) == 1).mean(axis=0)
        ok = stock & traded & np.isfinite(adj).all(axis=0) & np.isfinite(close) & (traded_days >= p.min_traded_fraction)
        if p.universe is not None:
            ok &= np.isin(np.asarray(view.symbols), p.universe)
        cols = np.flatnonzero(ok)
        if len(cols) > p.max_universe:
            cols = np.sort(cols[np.argsort(-liquidity[cols], kind="stable")[: p.max_universe]])
        if len(cols) < 2:
            self.log(f"{today}: formation skipped, fewer than 2 stocks with {n} complete days")
            return
        scale = close[cols] / adj[-1, cols]
        prices = adj[:, cols] * scale
        syms = tuple(view.symbols[k] for k in cols)
        found = screen_pairs(prices, syms, maxlag=p.maxlag, autolag=p.autolag, pvalue_max=p.pvalue_max)
        found = found[found["beta"] > 0]
        chosen: list[Pair] = []
        used: set[str] = set()
        sc = dict(zip(syms, scale))
        for row in found.itertuples(index=False):
            if row.y in used or row.x in used:
                continue
            chosen.append(Pair(row.y, row.x, float(row.alpha), float(row.beta), float(row.pvalue),
                               float(sc[row.y]), float(sc[row.x])))
            used.update((row.y, row.x))
            if len(chosen) == p.max_pairs:
                break
        for old in self._pairs:
            old.retired = True
        self._pairs = [q for q in self._pairs if q.state != 0] + chosen
        self.log(f"{today}: screened {len(cols)} stocks ({len(cols) * (len(cols) - 1) // 2} pairs), "
                 f"{len(found)} with p < {p.pvalue_max}; trading "
                 + (", ".join(f"{q.y}/{q.x} (beta {q.beta:.3f}, p {q.pvalue:.2g})" for q in chosen) or "none"))

    # --- trading ----------------------------------------------------------------------------------
    def _zscore(self, view: MarketView, pair: Pair, col: dict[str, int]) -> float:
        adj = view.feature_history(ADJ_CLOSE, self.params.z_window)
        if adj.shape[0] < self.params.z_window:
            return np.nan
        spread = adj[:, col[pair.y]] * pair.scale_y - pair.beta * adj[:, col[pair.x]] * pair.scale_x
        sd = np.std(spread, ddof=1)
        return float((spread[-1] - spread.mean()) / sd) if sd > 0 else np.nan

    def _enter(self, view: MarketView, portfolio: PortfolioView, pair: Pair, direction: int,
               col: dict[str, int], today: date, z: float) -> None:
        long_sym, short_sym = (pair.y, pair.x) if direction > 0 else (pair.x, pair.y)
        close = view.current("close")
        adj = view.feature(ADJ_CLOSE)
        a_y = adj[col[pair.y]] * pair.scale_y
        a_x = adj[col[pair.x]] * pair.scale_x
        budget = portfolio.equity() * self.params.capital_per_pair
        units = budget / (a_y + pair.beta * a_x)  # shares of y; x gets beta times as many (in adjusted terms)
        raw = {pair.y: units * a_y / close[col[pair.y]], pair.x: units * pair.beta * a_x / close[col[pair.x]]}
        shortable = self.may_short(short_sym, today)
        if not shortable:
            # the long leg alone, sized as it would be in the hedged pair (its share of the pair budget)
            self.log(f"{today}: {pair.y}/{pair.x} z={z:+.2f}: short sale of {short_sym} is not allowed by the "
                     f"{parse_symbol(short_sym).market.value.upper()} rules on {today} (not marginable / not a "
                     f"designated short-sell security); trading the long leg {long_sym} alone")
        q_long = self._lots(long_sym, today, int(raw[long_sym]))
        q_short = self._lots(short_sym, today, int(raw[short_sym])) if shortable else 0
        if q_long == 0 or (shortable and q_short == 0):
            self.log(f"{today}: {pair.y}/{pair.x} z={z:+.2f}: no valid lot quantity for a leg (budget or board lot); skipped")
            return
        pair.state = direction
        pair.target = {long_sym: q_long}
        if q_short:
            pair.target[short_sym] = -q_short
        legs = ", ".join(f"{'long' if q > 0 else 'short'} {abs(q)} {s}" for s, q in pair.target.items())
        self.log(f"{today}: {pair.y}/{pair.x} z={z:+.2f}: enter {'long' if direction > 0 else 'short'} spread: {legs}")

    def _close(self, pair: Pair, today: date, why: str, z: float) -> None:
        if pair.state != 0:
            self.log(f"{today}: {pair.y}/{pair.x} z={z:+.2f}: {why}")
        pair.state = 0
        pair.target = {}

    def on_slice(self, view: MarketView, portfolio: PortfolioView) -> Sequence[OrderRequest]:
        p = self.params
        today = view.timestamp.astype("datetime64[D]").item()
        if view.index + 1 >= p.formation_days and (
                self._last_formation is None or view.index - self._last_formation >= p.reform_every):
            self._last_formation = view.index
            self._form(view, today)
        if not self._pairs:
            return ()
        col = {s: k for k, s in enumerate(view.symbols)}
        for pair in self._pairs:
            z = self._zscore(view, pair, col)
            if not np.isfinite(z):
                continue
            if pair.retired:
                if pair.state != 0:
                    self._close(pair, today, "pair no longer selected at re-formation: close", z)
                continue
            if pair.state != 0 and abs(z) >= p.stop_z:
                self._close(pair, today, f"stop (|z| >= {p.stop_z}): close and stand aside until next formation", z)
                pair.stopped = True
            elif pair.state > 0 and z >= -p.exit_z or pair.state < 0 and z <= p.exit_z:
                self._close(pair, today, "spread back to the mean: close", z)
            elif pair.state == 0 and not pair.stopped and p.entry_z <= abs(z) < p.stop_z:
                self._enter(view, portfolio, pair, -1 if z > 0 else 1, col, today, z)
        self._pairs = [q for q in self._pairs if not (q.retired and q.state == 0)]
        return self._orders(view, portfolio, col)

    def _orders(self, view: MarketView, portfolio: PortfolioView, col: dict[str, int]) -> list[OrderRequest]:
        """Trade each symbol from what it holds to what the pairs want together."""
        want: dict[str, int] = {}
        for pair in self._pairs:
            for s, q in pair.target.items():
                want[s] = want.get(s, 0) + q
        symbols = set(want) | {s for s, pos in portfolio.positions().items() if pos.quantity != 0}
        status = view.current("trade_status")
        orders = []
        for s in sorted(symbols):
            k = col.get(s)
            if k is None or status[k] != 1:
                continue  # suspended: wait
            held = portfolio.quantity(s)
            diff = want.get(s, 0) - held
            if diff > 0 and self._rules.quantity_error(parse_symbol(s), view.day, Side.BUY, diff, held):
                diff = round_buy(self._rules, s, view.day, diff)  # whole lots of what is wanted
            if diff > 0:
                orders.append(OrderRequest(s, Side.BUY, diff, tag="pairs"))
            elif diff < 0:
                qty = -diff
                if held > 0:  # selling a long: only what T+1 lets us sell now, the rest comes later
                    qty = min(qty, portfolio.sellable(s)) if want.get(s, 0) >= 0 else qty
                if held > 0 and qty <= held:
                    qty = sell_quantity(self._rules, s, view.day, qty, held)  # lots, or the whole holding
                if qty > 0:
                    orders.append(OrderRequest(s, Side.SELL, qty, tag="pairs"))
        return screen(view, portfolio, orders, self)
