"""Performance metrics of a backtest from its equity curve, its fills and an optional benchmark.

Definitions follow the independent library ``empyrical-reloaded`` (import name ``empyrical``), which
the tests use as the reference on real returns. They are computed here with a few lines of numpy each
rather than by calling empyrical, so that the tests compare two independent implementations (calling
empyrical here would make those tests tautologies) and so that degenerate inputs give ``None`` instead
of ``nan``/``inf``.

Conventions
-----------
* ``equity`` is the account value at the end of each slice (day, or intraday bar), indexed by datetime.
  The period returns are ``equity.pct_change()`` without the first (undefined) value, so N equity
  points give N - 1 returns.
* ``periods_per_year`` scales per-period figures to a year. A backtest passes its market's factor
  (:func:`nofx.backtest.annualisation.annualisation_for`: bars per day from the sessions x trading days
  per year from the exchange calendar, e.g. 16 x 243 = 3888 for 15-minute A-share bars in 2025); the
  default 252 is only empyrical's convention, kept for comparisons with it.
* ``years`` is the time the curve covers. A backtest passes calendar time (days between the first and
  last point / 365.25); when omitted it is ``(N - 1) / periods_per_year`` (empyrical's convention).
* ``risk_free`` is a constant risk-free return *per period* (empyrical's convention), not per year.
  It is subtracted in sharpe, alpha and beta, and is the required return of sortino.
* A ratio whose denominator is zero or undefined (constant equity, a single return, no drawdown)
  is ``None``, never ``inf`` or ``nan``: the result must serialise to JSON and print cleanly.
* A benchmark's missing quotes (NaN) are forward-filled: a day without a quote is a day on which the
  benchmark did not move, and its move lands on the next quoted day. Days before the benchmark's first
  quote are left out of every comparison (benchmark_* keys, excess_return, alpha, beta,
  information_ratio, tracking_error), which all use the common span.

Metric keys (always present)
----------------------------
total_return       final / initial equity - 1 (fraction).
annual_return      CAGR: (final / initial) ** (1 / years) - 1; None with no return.
annual_volatility  sample std (ddof=1) of the returns * sqrt(periods_per_year); None below 2 returns.
sharpe             mean(r - rf) / std(r - rf, ddof=1) * sqrt(periods_per_year); None if std is 0.
sortino            mean(r - rf) * ppy / (sqrt(mean(min(r - rf, 0) ** 2)) * sqrt(ppy)); None if no
                   return is below rf (zero downside risk) or below 2 returns.
max_drawdown       min(equity / running peak - 1): a negative fraction, 0.0 when never under water.
max_drawdown_start last date at the peak before the deepest trough (ISO), None when no drawdown.
max_drawdown_trough date of the deepest point (ISO), None when no drawdown.
max_drawdown_end   first date after the trough at which equity is back to the peak (ISO), None if the
                   drawdown is not recovered by the end (or there is none).
calmar             annual_return / |max_drawdown|; None when max_drawdown is 0.
win_rate           fraction of closing sells with a positive realised PnL. The cost basis of each symbol
                   is its average cost (buy notional + buy fees, averaged over the held quantity); a
                   sell's PnL is its notional - its fee - average cost * quantity. Sells of a quantity
                   not bought within ``trades`` (no known basis) are not counted. None with no such sell.
n_trades           number of fills.
turnover           annualised: sum of traded notional (buys and sells) / mean equity / years; None with
                   no return (zero years).
periods_per_year   the annualisation factor used (float).
fees_paid          sum of fill.fee, rounded to the cent (float).
final_equity       last equity value (float, rounded to the cent).

Metric keys added when a benchmark is given
-------------------------------------------
benchmark_return   benchmark's total return over the common span.
excess_return      strategy CAGR - benchmark CAGR, both over the common span (its years: the common
                   span's share of ``years``).
alpha              annualised CAPM alpha (empyrical): (1 + mean(r - rf - beta * (b - rf))) ** ppy - 1.
beta               cov(r - rf, b - rf) / var(b - rf); None if the benchmark never moves.
information_ratio  mean(r - b) * ppy / tracking_error; None if tracking error is 0.
tracking_error     std(r - b, ddof=1) * sqrt(ppy); None below 2 common returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import numpy as np
import pandas as pd

from nofx.domain.enums import Side
from nofx.domain.errors import ConfigError, DataError
from nofx.domain.fills import Fill

MetricValue = float | int | str | None

BASE_METRIC_KEYS: tuple[str, ...] = (
    "total_return",
    "annual_return",
    "annual_volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "max_drawdown_start",
    "max_drawdown_trough",
    "max_drawdown_end",
    "calmar",
    "win_rate",
    "n_trades",
    "turnover",
    "fees_paid",
    "final_equity",
    "periods_per_year",
)
BENCHMARK_METRIC_KEYS: tuple[str, ...] = (
    "benchmark_return",
    "excess_return",
    "alpha",
    "beta",
    "information_ratio",
    "tracking_error",
)

_CENT = Decimal("0.01")


def compute_metrics(
    equity: pd.Series,
    benchmark: pd.Series | None = None,
    trades: Sequence[Fill] = (),
    periods_per_year: float = 252,
    risk_free: float = 0.0,
    years: float | None = None,
) -> dict[str, MetricValue]:
    """Every metric of the module docstring, as plain Python values (JSON-ready).

    ``benchmark`` is the benchmark's close (or value) and is aligned on ``equity``'s index.
    Raises DataError for an empty, unsorted or non-positive equity curve and ConfigError for a
    non-positive ``periods_per_year`` or ``years``.
    """
    if not periods_per_year > 0 or not np.isfinite(periods_per_year):
        raise ConfigError("periods_per_year must be positive", periods_per_year=periods_per_year)
    if years is not None and not (years > 0 and np.isfinite(years)):
        raise ConfigError("years must be positive", years=years)
    values = _checked_equity(equity)
    returns = np.diff(values) / values[:-1]
    n = len(returns)
    if years is None and n:
        years = n / periods_per_year

    metrics: dict[str, MetricValue] = {
        "total_return": float(values[-1] / values[0] - 1.0),
        "annual_return": _cagr(values[-1] / values[0], years if n else None),
        "annual_volatility": _annual_volatility(returns, periods_per_year),
        "sharpe": _sharpe(returns - risk_free, periods_per_year),
        "sortino": _sortino(returns - risk_free, periods_per_year),
    }
    metrics.update(_drawdown_metrics(values, equity.index))
    max_dd = float(metrics["max_drawdown"])  # type: ignore[arg-type]
    annual = metrics["annual_return"]
    metrics["calmar"] = annual / -max_dd if isinstance(annual, float) and max_dd < 0 else None
    metrics["win_rate"] = _average_cost_win_rate(trades)
    metrics["n_trades"] = len(trades)
    notional = float(sum((f.notional for f in trades), Decimal(0)))
    metrics["turnover"] = notional / float(values.mean()) / years if n and years else None
    metrics["fees_paid"] = float(sum((f.fee for f in trades), Decimal(0)).quantize(_CENT))
    metrics["final_equity"] = round(float(values[-1]), 2)
    metrics["periods_per_year"] = float(periods_per_year)

    if benchmark is not None:
        metrics.update(_benchmark_metrics(equity, benchmark, periods_per_year, risk_free, years))
    return metrics


# -- helpers -------------------------------------------------------------------------------------


def _checked_equity(equity: pd.Series) -> np.ndarray:
    if len(equity) == 0:
        raise DataError("equity curve is empty", where="compute_metrics")
    if not equity.index.is_monotonic_increasing or equity.index.has_duplicates:
        raise DataError("equity index must be strictly increasing", where="compute_metrics")
    values = equity.to_numpy(dtype="float64")
    bad = ~np.isfinite(values) | (values <= 0)
    if bad.any():
        first = int(np.argmax(bad))
        raise DataError(
            "equity must be finite and positive to define returns",
            where="compute_metrics", at=_iso(equity.index[first]), value=values[first],
        )
    return values


def _cagr(growth: float, years: float | None) -> float | None:
    if not years:
        return None
    return float(growth ** (1.0 / years) - 1.0)


def _std(returns: np.ndarray) -> float | None:
    """Sample std (ddof=1); exactly 0 for identical values (the mean's last-bit residue would
    otherwise give a 1e-18 std and a ratio near 1e15, as empyrical also guards against)."""
    if len(returns) < 2:
        return None
    if returns.max() == returns.min():
        return 0.0
    return float(returns.std(ddof=1))


def _annual_volatility(returns: np.ndarray, periods_per_year: float) -> float | None:
    std = _std(returns)
    return None if std is None else std * float(np.sqrt(periods_per_year))


def _sharpe(excess: np.ndarray, periods_per_year: float) -> float | None:
    std = _std(excess)
    if not std:
        return None
    return float(excess.mean() / std * np.sqrt(periods_per_year))


def _sortino(excess: np.ndarray, periods_per_year: float) -> float | None:
    if len(excess) < 2:
        return None
    downside = float(np.sqrt(np.mean(np.minimum(excess, 0.0) ** 2)) * np.sqrt(periods_per_year))
    if downside == 0.0:
        return None
    return float(excess.mean() * periods_per_year / downside)


def _drawdown_metrics(values: np.ndarray, index: pd.Index) -> dict[str, MetricValue]:
    peaks = np.maximum.accumulate(values)
    drawdown = values / peaks - 1.0
    trough = int(np.argmin(drawdown))
    max_dd = float(drawdown[trough])
    if max_dd >= 0.0:
        return {"max_drawdown": 0.0, "max_drawdown_start": None, "max_drawdown_trough": None,
                "max_drawdown_end": None}
    peak_value = peaks[trough]
    # The running peak is one of the values, so exact equality finds it; the *last* date at the peak
    # is where the decline starts (a flat top is not under water yet).
    start = int(np.flatnonzero(values[: trough + 1] == peak_value)[-1])
    recovered = np.flatnonzero(values[trough + 1:] >= peak_value)
    end = _iso(index[trough + 1 + int(recovered[0])]) if len(recovered) else None
    return {"max_drawdown": max_dd, "max_drawdown_start": _iso(index[start]),
            "max_drawdown_trough": _iso(index[trough]), "max_drawdown_end": end}


def _iso(ts: object) -> str:
    """ISO date for a midnight timestamp (daily bars), full ISO datetime otherwise."""
    if isinstance(ts, pd.Timestamp):
        return ts.date().isoformat() if ts == ts.normalize() else ts.isoformat()
    return str(ts)


def _average_cost_win_rate(trades: Sequence[Fill]) -> float | None:
    """Share of closing sells that made money against the average cost of the holding.

    Decimal throughout: a sell at the exact average cost must count as break-even, not as a win
    or a loss decided by a float's last bit.
    """
    held: dict[str, int] = {}
    cost: dict[str, Decimal] = {}
    wins = closes = 0
    # Stable sort: fills of the same instant keep the order the engine produced them in.
    for fill in sorted(trades, key=lambda f: pd.Timestamp(f.ts)):
        qty = held.get(fill.symbol, 0)
        if fill.side is Side.BUY:
            held[fill.symbol] = qty + fill.quantity
            cost[fill.symbol] = cost.get(fill.symbol, Decimal(0)) + fill.notional + fill.fee
            continue
        matched = min(fill.quantity, qty)
        if matched <= 0:
            continue  # nothing bought within these trades: no known cost basis
        basis = cost[fill.symbol] * matched / qty
        fee_share = fill.fee * matched / fill.quantity
        pnl = fill.price * matched - fee_share - basis
        closes += 1
        wins += pnl > 0
        held[fill.symbol] = qty - matched
        cost[fill.symbol] = cost[fill.symbol] - basis if qty > matched else Decimal(0)
    return wins / closes if closes else None


def _benchmark_metrics(
    equity: pd.Series, benchmark: pd.Series, periods_per_year: float, risk_free: float, years: float
) -> dict[str, MetricValue]:
    none: dict[str, MetricValue] = dict.fromkeys(BENCHMARK_METRIC_KEYS)
    bench = pd.Series(benchmark, copy=False).reindex(equity.index).astype("float64").ffill()
    if (bench <= 0).any():
        raise DataError("benchmark values must be positive", where="compute_metrics")
    valid = bench.notna().to_numpy()
    if valid.sum() < 2:
        return none  # fewer than two quotes: no benchmark return at all
    first = int(np.argmax(valid))  # after the forward fill, every day from the first quote is valid
    strat = equity.to_numpy(dtype="float64")[first:]
    bvals = bench.to_numpy()[first:]
    r = np.diff(strat) / strat[:-1]
    b = np.diff(bvals) / bvals[:-1]
    # the common span's share of the run's years (by returns: the same share in either time unit for
    # the usual late-starting benchmark)
    common_years = years * len(r) / (len(equity) - 1)
    strat_cagr = _cagr(strat[-1] / strat[0], common_years)
    bench_cagr = _cagr(bvals[-1] / bvals[0], common_years)
    out = dict(none)
    out["benchmark_return"] = float(bvals[-1] / bvals[0] - 1.0)
    out["excess_return"] = float(strat_cagr - bench_cagr)  # type: ignore[operator]
    beta = _beta(r - risk_free, b - risk_free)
    out["beta"] = beta
    if beta is not None:
        alpha_daily = float(np.mean((r - risk_free) - beta * (b - risk_free)))
        out["alpha"] = float((1.0 + alpha_daily) ** periods_per_year - 1.0)
    active = r - b
    te_std = _std(active)
    if te_std is not None:
        out["tracking_error"] = te_std * float(np.sqrt(periods_per_year))
        if te_std > 0:
            out["information_ratio"] = float(active.mean() * periods_per_year / out["tracking_error"])
    return out


def _beta(r: np.ndarray, b: np.ndarray) -> float | None:
    """OLS slope cov(r, b) / var(b) with population moments (the ddof cancels), as empyrical."""
    if len(r) < 2:
        return None
    centred = b - b.mean()
    var = float(np.mean(centred**2))
    if var < 1e-30:  # empyrical's threshold for "the benchmark never moves"
        return None
    return float(np.mean(centred * r) / var)
