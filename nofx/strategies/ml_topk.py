"""Trade a trained model's scores: hold the top-k, replace at most ``n_drop`` names a day.

This is Qlib's ``TopkDropoutStrategy``: each day rank the held names together with the best
non-held candidates; sell the held names that rank among the ``n_drop`` worst of that combined list,
and buy as many of the best non-held names as keeps the book at ``topk``. The dropout limit keeps
turnover (and so A-share stamp duty and commission) bounded whatever the model's day-to-day noise.
Scores come from ``nofx.models.run.TrainedRun.predict_panel``, which is causal (row t uses data <= t).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from nofx.data.panel import BarPanel
from nofx.domain.enums import OrderType, Side
from nofx.domain.errors import ConfigError, DataError
from nofx.domain.instruments import parse_symbol
from nofx.domain.orders import OrderRequest
from nofx.strategies.base import MarketView, PortfolioView, Strategy, StrategyContext, StrategyParams
from nofx.strategies.params import MLTopKParams
from nofx.strategies.registry import register_strategy
from nofx.strategies.sizing import buy_quantity, round_buy, screen, sell_quantity

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


# parquet metadata key (and frame attrs key) holding the model's {"train": "START:END", "valid": ...}
PERIODS_ATTR = "nofx_model_periods"


def write_predictions(preds: pd.DataFrame, path: str | Path) -> None:
    """Write scores with the model's training/validation periods (``preds.attrs[PERIODS_ATTR]``) in the
    file's metadata."""
    import pyarrow as pa  # here: reading the strategy list must stay light
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(preds, preserve_index=False)
    periods = preds.attrs.get(PERIODS_ATTR)
    if periods:
        meta = dict(table.schema.metadata or {})
        meta[PERIODS_ATTR.encode()] = json.dumps(periods).encode()
        table = table.replace_schema_metadata(meta)
    pq.write_table(table, path)


def _read_preds(path: str | None) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
        df = table.to_pandas()
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise DataError(f"cannot read predictions file: {exc}", file=path) from None
    missing = {"datetime", "symbol", "score"} - set(df.columns)
    if missing:
        raise DataError("predictions file lacks columns", file=path, missing=",".join(sorted(missing)))
    raw = (table.schema.metadata or {}).get(PERIODS_ATTR.encode())
    if raw:
        df.attrs[PERIODS_ATTR] = json.loads(raw)
    return df


def in_sample_overlap(periods: dict[str, str], first: date, last: date) -> list[str]:
    """The model periods ("train"/"valid" -> "START:END") that overlap ``first..last``, described."""
    found = []
    for name in ("train", "valid"):
        span = periods.get(name)
        if not span:
            continue
        a, b = (date.fromisoformat(x) for x in span.split(":"))
        if a <= last and first <= b:
            found.append(f"{'training' if name == 'train' else 'validation'} period {a}..{b}")
    return found


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
        stocks = [s for s in ctx.symbols if not parse_symbol(s).is_index]
        if p.topk > len(stocks):
            self.warn(f"topk={p.topk} exceeds the {len(stocks)} stocks in the universe: the book holds at most "
                      f"{len(stocks)} names, each at 1/{p.topk} of equity")
        if self._scores is not None or p.preds is not None:
            frame = self._scores if self._scores is not None else _read_preds(p.preds)
            self._warn_in_sample(frame.attrs.get(PERIODS_ATTR) or {}, ctx)
            ctx.add_feature("score", lambda panel: align_scores(frame, panel))
            return
        # imported here: the models package (torch, lightgbm) is only needed when scoring live
        from nofx.models.run import TrainedRun

        run = TrainedRun.load(p.model, device=p.device)
        self._warn_in_sample({"train": f"{run.cfg.train.start}:{run.cfg.train.end}",
                              "valid": f"{run.cfg.valid.start}:{run.cfg.valid.end}"}, ctx)
        # the model sees only the backtest's bars: the first days of the window have a short history
        # (padded and masked); `nofx model eval` passes scores computed with a warm-up instead
        ctx.add_feature("score", lambda panel: run.predict_panel(panel))

    def _warn_in_sample(self, periods: dict[str, str], ctx: StrategyContext) -> None:
        if not periods or len(ctx.timestamps) == 0:
            return
        first = ctx.timestamps[0].astype("datetime64[D]").item()
        last = ctx.timestamps[-1].astype("datetime64[D]").item()
        overlap = in_sample_overlap(periods, first, last)
        if overlap:
            self.warn(f"the backtest {first}..{last} overlaps the model's {' and '.join(overlap)}: "
                      f"its results are in-sample")

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
        day = view.day
        for i in sell:  # sells first
            qty = sell_quantity(view.rules, symbols[i], day, portfolio.sellable(symbols[i]),
                                portfolio.quantity(symbols[i]))
            if qty > 0:
                orders.append(OrderRequest(symbols[i], Side.SELL, int(qty), OrderType.MARKET, tag="ml_topk drop"))
        # Buys spend only the cash there is now: the sells fill at the next bar, and risk checks each buy
        # against current cash. Their proceeds fund the next day's buys (the book refills one day later).
        equity = portfolio.equity()
        cash = float(portfolio.cash) - p.cash_buffer * equity
        target = equity / p.topk
        for i in buy:  # best first, each at an equal share of equity, while cash lasts
            px = float(close[i]) * (1.0 + _BUY_SLACK)
            qty = buy_quantity(view.rules, symbols[i], day, min(target, cash), px)
            if p.lot is not None:
                qty = round_buy(view.rules, symbols[i], day, qty // p.lot * p.lot)
            if qty <= 0:
                continue  # its minimum buy costs more than its share (a STAR stock's 200): next name
            orders.append(OrderRequest(symbols[i], Side.BUY, qty, OrderType.MARKET, tag="ml_topk top-k"))
            cash -= qty * px
        orders = screen(view, portfolio, orders, self)
        if orders:
            self.log(f"{view.timestamp}: sell {len(sell)}, buy {len(buy)} (score-ranked top-{p.topk})")
        return orders

    def describe(self) -> dict[str, Any]:
        return dict(self.params.model_dump())
