"""Run a strategy over bars: the simulated clock drives the shared trading kernel and the bar exchange.

Per-slice work is kept tiny (the strategy's precomputed causal features are read by index; matching runs
only when orders are pending) and the equity curve is rebuilt vectorised from the fills at the end.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from nofx.backtest.annualisation import annualisation_for
from nofx.backtest.config import BacktestConfig
from nofx.backtest.result import BacktestResult, Rejection
from nofx.data.corporate_actions import plan_actions
from nofx.data.panel import BarPanel
from nofx.domain.enums import Side
from nofx.domain.errors import DataError
from nofx.engine.bar_exchange import BarExchange
from nofx.engine.clock import SimClock
from nofx.engine.kernel import TradingEngine
from nofx.engine.market_data import prepare_market, select_bars
from nofx.engine.portfolio import Portfolio
from nofx.engine.risk import RiskConfig, RiskEngine
from nofx.engine.router import Router
from nofx.progress import Progress
from nofx.strategies.base import MarketView, Strategy, StrategyContext
from nofx.strategies.refusals import RefusalLog


def run_backtest(
    bars: pd.DataFrame,
    strategy: Strategy,
    config: BacktestConfig,
    progress: bool = False,
    symbols: Sequence[str] | None = None,
    risk: RiskConfig | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    on_engine: Callable[[TradingEngine], None] | None = None,
) -> BacktestResult:
    """Backtest ``strategy`` on canonical long-format ``bars``; see :class:`BacktestConfig`.
    ``on_progress(done, total)`` is called every 64 slices and at the end (the API's progress).
    ``on_engine`` is called with the run's engine before the first slice (drivers that report what the
    engine did with a strategy's orders, e.g. the AI decision log)."""
    universe, bench = select_bars(bars, config, symbols)
    market = prepare_market(universe, config)
    panel = market.panel
    at_open = config.fill == "next_open"
    clock = SimClock(panel, market.lower, market.upper, exec_offset=1 if at_open else 0)
    exchange = BarExchange(panel, market.lower, market.upper, market.rulebook, config.participation,
                          config.limit_fill_policy())
    portfolio = Portfolio(config.cash)
    portfolio.mark_source = clock.last_price_float
    engine = TradingEngine("backtest", portfolio, market.rulebook, market.fee_model, RiskEngine(risk),
                           Router(exchange), clock, dividend_tax=market.dividend_tax)
    exchange.listener = engine
    if on_engine is not None:
        on_engine(engine)
    ctx = StrategyContext(panel, rules=market.rulebook)
    strategy.on_start(ctx)
    refusals = RefusalLog()  # the strategy sees its permanent refusals through its view
    engine.on_rejection(refusals.record)
    view = MarketView(panel, ctx.features, ctx.active, rules=market.rulebook, refusals=refusals)
    col_of = {sym: k for k, sym in enumerate(panel.symbols)}
    qty_changes: list[tuple[int, int, int]] = []  # (slice, column, signed quantity change)
    if type(strategy).on_fill is not Strategy.on_fill:  # the base class' does nothing: not called per fill
        engine.on_fill(strategy.on_fill)
    engine.on_fill(lambda f: qty_changes.append(
        (clock.index, col_of[f.symbol], f.quantity if f.side is Side.BUY else -f.quantity)))
    use_actions = config.corporate_actions if config.corporate_actions is not None else config.rules != "none"
    plan = plan_actions(universe, bars.attrs, config.prices, book=use_actions)
    actions_by_day: dict = {}
    applied: list = []
    for a in plan.actions:
        actions_by_day.setdefault(a.ex_date, []).append(a)
    if type(strategy).on_rejection is not Strategy.on_rejection:
        engine.on_rejection(strategy.on_rejection)

    n = len(panel.timestamps)
    days = clock.days
    new_day = [True] + [days[k] != days[k - 1] for k in range(1, n)]
    # a strategy that names a wake feature only needs calling where that feature is active
    wake = ctx.active.get(strategy.wake_on) if strategy.wake_on else None
    wake_rows = wake.tolist() if wake is not None else [True] * n
    cash_at = np.full(n, np.nan)
    bar = Progress(f"backtest {strategy.name}", n, enabled=progress).start()
    submit = engine.submit
    on_slice = strategy.on_slice
    match = exchange.match
    start_day = portfolio.start_day
    # warm-up bars (before config.start) feed the features only: no orders, no equity
    trade_from = int(np.searchsorted(panel.timestamps, np.datetime64(config.start), "left")) \
        if config.start and config.warmup_bars else 0
    for i in range(n):
        clock.index = i
        view.index = i
        if i < trade_from:
            continue
        nf = len(qty_changes)
        if new_day[i]:
            start_day(days[i])
            for action in actions_by_day.get(days[i], ()):
                ev = engine.apply_corporate_action(action)
                if ev is not None:
                    applied.append(ev)
                    qty_changes.append((i, col_of[ev.symbol], ev.quantity_after - ev.quantity_before))
        if exchange.has_pending:
            # orders resting from earlier bars meet this bar from its open, in either fill mode (with
            # --fill close on intraday bars: what a DAY order did not fill at its own bar's close)
            match(i, True)
        if wake_rows[i]:
            orders = on_slice(view, portfolio)
            if orders:
                for req in orders:
                    submit(req)
                    # at the close an order meets the bar as soon as it arrives, so a later order of the
                    # same slice sees its fill (and, on A-shares, the T+1 lock it creates)
                    if not at_open and exchange.has_pending:
                        match(i, False)
        if len(qty_changes) != nf:
            cash_at[i] = float(portfolio.cash)
        if (i & 63) == 0:
            bar.update(i + 1)
            if on_progress is not None:
                on_progress(i + 1, n)
    bar.update(n)
    bar.stop()
    if on_progress is not None:
        on_progress(n, n)
    for order in list(engine.oms.open_orders.values()):  # orders waiting for a bar that never came
        engine.on_venue_expire(order, "backtest ended before the order could execute")

    equity = _equity_curve(panel, clock.marks, qty_changes, cash_at, config.cash).iloc[trade_from:]
    bench_aligned = None
    if bench is not None:
        bench_aligned = bench.reindex(equity.index).ffill().rename(config.benchmark)
    rejections = [
        Rejection(pd.Timestamp(r.ts), r.request.symbol, r.request.side.value, r.request.quantity, r.code, r.reason)
        for r in engine.rejections
    ]
    traded = sorted({f.symbol for f in engine.fills})
    prices = pd.DataFrame(panel.fields["close"][trade_from:, [panel.column(s) for s in traded]],
                          index=equity.index, columns=traded) if traded else None
    result = BacktestResult(
        strategy=strategy.name, params=strategy.params.model_dump(mode="json"), initial_cash=config.cash,
        trades=list(engine.fills), equity=equity, rejections=rejections, benchmark=bench_aligned,
        prices=prices, messages=[*plan.notes, *strategy.messages], final_cash=portfolio.cash,
        fees_paid=portfolio.fees_paid, dividends=portfolio.dividends, corporate_actions=applied,
        price_basis=plan.prices.basis, tax_withheld=portfolio.tax_withheld, dividend_tax=portfolio.dividend_tax,
        dividend_tax_events=list(engine.tax_events),
        annualisation=annualisation_for(equity.index, panel.symbols),
        fee_model=market.fee_model,
    )
    if market.dividend_tax is not None and (portfolio.tax_withheld or portfolio.dividend_tax):
        result.messages.append(
            f"dividend tax: investor {market.dividend_tax.investor}; withheld at source "
            f"{portfolio.tax_withheld:,.2f}, deducted at sale {portfolio.dividend_tax:,.2f}")
    result.metrics = _metrics(result)
    if not portfolio.reconciles():  # the ledger identity is an invariant, not a statistic
        raise AssertionError("ledger does not reconcile: cash != initial - buys + sells - fees + dividends - tax")
    return result


def _equity_curve(panel: BarPanel, marks: np.ndarray, qty_changes: list[tuple[int, int, int]],
                  cash_at: np.ndarray, initial_cash: Decimal) -> pd.DataFrame:
    """Equity at each slice's close: cash after the slice plus holdings at the last known close,
    rebuilt vectorised from the quantity changes (fills, splits) and the cash recorded when it changed."""
    n, m = panel.shape
    qty = np.zeros((n, m))
    if qty_changes:
        rows, cols, deltas = (np.asarray(x) for x in zip(*qty_changes))
        np.add.at(qty, (rows, cols), deltas)
    qty = np.cumsum(qty, axis=0)
    cash = pd.Series(cash_at)
    cash.iloc[0] = cash.iloc[0] if cash.iloc[0] == cash.iloc[0] else float(initial_cash)
    cash = cash.ffill().to_numpy()
    held = np.nan_to_num(marks, nan=0.0)
    value = (qty * held).sum(axis=1)
    equity = np.round(cash + value, 2)
    return pd.DataFrame({"equity": equity, "cash": np.round(cash, 2)},
                        index=pd.DatetimeIndex(panel.timestamps, name="datetime"))


def _metrics(result: BacktestResult) -> dict:
    from nofx.backtest.metrics import compute_metrics

    ann = result.annualisation
    try:
        return compute_metrics(result.equity["equity"], result.benchmark, result.trades,
                               periods_per_year=ann.periods_per_year, years=ann.years)
    except DataError as exc:
        # e.g. a short book whose equity went through zero: returns are undefined, the run is not
        result.messages.append(f"metrics not computed: {exc}")
        return {"final_equity": float(result.equity["equity"].iloc[-1]), "n_trades": len(result.trades),
                "fees_paid": float(result.fees_paid)}


__all__ = ["run_backtest", "prepare_market", "select_bars"]
