"""One instrument's bars prepared for the RL environment, and a small cash account that trades them
under a market's rules (T+1, lots, price limits, fees).

This is research code: money is float here (the ledger of the real engine keeps Decimal), but every
rule decision and every fee comes from the :class:`~nofx.markets.base.MarketRules` object, so the
environment refuses exactly what the market would refuse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd

from nofx.data.corporate_actions import plan_actions
from nofx.data.panel import day_preclose
from nofx.domain.enums import Side
from nofx.domain.errors import DataError
from nofx.domain.instruments import Instrument, parse_symbol
from nofx.markets.base import MarketRules
from nofx.models.rl.observation import finite_features, market_features

# Candidate sizes probed to find an instrument's minimum buy (A-share 100, STAR 200, HK board lots).
_LOT_CANDIDATES = (1, 10, 20, 50, 100, 200, 250, 300, 400, 500, 1000, 2000, 2500, 4000, 5000, 10000)


def minimum_lot(rules: MarketRules, inst: Instrument, on: date) -> int:
    """Smallest quantity the market accepts as a buy: the "lot" of the environment's actions."""
    for q in _LOT_CANDIDATES:
        if rules.round_buy_quantity(inst, on, q) == q and rules.quantity_error(inst, on, Side.BUY, q, 0) is None:
            return q
    raise DataError("could not find a valid buy quantity for this instrument", symbol=inst.symbol, on=on)


@dataclass(frozen=True)
class StockSeries:
    """Arrays of one instrument's bars, its price-limit band and its market features (row-aligned)."""

    inst: Instrument
    timestamps: np.ndarray  # datetime64[ns]
    dates: tuple[date, ...]
    open: np.ndarray
    close: np.ndarray
    tradable: np.ndarray  # bool: traded (not suspended) with volume
    lower: np.ndarray  # NaN = no limit
    upper: np.ndarray
    features: np.ndarray  # (T, len(MARKET_FEATURES)), finite
    # row -> (cash per share, split ratio) of a dividend/split booked before that row's open: raw prices
    # only, exactly as the backtest books them (nofx.data.corporate_actions.plan_actions)
    actions: dict[int, tuple[float, float]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.timestamps)

    @classmethod
    def from_bars(cls, bars: pd.DataFrame, symbol: str, rules: MarketRules, prices: str = "auto") -> "StockSeries":
        """Build from a canonical long frame (``nofx.data.bars.read_bars``) for one ``symbol``.
        ``prices``: raw / adjusted / auto (what the file declares), as ``BacktestConfig.prices``."""
        inst = parse_symbol(symbol)
        df = bars[bars["symbol"] == inst.symbol].sort_values("datetime")
        if len(df) < 2:
            raise DataError("not enough bars for this symbol", symbol=inst.symbol, rows=len(df))
        ts = df["datetime"].to_numpy(dtype="datetime64[ns]")
        o, h, lo, c = (df[k].to_numpy(dtype="float64") for k in ("open", "high", "low", "close"))
        pre = df["preclose"].to_numpy(dtype="float64") if "preclose" in df else None
        vol = df["volume"].to_numpy(dtype="float64")
        status = df["trade_status"].to_numpy(dtype="float64") if "trade_status" in df else np.ones(len(df))
        is_st = df["is_st"].fillna(0).to_numpy(dtype="float64") if "is_st" in df else np.zeros(len(df))
        day_pc = day_preclose(ts, c, pre)
        days = ts.astype("datetime64[D]")
        # days_listed is unknown from a slice of history (-1): the rules then apply their normal band
        lower, upper = rules.limit_arrays(inst, days, day_pc, is_st.astype(bool), np.full(len(ts), -1))
        feats = finite_features(market_features(c, h, lo, pre if pre is not None else np.full(len(c), np.nan)))
        tradable = (np.nan_to_num(status, nan=1.0) > 0) & (vol > 0) & np.isfinite(o) & (o > 0)
        row_of = {d: k for k, d in enumerate(pd.DatetimeIndex(ts).date)}
        # as in the backtest: none booked under the frictionless rules (``--rules none``)
        plan = plan_actions(df, bars.attrs, prices, book=rules.name != "none")
        actions = {row_of[a.ex_date]: (float(a.cash_per_share), float(a.split_ratio))
                   for a in plan.actions if a.ex_date in row_of}
        return cls(
            inst=inst,
            timestamps=ts,
            dates=tuple(pd.DatetimeIndex(ts).date),
            open=o,
            close=c,
            tradable=tradable,
            lower=np.asarray(lower, dtype="float64"),
            upper=np.asarray(upper, dtype="float64"),
            features=feats,
            actions=actions,
        )

    def index_range(self, start: date | None, end: date | None) -> tuple[int, int]:
        """First and last row index within ``[start, end]`` (inclusive)."""
        days = self.timestamps.astype("datetime64[D]")
        i0 = 0 if start is None else int(np.searchsorted(days, np.datetime64(start, "D"), side="left"))
        i1 = len(days) - 1 if end is None else int(np.searchsorted(days, np.datetime64(end, "D"), side="right")) - 1
        if i1 - i0 < 1:
            raise DataError("period holds fewer than two bars", symbol=self.inst.symbol, start=start, end=end)
        return i0, i1


