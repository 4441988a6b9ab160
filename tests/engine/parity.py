"""Fingerprints of what the engine did in a run (every fill, every refusal with its reason, cash and fees),
so a change meant to make the order path faster can be checked to change nothing it decides.

``python -m tests.engine.parity`` prints the fingerprints of the parity scenarios; the stored ones
(``parity_fingerprints.json``) were computed by the engine before the speed work of issue 15.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd

FINGERPRINTS = Path(__file__).with_name("parity_fingerprints.json")
SUBSET = 50  # stocks of the shared daily file in the dual MA scenario


def fingerprint(result: Any) -> dict[str, Any]:
    """Counts, cash, fees and a SHA-256 over the canonical text of every fill and refusal, in order."""
    h = hashlib.sha256()
    for f in result.trades:
        h.update(f"F|{f.ts.isoformat()}|{f.fill_id}|{f.order_id}|{f.symbol}|{f.side.value}|{f.quantity}|"
                 f"{f.price}|{f.fee}\n".encode())
    for r in result.rejections:
        h.update(f"R|{pd.Timestamp(r.ts).isoformat()}|{r.symbol}|{r.side}|{r.quantity}|{r.code}|{r.reason}\n"
                 .encode())
    return {"fills": len(result.trades), "refused": len(result.rejections), "final_cash": str(result.final_cash),
            "fees_paid": str(result.fees_paid), "sha256": h.hexdigest()}


def _stocks(bars: pd.DataFrame, n: int) -> list[str]:
    from nofx.domain.instruments import parse_symbol

    return sorted(s for s in bars["symbol"].unique() if not parse_symbol(s).is_index)[:n]


def dual_ma_subset(cn_daily: Path) -> dict[str, Any]:
    """Dual MA (5/20, 100 shares) on the first 50 stocks of the shared daily file, A-share rules and fees."""
    import nofx.strategies.builtin  # noqa: F401
    from nofx.backtest.config import BacktestConfig
    from nofx.backtest.runner import run_backtest
    from nofx.data.bars import read_bars
    from nofx.strategies.registry import REGISTRY

    bars = read_bars(cn_daily)
    syms = _stocks(bars, SUBSET)
    r = run_backtest(bars[bars["symbol"].isin(syms)], REGISTRY.create("dual_ma", {"fast": 5, "slow": 20, "size": 100}),
                     BacktestConfig(rules="cn", fees="default", cash=10**8))
    return fingerprint(r)


def dual_ma_bundled() -> dict[str, Any]:
    """Dual MA sized at 10% of equity on the bundled slice (default rules and fees)."""
    import nofx.strategies.builtin  # noqa: F401
    from nofx.backtest.config import BacktestConfig
    from nofx.backtest.runner import run_backtest
    from nofx.data.bundled import load_bundled
    from nofx.strategies.registry import REGISTRY

    r = run_backtest(load_bundled(), REGISTRY.create("dual_ma", {"fast": 5, "slow": 20, "target_percent": 0.1}),
                     BacktestConfig())
    return fingerprint(r)


def rebalance_subset(cn_daily: Path, fill: str = "next_open") -> dict[str, Any]:
    """The high-turnover case: a 50-stock book rebalanced every day over 60 stocks in 2019."""
    from nofx.backtest.config import BacktestConfig
    from nofx.backtest.runner import run_backtest
    from nofx.data.bars import read_bars
    from tests.engine.rebalance import DailyRebalance

    bars = read_bars(cn_daily, start="2019-01-01", end="2019-12-31")
    syms = _stocks(bars, 60)
    r = run_backtest(bars[bars["symbol"].isin(syms)], DailyRebalance(), BacktestConfig(cash=10**7, fill=fill))
    return fingerprint(r)


def paper_stream(n: int = 3000) -> dict[str, Any]:
    """A seeded stream of mixed orders through the paper venue (order book, trade prints), every risk limit
    on: limit and market orders, buys and sells, off-tick and out-of-band prices, oversized and odd-lot
    quantities, cancels, several symbols and days."""
    import random
    from datetime import datetime, timedelta
    from decimal import Decimal

    from nofx.domain.enums import OrderType, Side
    from nofx.domain.errors import OrderError
    from nofx.domain.orders import OrderRequest
    from nofx.engine.risk import RiskConfig
    from tests.engine.harness import ManualMarket, make_engine

    rnd = random.Random(15)
    syms = {"600519.SH": Decimal("1800.00"), "000001.SZ": Decimal("20.00"), "688981.SH": Decimal("55.00"),
            "300750.SZ": Decimal("400.00")}
    market = ManualMarket(t=datetime(2021, 6, 1, 9, 30), prices=dict(syms),
                          bands={s: (p * Decimal("0.9"), p * Decimal("1.1")) for s, p in syms.items()})
    risk = RiskConfig(max_orders_per_window=50, max_orders_per_symbol_window=20, rate_window_seconds=1.0,
                      max_order_value=Decimal("3000000"), max_position_value=Decimal("15000000"),
                      max_gross_exposure=Decimal("60000000"), max_price_deviation=0.2, max_open_orders=40,
                      daily_loss_limit=Decimal("2000000"))
    eng, venue, m = make_engine(cash="30000000", risk=risk, market=market)
    lines = []
    for k in range(n):
        sym = rnd.choice(list(syms))
        last = m.prices[sym]
        side = Side.BUY if rnd.random() < 0.5 else Side.SELL
        qty = rnd.choice([100, 200, 300, 1000, 150, 250, 5000, eng.portfolio.quantity(sym) or 100])
        kind = rnd.random()
        if kind < 0.6:
            price = (last * (1 + Decimal(rnd.randint(-25, 25)) / 1000)).quantize(Decimal("0.01"))
            if kind < 0.05:
                price += Decimal("0.005")  # off the tick grid
            req = OrderRequest(sym, side, qty, OrderType.LIMIT, price, client_order_id=f"c{k}")
        else:
            req = OrderRequest(sym, side, qty, client_order_id=f"c{k}" if kind < 0.9 else None)
        try:
            order = eng.submit(req)
        except OrderError as exc:
            lines.append(f"E|{k}|{exc}")
            continue
        if rnd.random() < 0.1 and order.status.is_open:
            eng.cancel(order.order_id)
        m.t += timedelta(milliseconds=rnd.randint(1, 400))
        px = float(last) * (1 + rnd.randint(-6, 6) / 1000)
        venue.on_tick(sym, m.t, round(px, 2), rnd.choice([100, 500, 2000, 10000]))
        m.prices[sym] = Decimal(repr(round(px, 2)))
        if k % 500 == 499:  # a new trading day: new bands, T+1 unlocks, day-end expiry
            for s in syms:
                venue.on_tick(s, m.t, float(m.prices[s]), 0, day_end=True)
            m.t = datetime.combine(m.t.date() + timedelta(days=1), m.t.time().replace(hour=9, minute=30))
            m.bands = {s: ((p * Decimal("0.9")).quantize(Decimal("0.01")), (p * Decimal("1.1")).quantize(Decimal("0.01")))
                       for s, p in m.prices.items()}
            eng.portfolio.start_day(m.t.date())
            eng.day_start_equity = eng.portfolio.equity()
    h = hashlib.sha256()
    for f in eng.fills:
        h.update(f"F|{f.ts.isoformat()}|{f.fill_id}|{f.order_id}|{f.symbol}|{f.side.value}|{f.quantity}|"
                 f"{f.price}|{f.fee}\n".encode())
    for r in eng.rejections:
        h.update(f"R|{r.ts.isoformat()}|{r.request.symbol}|{r.request.side.value}|{r.request.quantity}|{r.code}|"
                 f"{r.reason}\n".encode())
    for x in lines:
        h.update(x.encode())
    pf = eng.portfolio
    return {"fills": len(eng.fills), "refused": len(eng.rejections), "final_cash": str(pf.cash),
            "fees_paid": str(pf.fees_paid), "reserved_cash": str(pf.reserved_cash), "sha256": h.hexdigest()}


def scenarios(cn_daily: Path) -> dict[str, dict[str, Any]]:
    return {"paper_stream": paper_stream(), "dual_ma_subset": dual_ma_subset(cn_daily), "dual_ma_bundled": dual_ma_bundled(),
            "rebalance_next_open": rebalance_subset(cn_daily), "rebalance_close": rebalance_subset(cn_daily, "close")}


if __name__ == "__main__":  # python -m tests.engine.parity [--write]
    from tests.conftest import SHARED_DATA

    out = scenarios(SHARED_DATA / "cn_daily.parquet")
    print(json.dumps(out, indent=2))
    if "--write" in sys.argv:
        FINGERPRINTS.write_text(json.dumps(out, indent=2) + "\n")
