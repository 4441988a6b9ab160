"""Trade a trained model's scores: hold the top-k, replace at most ``n_drop`` names a day.

This is Qlib's ``TopkDropoutStrategy``: each day rank the held names together with the best
non-held candidates; sell the held names that rank among the ``n_drop`` worst of that combined list,
and buy as many of the best non-held names as keeps the book at ``topk``. The dropout limit keeps
turnover (and so A-share stamp duty and commission) bounded whatever the model's day-to-day noise.
Scores come from ``nofx.models.run.TrainedRun.predict_panel``, which is causal (row t uses data <= t).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from pydantic import Field

from nofx.domain.enums import OrderType, Side
from nofx.domain.orders import OrderRequest
from nofx.strategies.base import MarketView, PortfolioView, Strategy, StrategyContext, StrategyParams
from nofx.strategies.registry import register_strategy


class MLTopKParams(StrategyParams):
    model: str  # a run directory written by `nofx model train`
    topk: int = Field(default=50, ge=1)
    n_drop: int = Field(default=5, ge=1)
    lot: int = Field(default=100, ge=1)  # buys are rounded down to whole lots
    cash_buffer: float = Field(default=0.02, ge=0, lt=1)  # share of equity kept back for fees and gaps
    device: str = "cpu"


def topk_dropout(scores: np.ndarray, held: np.ndarray, buyable: np.ndarray, sellable: np.ndarray,
                 topk: int, n_drop: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices to sell and to buy (best first), from one day's scores.

    ``held``/``buyable``/``sellable`` are boolean masks over the columns. A held name without a score
    ranks last (the model has nothing good to say about it); NaN-scored names are never bought.
    """
    s = np.where(np.isfinite(scores), scores, -np.inf)
    held_idx = np.flatnonzero(held)
    last = held_idx[np.argsort(-s[held_idx], kind="stable")]
    cand = np.flatnonzero(~held & buyable & np.isfinite(scores))
    cand = cand[np.argsort(-s[cand], kind="stable")]
    today = cand[: max(0, n_drop + topk - len(last))]
    comb = np.concatenate([last, today])
    comb = comb[np.argsort(-s[comb], kind="stable")]
    worst = set(comb[-n_drop:].tolist()) if len(comb) > topk - n_drop else set()
    # only names outside the top-k can be dropped, and only if the venue lets us sell them today
    in_top = set(comb[:topk].tolist())
    sell = np.array([i for i in last if i in worst and i not in in_top and sellable[i]], dtype=np.int64)
    n_buy = len(sell) + topk - len(last)
    buy = today[: max(0, n_buy)]
    return sell, buy


@register_strategy
class MLTopKStrategy(Strategy):
    name = "ml_topk"
    Params = MLTopKParams

    def on_start(self, ctx: StrategyContext) -> None:
        # imported here: the models package (torch, lightgbm) is only needed by this strategy
        from nofx.models.run import TrainedRun

        p: MLTopKParams = self.params  # type: ignore[assignment]
        self._run = TrainedRun.load(p.model, device=p.device)
        ctx.add_feature("score", lambda panel: self._run.predict_panel(panel))

    def on_slice(self, view: MarketView, portfolio: PortfolioView) -> Sequence[OrderRequest]:
        p: MLTopKParams = self.params  # type: ignore[assignment]
        symbols = view.symbols
        col = {s: i for i, s in enumerate(symbols)}
        scores = view.feature("score")
        close = view.current("close")
        status = view.current("trade_status")
        tradable = (status == 1) & np.isfinite(close) & (close > 0)
        n = len(symbols)
        held = np.zeros(n, bool)
        sellable = np.zeros(n, bool)
        for sym, pos in portfolio.positions().items():
            i = col.get(sym)
            if i is not None and pos.quantity > 0:
                held[i] = True
                sellable[i] = pos.sellable > 0 and tradable[i]
        sell, buy = topk_dropout(scores, held, tradable, sellable, p.topk, p.n_drop)
        orders: list[OrderRequest] = []
        proceeds = 0.0
        for i in sell:  # sells first: their cash pays for the buys
            qty = portfolio.sellable(symbols[i])
            if qty > 0:
                orders.append(OrderRequest(symbols[i], Side.SELL, int(qty), OrderType.MARKET, tag="ml_topk drop"))
                proceeds += qty * float(close[i])
        equity = portfolio.equity()
        cash = float(portfolio.cash) + proceeds * 0.998 - p.cash_buffer * equity
        if len(buy) and cash > 0:
            per_name = min(equity / p.topk, cash / len(buy))
            for i in buy:
                qty = int(per_name / float(close[i]) // p.lot) * p.lot
                if qty > 0:
                    orders.append(OrderRequest(symbols[i], Side.BUY, qty, OrderType.MARKET, tag="ml_topk top-k"))
        if orders:
            self.log(f"{view.timestamp}: sell {len(sell)}, buy {len(buy)} (score-ranked top-{p.topk})")
        return orders

    def describe(self) -> dict[str, Any]:
        return dict(self.params.model_dump())
