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
import pandas as pd

from nofx.data.panel import BarPanel
from nofx.domain.enums import OrderType, Side
from nofx.domain.errors import ConfigError, DataError
from nofx.domain.orders import OrderRequest
from nofx.strategies.base import MarketView, PortfolioView, Strategy, StrategyContext, StrategyParams
from nofx.strategies.params import MLTopKParams
from nofx.strategies.registry import register_strategy

# price move to the next open plus fees that a buy's cash must cover (risk rejects a buy it can't pay)
_BUY_SLACK = 0.03


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


def align_scores(frame: pd.DataFrame, panel: BarPanel) -> np.ndarray:
    """(T, N) array of ``frame``'s scores on the panel's axes; missing (datetime, symbol) -> NaN.
    A score stamped at t was computed from data <= t, so putting it on row t is causal."""
    out = np.full(panel.shape, np.nan)
    t = np.searchsorted(panel.timestamps, frame["datetime"].to_numpy(dtype="datetime64[ns]"))
    col = {s: i for i, s in enumerate(panel.symbols)}
    n = frame["symbol"].map(col).to_numpy(dtype="float64")
    ok = np.isfinite(n) & (t < len(panel.timestamps))
    ok[ok] &= panel.timestamps[t[ok]] == frame["datetime"].to_numpy(dtype="datetime64[ns]")[ok]
    out[t[ok], n[ok].astype(np.int64)] = frame["score"].to_numpy(dtype="float64")[ok]
    return out


def _read_preds(path: str | None) -> pd.DataFrame:
    try:
        df = pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read predictions file: {exc}", file=path) from None
    missing = {"datetime", "symbol", "score"} - set(df.columns)
    if missing:
        raise DataError("predictions file lacks columns", file=path, missing=",".join(sorted(missing)))
    return df


@register_strategy
class MLTopKStrategy(Strategy):
    name = "ml_topk"
    Params = MLTopKParams

    def __init__(self, params: StrategyParams | None = None, scores: pd.DataFrame | None = None) -> None:
        """``scores`` (datetime, symbol, score), e.g. computed with a longer warm-up history than the
        backtest's bars, replaces ``model``/``preds``."""
        super().__init__(params)
        p: MLTopKParams = self.params  # type: ignore[assignment]
        if scores is None and p.model is None and p.preds is None:
            raise ConfigError("ml_topk needs model=RUN_DIR or preds=FILE", strategy=self.name)
        self._scores = scores

    def on_start(self, ctx: StrategyContext) -> None:
        p: MLTopKParams = self.params  # type: ignore[assignment]
        if self._scores is not None or p.preds is not None:
            frame = self._scores if self._scores is not None else _read_preds(p.preds)
            ctx.add_feature("score", lambda panel: align_scores(frame, panel))
            return
        # imported here: the models package (torch, lightgbm) is only needed when scoring live
        from nofx.models.run import TrainedRun

        run = TrainedRun.load(p.model, device=p.device)
        # the model sees only the backtest's bars: the first days of the window have a short history
        # (padded and masked); `nofx model eval` passes scores computed with a warm-up instead
        ctx.add_feature("score", lambda panel: run.predict_panel(panel))

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
        for i in sell:  # sells first
            qty = portfolio.sellable(symbols[i])
            if qty > 0:
                orders.append(OrderRequest(symbols[i], Side.SELL, int(qty), OrderType.MARKET, tag="ml_topk drop"))
        # Buys spend only the cash there is now: the sells fill at the next bar, and risk checks each buy
        # against current cash. Their proceeds fund the next day's buys (the book refills one day later).
        equity = portfolio.equity()
        cash = float(portfolio.cash) - p.cash_buffer * equity
        target = equity / p.topk
        for i in buy:  # best first, each at an equal share of equity, while cash lasts
            px = float(close[i]) * (1.0 + _BUY_SLACK)
            qty = int(min(target, cash) / px // p.lot) * p.lot
            if qty <= 0:
                break
            orders.append(OrderRequest(symbols[i], Side.BUY, qty, OrderType.MARKET, tag="ml_topk top-k"))
            cash -= qty * px
        if orders:
            self.log(f"{view.timestamp}: sell {len(sell)}, buy {len(buy)} (score-ranked top-{p.topk})")
        return orders

    def describe(self) -> dict[str, Any]:
        return dict(self.params.model_dump())
