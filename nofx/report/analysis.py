"""The numbers behind a backtest report's research sections, as plain pandas frames (no HTML, no plotly),
so the HTML report, the dashboard and tests share them:

    period_returns(equity) -> DataFrame               monthly returns by year, plus each year's return
    excess_curve(equity, benchmark) -> Series | None  cumulative geometric excess return
    rolling_stats(equity, benchmark, periods_per_year, window) -> DataFrame  sharpe, volatility, beta
    exposure_frame(equity_frame) -> DataFrame         exposure (holdings / equity) and cash
    replay_ledger(result) -> LedgerReplay             per-symbol PnL, round trips (the ledger's own accounting)
    round_trip_stats(trips) -> dict                   win/loss statistics of closed round trips
    fee_components(fills, parts) -> FeeTotals         fees by component, exact
    trades_frame(fills, parts) -> DataFrame           the complete trade list (for CSV)

Money stays Decimal: symbol PnL, round trips and fees add up to the ledger's totals to the cent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from nofx.domain.enums import Side
from nofx.domain.fills import FeeBreakdown, Fill
from nofx.engine.portfolio import Portfolio

ZERO = Decimal(0)
FEE_COMPONENTS = ("commission", "stamp_duty", "transfer_fee", "levies", "trading_fee")


# ---- returns ------------------------------------------------------------------------------------------
def period_returns(equity: pd.Series) -> pd.DataFrame:
    """Index: year; columns 1..12 (months with data) and ``"year"``: each month's return from the previous
    month's last equity (the first month from the first equity point), each year's the same way; so the
    months of a year compound to its year, and the years to the run's total return."""
    values = equity.astype("float64")
    if values.empty:
        return pd.DataFrame(columns=["year"])
    idx = pd.DatetimeIndex(values.index)
    month_end = values.groupby([idx.year, idx.month]).last()
    monthly = month_end / month_end.shift(1).fillna(values.iloc[0]) - 1.0
    table = monthly.unstack()
    table.index.name, table.columns.name = "year", None
    year_end = values.groupby(idx.year).last()
    table["year"] = year_end / year_end.shift(1).fillna(values.iloc[0]) - 1.0
    return table


def excess_curve(equity: pd.Series, benchmark: pd.Series | None) -> pd.Series | None:
    """(1 + strategy's cumulative return) / (1 + benchmark's) - 1 from the benchmark's first quote: the
    growth of one unit held in the strategy rather than the benchmark. None without two quotes."""
    if benchmark is None:
        return None
    bench = benchmark.reindex(equity.index).astype("float64").ffill()
    first = bench.first_valid_index()
    if first is None or bench.notna().sum() < 2:
        return None
    strat = equity.astype("float64").loc[first:]
    b = bench.loc[first:]
    return ((strat / strat.iloc[0]) / (b / b.iloc[0]) - 1.0).rename("excess")