@dataclass(frozen=True, slots=True)
class TradeOutcome:
    quantity: int  # signed: + bought, - sold, 0 nothing
    price: float
    fee: float
    refused: str | None  # why a requested trade did not happen (None when it did or none was asked)


class Account:
    """Cash and one holding, with the shares bought on the current date tracked for T+1."""

    __slots__ = ("cash", "quantity", "_bought_on", "_bought_qty")

    def __init__(self, cash: float) -> None:
        self.cash = float(cash)
        self.quantity = 0
        self._bought_on: date | None = None
        self._bought_qty = 0

    def equity(self, price: float) -> float:
        return self.cash + self.quantity * price

    def corporate_action(self, cash_per_share: float, split_ratio: float) -> None:
        """A dividend / split on the holding (gross: dividend tax is not modelled in this research account)."""
        if self.quantity <= 0:
            return
        self.cash += round(cash_per_share * self.quantity, 2)
        if split_ratio != 1.0:
            self._bought_qty = int(self._bought_qty * split_ratio)
            self.quantity = int(self.quantity * split_ratio)

    def sellable(self, rules: MarketRules, inst: Instrument, on: date) -> int:
        if self._bought_on == on and rules.sell_locked_until_next_day(inst, on):
            return self.quantity - self._bought_qty
        return self.quantity

    def _fee(self, rules: MarketRules, inst: Instrument, on: date, side: Side, qty: int, price: float) -> float:
        return float(rules.fees(inst, on, side, qty, Decimal(repr(round(price, 3)))).total)

    def buy(self, rules: MarketRules, series: StockSeries, i: int, quantity: int, lot: int) -> TradeOutcome:
        """Buy up to ``quantity`` at row ``i``'s open, shrinking by whole lots to what cash pays for."""
        inst, on, price = series.inst, series.dates[i], float(series.open[i])
        if not series.tradable[i]:
            return TradeOutcome(0, price, 0.0, "suspended")
        price = float(rules.fill_price(inst, on, price, Side.BUY))  # an exchange price (adjusted bars are not)
        if np.isfinite(series.upper[i]) and price >= series.upper[i] - 1e-9:
            return TradeOutcome(0, price, 0.0, "open at the upper price limit")
        qty = rules.round_buy_quantity(inst, on, quantity)
        fee = 0.0
        while qty > 0:
            fee = self._fee(rules, inst, on, Side.BUY, qty, price)
            if qty * price + fee <= self.cash:
                break
            qty = rules.round_buy_quantity(inst, on, qty - lot)
        if qty <= 0:
            return TradeOutcome(0, price, 0.0, "not enough cash for one lot")
        why = rules.quantity_error(inst, on, Side.BUY, qty, self.quantity)
        if why is not None:
            return TradeOutcome(0, price, 0.0, why)
        self.cash -= qty * price + fee
        self.quantity += qty
        if self._bought_on != on:
            self._bought_on, self._bought_qty = on, 0
        self._bought_qty += qty
        return TradeOutcome(qty, price, fee, None)

    def sell(self, rules: MarketRules, series: StockSeries, i: int, quantity: int, lot: int) -> TradeOutcome:
        """Sell up to ``quantity`` at row ``i``'s open, never shares locked by T+1."""
        inst, on, price = series.inst, series.dates[i], float(series.open[i])
        if self.quantity == 0:
            return TradeOutcome(0, price, 0.0, "no holding")
        if not series.tradable[i]:
            return TradeOutcome(0, price, 0.0, "suspended")
        price = float(rules.fill_price(inst, on, price, Side.SELL))
        if np.isfinite(series.lower[i]) and price <= series.lower[i] + 1e-9:
            return TradeOutcome(0, price, 0.0, "open at the lower price limit")
        free = self.sellable(rules, inst, on)
        if free <= 0:
            return TradeOutcome(0, price, 0.0, "shares bought today are locked until the next day (T+1)")
        qty = min(quantity, free)
        if rules.quantity_error(inst, on, Side.SELL, qty, self.quantity) is not None:
            qty = (qty // lot) * lot  # odd lots only to sell out the whole holding
        why = rules.quantity_error(inst, on, Side.SELL, qty, self.quantity) if qty > 0 else "below one lot"
        if why is not None:
            return TradeOutcome(0, price, 0.0, why)
        fee = self._fee(rules, inst, on, Side.SELL, qty, price)
        self.cash += qty * price - fee
        self.quantity -= qty
        return TradeOutcome(-qty, price, fee, None)