def rolling_window(n_returns: int, periods_per_year: float) -> int:
    """About six months of periods, at least 5, and at most a third of the run (so short runs still show)."""
    half_year = max(5, int(round(periods_per_year / 2)))
    return max(5, min(half_year, n_returns // 3)) if n_returns >= 15 else 0


def rolling_stats(equity: pd.Series, benchmark: pd.Series | None, periods_per_year: float,
                  window: int | None = None) -> pd.DataFrame:
    """Rolling annualised Sharpe (risk-free 0) and volatility, and beta to the benchmark (OLS slope),
    over ``window`` returns (default :func:`rolling_window`). Empty when the run is too short."""
    r = equity.astype("float64").pct_change().iloc[1:]
    window = window if window is not None else rolling_window(len(r), periods_per_year)
    if not window or len(r) < window:
        return pd.DataFrame(columns=["sharpe", "volatility", "beta"])
    roll = r.rolling(window)
    std = roll.std(ddof=1)
    scale = math.sqrt(periods_per_year)
    out = pd.DataFrame({"volatility": std * scale,
                        "sharpe": (roll.mean() / std.where(std > 1e-15)) * scale})
    if benchmark is not None:
        b = benchmark.reindex(equity.index).astype("float64").ffill().pct_change().iloc[1:]
        out["beta"] = r.rolling(window).cov(b) / b.rolling(window).var()
    else:
        out["beta"] = np.nan
    return out.iloc[window - 1:][["sharpe", "volatility", "beta"]]


def exposure_frame(equity: pd.DataFrame) -> pd.DataFrame:
    """``exposure``: value held / equity (0 = all cash, 1 = fully invested, above 1 with margin or a
    short's proceeds); ``holdings``: equity - cash; ``cash``."""
    eq = equity["equity"].astype("float64")
    cash = equity["cash"].astype("float64")
    holdings = eq - cash
    return pd.DataFrame({"exposure": holdings / eq.where(eq != 0), "holdings": holdings, "cash": cash})


# ---- the ledger, replayed --------------------------------------------------------------------------------
@dataclass
class RoundTrip:
    symbol: str
    entry: datetime
    exit: datetime | None  # None: still open at the end of the run
    quantity: int  # shares bought (long) or sold short over the round trip
    entry_price: Decimal  # average price of the opening side
    exit_price: Decimal | None  # average price of the closing side
    realised: Decimal  # average-cost PnL booked in the round trip (dividends included), as the ledger books it
    fees: Decimal
    dividend_tax: Decimal

    @property
    def net(self) -> Decimal:
        return self.realised - self.fees - self.dividend_tax

    @property
    def holding_days(self) -> float | None:
        if self.exit is None:
            return None
        return (pd.Timestamp(self.exit) - pd.Timestamp(self.entry)) / pd.Timedelta(days=1)

    @property
    def return_fraction(self) -> float | None:
        basis = self.entry_price * self.quantity
        return float(self.net / basis) if basis else None


@dataclass
class SymbolPnl:
    symbol: str
    fills: int = 0
    bought: Decimal = ZERO
    sold: Decimal = ZERO
    fees: Decimal = ZERO
    dividend_tax: Decimal = ZERO
    realised: Decimal = ZERO  # average cost, dividends included (the ledger's Position.realised_pnl)
    unrealised: Decimal = ZERO  # open quantity x (last close - average cost)

    @property
    def total(self) -> Decimal:
        return self.realised + self.unrealised - self.fees - self.dividend_tax


@dataclass
class LedgerReplay:
    symbols: dict[str, SymbolPnl] = field(default_factory=dict)
    round_trips: list[RoundTrip] = field(default_factory=list)
    realised: Decimal = ZERO  # sum of every position's realised PnL (the ledger's figure)


@dataclass
class _Open:
    entry: datetime
    short: bool
    start_realised: Decimal
    qty: int = 0
    notional: Decimal = ZERO
    close_qty: int = 0
    close_notional: Decimal = ZERO
    fees: Decimal = ZERO
    tax: Decimal = ZERO


def replay_ledger(trades: Sequence[Fill], initial_cash: Decimal, corporate_actions: Sequence[Any] = (),
                  dividend_tax_events: Sequence[Any] = (), last_prices: Mapping[str, float] | None = None
                  ) -> LedgerReplay:
    """Replay fills, corporate actions and dividend tax through the engine's own :class:`Portfolio` (the
    same average-cost accounting as the ledger), cutting each symbol's history into round trips (flat to
    flat) and summing its PnL. ``last_prices``: the close each open position is marked at."""
    events: list[tuple[datetime, int, int, Any]] = []
    for k, a in enumerate(corporate_actions):
        events.append((pd.Timestamp(a.ts).to_pydatetime(), 0, k, a))  # booked before the day's orders
    for k, f in enumerate(trades):
        events.append((pd.Timestamp(f.ts).to_pydatetime(), 1, k, f))
    for k, t in enumerate(dividend_tax_events):
        events.append((pd.Timestamp(t.ts).to_pydatetime(), 2, k, t))
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    pf = Portfolio(initial_cash)
    out = LedgerReplay()
    open_trips: dict[str, _Open] = {}
    for _, kind, _, ev in events:
        sym = ev.symbol
        stats = out.symbols.setdefault(sym, SymbolPnl(sym))
        if kind == 0:
            pf.apply_corporate_action(ev)
        elif kind == 2:
            pf.apply_dividend_tax(ev)
            stats.dividend_tax += ev.amount
            if sym in open_trips:
                open_trips[sym].tax += ev.amount
            else:  # deducted by the sale that closed the round trip
                _last_trip(out.round_trips, sym).dividend_tax += ev.amount
        else:
            _apply_fill(pf, ev, stats, open_trips, out.round_trips)
    for sym, trip in open_trips.items():
        pos = pf.position(sym)
        realised = (pos.realised_pnl if pos else ZERO) - trip.start_realised
        out.round_trips.append(RoundTrip(sym, trip.entry, None, trip.qty, _avg(trip.notional, trip.qty),
                                         _avg(trip.close_notional, trip.close_qty) if trip.close_qty else None,
                                         realised, trip.fees, trip.tax))
    for sym, stats in out.symbols.items():
        pos = pf.position(sym)
        if pos is None:
            continue
        stats.realised = pos.realised_pnl
        if pos.quantity and last_prices is not None and sym in last_prices:
            mark = Decimal(repr(float(last_prices[sym])))
            stats.unrealised = pos.unrealised_pnl(mark)
    out.realised = sum((p.realised_pnl for p in pf.raw_positions().values()), ZERO)
    out.round_trips.sort(key=lambda t: (t.entry, t.symbol))
    return out


def _last_trip(trips: list[RoundTrip], symbol: str) -> RoundTrip:
    for trip in reversed(trips):
        if trip.symbol == symbol:
            return trip
    raise ValueError(f"dividend tax on {symbol} without a trade")


def _apply_fill(pf: Portfolio, f: Fill, stats: SymbolPnl, open_trips: dict[str, _Open],
                trips: list[RoundTrip]) -> None:
    before = pf.quantity(f.symbol)
    pos = pf.position(f.symbol)
    if before == 0:
        open_trips[f.symbol] = _Open(pd.Timestamp(f.ts).to_pydatetime(), f.side is Side.SELL,
                                     pos.realised_pnl if pos is not None else ZERO)
    pf.apply_fill(f, lock_until_next_day=False, allow_short=True)
    stats.fills += 1
    stats.fees += f.fee
    if f.side is Side.BUY:
        stats.bought += f.notional
    else:
        stats.sold += f.notional
    trip = open_trips[f.symbol]
    opening = (f.side is Side.SELL) == trip.short
    if opening:
        trip.qty += f.quantity
        trip.notional += f.notional
    else:
        trip.close_qty += f.quantity
        trip.close_notional += f.notional
    trip.fees += f.fee
    after = pf.quantity(f.symbol)
    if after == 0 or (after > 0) != (before > 0) and before != 0:
        realised = pf.position(f.symbol).realised_pnl - trip.start_realised
        trips.append(RoundTrip(f.symbol, trip.entry, pd.Timestamp(f.ts).to_pydatetime(), trip.qty,
                               _avg(trip.notional, trip.qty), _avg(trip.close_notional, trip.close_qty),
                               realised, trip.fees, trip.tax))
        del open_trips[f.symbol]
        if after != 0:  # went through flat to the other side: a new round trip opens at this fill
            open_trips[f.symbol] = _Open(pd.Timestamp(f.ts).to_pydatetime(), after < 0,
                                         pf.position(f.symbol).realised_pnl, abs(after),
                                         f.price * abs(after))


def _avg(notional: Decimal, qty: int) -> Decimal:
    return (notional / qty).quantize(Decimal("0.0001")) if qty else ZERO


def round_trip_stats(trips: Sequence[RoundTrip]) -> dict[str, Any]:
    """Win/loss statistics of the closed round trips (by net PnL)."""
    closed = [t for t in trips if t.exit is not None]
    nets = [t.net for t in closed]
    wins = [n for n in nets if n > 0]
    losses = [n for n in nets if n < 0]
    holding = [t.holding_days for t in closed if t.holding_days is not None]
    loss_sum = -sum(losses, ZERO)
    return {
        "closed": len(closed),
        "open": len(trips) - len(closed),
        "wins": len(wins),
        "losses": len(losses),
        "win_rate": len(wins) / len(closed) if closed else None,
        "avg_win": sum(wins, ZERO) / len(wins) if wins else None,
        "avg_loss": sum(losses, ZERO) / len(losses) if losses else None,
        "largest_win": max(wins) if wins else None,
        "largest_loss": min(losses) if losses else None,
        "profit_factor": float(sum(wins, ZERO) / loss_sum) if loss_sum else None,
        "expectancy": sum(nets, ZERO) / len(nets) if nets else None,
        "avg_holding": float(np.mean(holding)) if holding else None,
        "realised_total": sum((t.realised for t in trips), ZERO),
    }


# ---- fees and the trade list ------------------------------------------------------------------------------
@dataclass(frozen=True)
class FeeTotals:
    components: dict[str, Decimal]  # component -> total, in FEE_COMPONENTS order (plus "other" if any)
    total: Decimal
    mismatched: int  # fills whose components do not add up to their fee (the rest is "other")


def fee_components(fills: Sequence[Fill], parts: Sequence[FeeBreakdown] | None) -> FeeTotals | None:
    """Totals by component; None when the result carries no per-fill breakdown."""
    if parts is None or len(parts) != len(fills):
        return None
    totals = dict.fromkeys(FEE_COMPONENTS, ZERO)
    other = ZERO
    mismatched = 0
    for f, p in zip(fills, parts):
        for name in FEE_COMPONENTS:
            totals[name] += getattr(p, name)
        if p.total != f.fee:
            mismatched += 1
            other += f.fee - p.total
    if other:
        totals["other"] = other
    return FeeTotals(totals, sum((f.fee for f in fills), ZERO), mismatched)


def fill_fee_parts(fills: Sequence[Fill], fee_model: Any) -> list[FeeBreakdown]:
    """Each fill's fee by component, recomputed with the run's ``fee_model`` exactly as the kernel charged
    it (a per-order commission minimum counts the turnover the order already filled that day)."""
    from nofx.domain.instruments import parse_symbol

    turnover: dict[tuple[str, Any], Decimal] = {}
    parts = []
    for f in fills:
        day = f.ts.date()
        key = (f.order_id, day)
        prior = turnover.get(key, ZERO)
        parts.append(fee_model.fill_fees(parse_symbol(f.symbol), day, f.side, f.quantity, f.price, prior))
        turnover[key] = prior + f.notional
    return parts


_CENT = Decimal("0.01")


def _cents(value: Decimal) -> Decimal:
    """Money with at least two decimals (0 -> 0.00), never rounded: a 3-decimal HK notional stays exact."""
    return value.quantize(_CENT) if value == value.quantize(_CENT) else value


def trades_frame(fills: Sequence[Fill], parts: Sequence[FeeBreakdown] | None = None) -> pd.DataFrame:
    """Every fill, one row each, money as exact Decimal (the CSV prints them as the ledger holds them)."""
    data: dict[str, list[Any]] = {
        "datetime": [pd.Timestamp(f.ts) for f in fills],
        "symbol": [f.symbol for f in fills],
        "side": [f.side.value for f in fills],
        "quantity": [f.quantity for f in fills],
        "price": [f.price for f in fills],
        "notional": [_cents(f.notional) for f in fills],
        "fee": [_cents(f.fee) for f in fills],
    }
    if parts is not None and len(parts) == len(fills):
        for name in FEE_COMPONENTS:
            data[name] = [_cents(getattr(p, name)) for p in parts]
    data["order_id"] = [f.order_id for f in fills]
    data["fill_id"] = [f.fill_id for f in fills]
    return pd.DataFrame(data)
