"""Point-in-time stock-selection factors, their cross-sectional processing and IC analysis.

Every factor is a (T, N) float array on a :class:`BarPanel` grid where row t uses data of rows <= t
only (fundamentals from the first trading day after their ``pub_date``: see
:mod:`nofx.features.fundamentals`). All factors are oriented "higher is better", so a composite is a
plain positively weighted sum:

=====================  =====================================================================
``earnings_yield``     1 / PE(TTM): a loss-making company (negative PE) ranks *low*, where a raw
                       PE would have ranked it as the cheapest.
``book_yield``         1 / PB(MRQ)
``ni_growth``          net income growth, year on year (``yoy_ni``)
``equity_growth``      shareholders' equity growth, year on year (``yoy_equity``)
``roe``                return on average equity (``roe_avg``)
``net_margin``         net profit margin (``np_margin``)
``gross_margin``       gross margin (``gp_margin``; empty for banks, see ``min_coverage``)
``momentum_20``        20-day total return (split/dividend adjusted through ``preclose``)
``low_volatility_20``  minus the 20-day standard deviation of daily returns (volatility penalised)
=====================  =====================================================================

Cross-sectional processing of one date (:func:`process_cross_section`) works on the eligible
stocks only: median +- ``n_mad`` scaled MADs winsorisation, then z-score, then the weighted sum of
the available z-scores (a missing one counts as 0, the cross-sectional mean), keeping only stocks
whose available factors carry at least ``min_coverage`` of the weight of the factors that have data.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from nofx.data.panel import BarPanel
from nofx.domain.errors import ConfigError, DataError
from nofx.domain.instruments import parse_symbol
from nofx.features.adjusted import adjustment_factor
from nofx.features.factor_names import (  # noqa: F401  (re-exported)
    DEFAULT_WEIGHTS,
    FACTOR_NAMES,
    FUNDAMENTAL_FACTORS,
    TECHNICAL_FACTORS,
    VALUE_FACTORS,
    check_weights,
)

# source column of each fundamental factor in the fundamentals table
FUNDAMENTAL_SOURCE = {"ni_growth": "yoy_ni", "equity_growth": "yoy_equity", "roe": "roe_avg",
                      "net_margin": "np_margin", "gross_margin": "gp_margin"}
VALUATION_SOURCE = {"earnings_yield": "pe_ttm", "book_yield": "pb_mrq"}
_MAD_SCALE = 1.4826  # MAD of a normal sample times this = its standard deviation


# --- price-based factors --------------------------------------------------------------------------
def adjusted_close(panel: BarPanel) -> np.ndarray:
    """Causal total-return close (see :func:`nofx.features.adjusted.adjustment_factor`)."""
    close = panel["close"]
    return close * adjustment_factor(close, panel["preclose"])


def momentum(adj_close: np.ndarray, window: int = 20) -> np.ndarray:
    """``adj[t] / adj[t-window] - 1``; NaN for the first ``window`` rows or a missing end point."""
    out = np.full(adj_close.shape, np.nan)
    if window < adj_close.shape[0]:
        with np.errstate(invalid="ignore", divide="ignore"):
            out[window:] = adj_close[window:] / adj_close[:-window] - 1.0
    return out


def volatility(adj_close: np.ndarray, window: int = 20) -> np.ndarray:
    """Sample standard deviation of the last ``window`` daily returns (all must exist)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        ret = adj_close[1:] / adj_close[:-1] - 1.0
    std = pd.DataFrame(ret).rolling(window, min_periods=window).std(ddof=1).to_numpy()
    return np.vstack([np.full((1, adj_close.shape[1]), np.nan), std])


def _reciprocal(a: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(np.isfinite(a) & (a != 0), 1.0 / a, np.nan)


def compute_factors(
    panel: BarPanel,
    valuation: Mapping[str, np.ndarray] | None = None,
    fundamentals: Mapping[str, np.ndarray] | None = None,
    window: int = 20,
) -> dict[str, np.ndarray]:
    """All factors that the given inputs allow, as (T, N) arrays (causal: row t uses rows <= t).

    ``valuation``: point-in-time ``pe_ttm``/``pb_mrq`` arrays (:func:`~nofx.features.fundamentals.
    align_valuation`); ``fundamentals``: point-in-time arrays of the source columns in
    :data:`FUNDAMENTAL_SOURCE` (:func:`~nofx.features.fundamentals.align_fundamentals`)."""
    adj = adjusted_close(panel)
    out: dict[str, np.ndarray] = {
        "momentum_20": momentum(adj, window),
        "low_volatility_20": -volatility(adj, window),
    }
    if valuation is not None:
        for name, src in VALUATION_SOURCE.items():
            if src in valuation:
                out[name] = _reciprocal(np.asarray(valuation[src], dtype="float64"))
    if fundamentals is not None:
        for name, src in FUNDAMENTAL_SOURCE.items():
            if src in fundamentals:
                out[name] = np.asarray(fundamentals[src], dtype="float64")
    for name, arr in out.items():
        if arr.shape != panel.shape:
            raise DataError("factor has the wrong shape", factor=name, shape=arr.shape, expected=panel.shape)
    return out


# --- universe ---------------------------------------------------------------------------------------
def stock_columns(symbols: Sequence[str]) -> np.ndarray:
    """Boolean (N,): True for stocks, False for indices (``000300.SH`` is in the bars, not buyable)."""
    return np.array([not parse_symbol(s).is_index for s in symbols], dtype=bool)


def eligible_mask(panel: BarPanel, min_listed_days: int = 60) -> np.ndarray:
    """(T, N) bool: stocks that can be selected on row t: traded that day (``trade_status`` 1 and
    volume > 0), not ST, and with at least ``min_listed_days`` bars since their first bar in the panel.

    A stock whose bars start on the panel's first row is taken as seasoned: the panel does not say
    when it listed, and assuming it new would exclude the whole universe at the start of a backtest.
    """
    close = panel["close"]
    exists = np.isfinite(close)
    traded = exists & (np.nan_to_num(panel["trade_status"], nan=0.0) == 1) & (np.nan_to_num(panel["volume"]) > 0)
    not_st = np.nan_to_num(panel["is_st"], nan=0.0) == 0
    bars_so_far = np.cumsum(exists, axis=0)
    seasoned = (bars_so_far >= min_listed_days) | exists[0][None, :]
    return traded & not_st & seasoned & stock_columns(panel.symbols)[None, :]


# --- cross-sectional processing ------------------------------------------------------------------
def winsorize_mad(x: np.ndarray, mask: np.ndarray, n_mad: float = 3.0) -> np.ndarray:
    """Clip each row to median +- ``n_mad`` * 1.4826 * MAD of its ``mask``-ed finite values;
    cells outside the mask become NaN."""
    x = np.where(mask, x, np.nan)
    with np.errstate(invalid="ignore"), _quiet_nan_warnings():
        med = np.nanmedian(x, axis=-1, keepdims=True)
        mad = np.nanmedian(np.abs(x - med), axis=-1, keepdims=True) * _MAD_SCALE
    lo, hi = med - n_mad * mad, med + n_mad * mad
    return np.where(np.isfinite(x), np.clip(x, lo, hi), np.nan)


def zscore(x: np.ndarray) -> np.ndarray:
    """Z-score of each row over its finite values (a row with zero spread gives zeros)."""
    with np.errstate(invalid="ignore", divide="ignore"), _quiet_nan_warnings():
        mu = np.nanmean(x, axis=-1, keepdims=True)
        sd = np.nanstd(x, axis=-1, keepdims=True)
    safe = np.where(sd > 0, sd, 1.0)
    return np.where(np.isfinite(x), np.where(sd > 0, (x - mu) / safe, 0.0), np.nan)



@dataclass(frozen=True)
class CrossSection:
    """Processed factors of one or more dates: z-scores per factor and the composite."""

    z: dict[str, np.ndarray]
    composite: np.ndarray  # NaN where the stock is not eligible or lacks coverage


def process_cross_section(
    factors: Mapping[str, np.ndarray],
    mask: np.ndarray,
    weights: Mapping[str, float] = DEFAULT_WEIGHTS,
    n_mad: float = 3.0,
    min_coverage: float = 0.75,
) -> CrossSection:
    """Winsorise, z-score and combine factors, row by row (rows = dates; works on (N,) or (T, N)).

    Factors absent from ``factors`` (no input data at all) are left out of the composite and of the
    coverage total; weights of 0 drop a factor. A factor present but missing for a stock counts as 0.
    """
    weights = check_weights(weights)
    # factors without any input (e.g. no fundamentals file, or HK stocks) do not count: coverage is
    # measured against the weight of the factors that exist, so a technical-only run still ranks
    used = {k: w for k, w in weights.items() if w != 0 and k in factors}
    total = sum(abs(w) for w in used.values())
    z: dict[str, np.ndarray] = {}
    score = np.zeros(np.shape(mask))
    covered = np.zeros(np.shape(mask))
    for name, w in used.items():
        zn = zscore(winsorize_mad(np.asarray(factors[name], dtype="float64"), mask, n_mad))
        z[name] = zn
        have = np.isfinite(zn)
        score += np.where(have, w * zn, 0.0)
        covered += np.where(have, abs(w), 0.0)
    ok = mask & (covered >= min_coverage * total - 1e-12) & (covered > 0)
    return CrossSection(z, np.where(ok, score, np.nan))


def composite_from_row_weights(
    z: Mapping[str, np.ndarray], mask: np.ndarray, row_weights: Mapping[str, np.ndarray], min_coverage: float = 0.75,
) -> np.ndarray:
    """(T, N) composite ``sum_k w_k[t] * z_k[t]`` with weights that change by row (``row_weights``: name ->
    (T,)); coverage as in :func:`process_cross_section`, against the row's total absolute weight."""
    score = np.zeros(np.shape(mask))
    covered = np.zeros(np.shape(mask))
    total = np.zeros(np.shape(mask)[0])
    for name, zn in z.items():
        w = np.asarray(row_weights[name], dtype="float64")[:, None]
        have = np.isfinite(zn)
        score += np.where(have, w * zn, 0.0)
        covered += np.where(have, np.abs(w), 0.0)
        total += np.abs(w[:, 0])
    ok = mask & (covered >= min_coverage * total[:, None] - 1e-12) & (covered > 0)
    return np.where(ok, score, np.nan)


def daily_rank_ic(score: np.ndarray, fwd: np.ndarray, min_count: int = 10) -> np.ndarray:
    """(T,) Spearman correlation of ``score[t]`` and ``fwd[t]`` over the stocks where both exist (NaN
    where fewer than ``min_count`` do), vectorised over rows."""
    both = np.isfinite(score) & np.isfinite(fwd)
    ra = pd.DataFrame(np.where(both, score, np.nan)).rank(axis=1).to_numpy()
    rb = pd.DataFrame(np.where(both, fwd, np.nan)).rank(axis=1).to_numpy()
    n = both.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"), _quiet_nan_warnings():
        xa = ra - np.nanmean(ra, axis=1, keepdims=True)
        xb = rb - np.nanmean(rb, axis=1, keepdims=True)
        num = np.nansum(xa * xb, axis=1)
        den = np.sqrt(np.nansum(xa * xa, axis=1) * np.nansum(xb * xb, axis=1))
        ic = num / den
    return np.where((n >= min_count) & (den > 0), ic, np.nan)


def point_in_time_ic_weights(
    z: Mapping[str, np.ndarray],
    fwd: np.ndarray,
    horizon: int,
    lookback: int,
    prior: Mapping[str, float],
    min_ics: int = 20,
) -> dict[str, np.ndarray]:
    """Weight of each factor at each row t, learned from its trailing rank IC (IC weighting: sign and
    size from the data, e.g. Grinold & Kahn's IC-weighted composite).

    ``w_k[t]`` is the mean daily rank IC of ``z_k`` against ``fwd`` (``horizon``-row forward returns)
    over rows ``s`` in ``[t - horizon - lookback + 1, t - horizon]``: the forward return of row ``s``
    ends at ``s + horizon <= t``, so every IC used at ``t`` is known at ``t`` (no look-ahead). The
    weights of a row are scaled to a sum of absolute values of 1. A row with fewer than ``min_ics``
    ICs for a factor uses the ``prior`` (configured) weights, scaled the same way.
    """
    names = list(z)
    T = fwd.shape[0]
    prior_total = sum(abs(prior.get(n, 0.0)) for n in names) or 1.0
    raw: dict[str, np.ndarray] = {}
    enough = np.ones(T, dtype=bool)
    for name in names:
        ic = daily_rank_ic(z[name], fwd)
        have = np.isfinite(ic)
        csum = np.concatenate([[0.0], np.cumsum(np.where(have, ic, 0.0))])
        ccount = np.concatenate([[0], np.cumsum(have)])
        hi = np.arange(T) - horizon + 1  # exclusive end: rows s <= t - horizon
        lo = np.maximum(hi - lookback, 0)
        hi = np.maximum(hi, 0)
        count = ccount[hi] - ccount[lo]
        with np.errstate(invalid="ignore", divide="ignore"):
            raw[name] = np.where(count > 0, (csum[hi] - csum[lo]) / np.maximum(count, 1), 0.0)
        enough &= count >= min_ics
    total = np.sum([np.abs(v) for v in raw.values()], axis=0) if raw else np.zeros(T)
    learned = enough & (total > 0)
    out = {}
    for name in names:
        fallback = prior.get(name, 0.0) / prior_total
        out[name] = np.where(learned, raw[name] / np.where(total > 0, total, 1.0), fallback)
    return out


def build_composite(
    panel: BarPanel,
    factors: Mapping[str, np.ndarray],
    mask: np.ndarray,
    weights: Mapping[str, float] = DEFAULT_WEIGHTS,
    n_mad: float = 3.0,
    min_coverage: float = 0.75,
    weighting: str = "static",
    ic_horizon: int = 20,
    ic_lookback: int = 240,
) -> tuple[CrossSection, dict[str, np.ndarray] | None]:
    """The composite the strategy ranks on and the factor report evaluates (one definition for both).

    ``weighting="static"``: ``weights`` as given (:func:`process_cross_section`). ``"ic"``: weights learned
    point in time from each factor's trailing rank IC (:func:`point_in_time_ic_weights`; ``weights`` is
    the prior until enough ICs are known); returns the per-row weights too (None when static)."""
    cs = process_cross_section(factors, mask, weights, n_mad, min_coverage)
    if weighting == "static":
        return cs, None
    if weighting != "ic":
        raise ConfigError("weighting must be static or ic", weighting=weighting)
    used = {k: w for k, w in check_weights(weights).items() if w != 0 and k in factors}
    fwd = forward_returns(adjusted_close(panel), ic_horizon)  # used only where known: see the weights
    row_weights = point_in_time_ic_weights(cs.z, fwd, ic_horizon, ic_lookback, used)
    return CrossSection(cs.z, composite_from_row_weights(cs.z, mask, row_weights, min_coverage)), row_weights


# --- evaluation ---------------------------------------------------------------------------------
def forward_returns(adj_close: np.ndarray, horizon: int) -> np.ndarray:
    """``adj[t+horizon] / adj[t] - 1`` (look-ahead on purpose: the *label* of row t, for IC only)."""
    out = np.full(adj_close.shape, np.nan)
    if horizon < adj_close.shape[0]:
        with np.errstate(invalid="ignore", divide="ignore"):
            out[:-horizon] = adj_close[horizon:] / adj_close[:-horizon] - 1.0
    return out


def _row_corr(a: np.ndarray, b: np.ndarray, min_count: int) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < min_count:
        return np.nan
    x, y = a[ok] - a[ok].mean(), b[ok] - b[ok].mean()
    den = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / den) if den > 0 else np.nan


def _rank(a: np.ndarray) -> np.ndarray:
    out = np.full(a.shape, np.nan)
    ok = np.isfinite(a)
    out[ok] = pd.Series(a[ok]).rank(method="average").to_numpy()
    return out


def information_coefficients(
    score: np.ndarray, fwd: np.ndarray, rows: Sequence[int], min_count: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """Pearson IC and rank (Spearman) IC between ``score[t]`` and ``fwd[t]`` for each row t in ``rows``."""
    ic = np.array([_row_corr(score[t], fwd[t], min_count) for t in rows])
    ric = np.array([_row_corr(_rank(np.where(np.isfinite(fwd[t]), score[t], np.nan)),
                              _rank(np.where(np.isfinite(score[t]), fwd[t], np.nan)), min_count) for t in rows])
    return ic, ric


def ic_summary(ic: np.ndarray, ric: np.ndarray) -> dict[str, float]:
    """Mean IC, mean rank IC and their IR (mean / standard deviation over periods)."""
    def ir(v: np.ndarray) -> float:
        v = v[np.isfinite(v)]
        return float(v.mean() / v.std(ddof=1)) if len(v) > 1 and v.std(ddof=1) > 0 else np.nan

    def mean(v: np.ndarray) -> float:
        v = v[np.isfinite(v)]
        return float(v.mean()) if len(v) else np.nan

    return {"ic": mean(ic), "rank_ic": mean(ric), "icir": ir(ic), "rank_icir": ir(ric),
            "periods": int(np.isfinite(ric).sum())}


def quantile_returns(score: np.ndarray, fwd: np.ndarray, rows: Sequence[int], timestamps: np.ndarray,
                     quantiles: int = 5) -> pd.DataFrame:
    """Mean forward return of each score quantile (1 = lowest score) at each row in ``rows``;
    index: the row's timestamp, columns 1..quantiles."""
    data = []
    for t in rows:
        ok = np.isfinite(score[t]) & np.isfinite(fwd[t])
        if ok.sum() < quantiles:
            data.append([np.nan] * quantiles)
            continue
        ranks = _rank(score[t][ok])
        bucket = np.minimum((ranks - 1) * quantiles // ok.sum(), quantiles - 1).astype(int)
        r = fwd[t][ok]
        data.append([float(r[bucket == q].mean()) if (bucket == q).any() else np.nan for q in range(quantiles)])
    return pd.DataFrame(data, index=pd.DatetimeIndex(np.asarray(timestamps)[list(rows)], name="datetime"),
                        columns=list(range(1, quantiles + 1)))


@contextmanager
def _quiet_nan_warnings() -> Iterator[None]:
    """All-NaN rows (no eligible stock on a day) are expected; numpy would warn for each."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


@dataclass(frozen=True)
class FactorEvaluation:
    """IC statistics of each processed factor and of the composite over sampled dates."""

    summary: pd.DataFrame  # index: factor names + "composite"; columns: ic, rank_ic, icir, rank_icir, periods,
    # weight (the composite's mean weight over the sampled dates; its sign is the factor's direction)
    rank_ic: pd.DataFrame  # per-period rank IC (index: formation date), one column per factor + "composite"
    quantiles: pd.DataFrame  # per-period forward return of each composite quantile (columns 1..q; index: formation)
    horizon: int
    realised: pd.DatetimeIndex | None = None  # per period: the date its forward return is known (formation + horizon)
    weighting: str = "static"

    def by_realisation(self, frame: pd.DataFrame, start_at_zero: bool = True) -> pd.DataFrame:
        """``frame`` (per formation date) re-indexed to the end of each holding period, when its return
        (or IC) is known: a period's outcome belongs there, not at its formation one period early. With
        ``start_at_zero`` a row of zeros at the first formation date starts a cumulative curve at 0."""
        if self.realised is None:
            raise DataError("evaluation has no realisation dates")
        out = frame.set_axis(self.realised, axis=0)
        if start_at_zero and len(frame):
            zero = pd.DataFrame(0.0, index=pd.DatetimeIndex([frame.index[0]], name=out.index.name),
                                columns=frame.columns)
            out = pd.concat([zero, out])
        return out


def evaluate_factors(
    panel: BarPanel,
    factors: Mapping[str, np.ndarray],
    weights: Mapping[str, float] = DEFAULT_WEIGHTS,
    horizon: int = 20,
    quantiles: int = 5,
    n_mad: float = 3.0,
    min_coverage: float = 0.75,
    min_listed_days: int = 60,
    start_row: int = 21,
    weighting: str = "static",
    ic_horizon: int = 20,
    ic_lookback: int = 240,
) -> FactorEvaluation:
    """Evaluate factors as the strategy uses them: on each sampled date (every ``horizon`` rows from
    ``start_row``, non-overlapping so the IR is not inflated by overlap) the eligible stocks' winsorised
    z-scores are correlated with the next ``horizon``-day total return (close to close).

    ``weighting="ic"``: the composite's weights are learned point in time from each factor's trailing
    rank IC (:func:`point_in_time_ic_weights`, ``ic_horizon``/``ic_lookback`` rows), with ``weights``
    as the prior; ``"static"``: ``weights`` as given."""
    if horizon < 1 or quantiles < 2:
        raise ConfigError("horizon must be >= 1 and quantiles >= 2", horizon=horizon, quantiles=quantiles)
    mask = eligible_mask(panel, min_listed_days)
    cs, row_weights = build_composite(panel, factors, mask, weights, n_mad, min_coverage, weighting, ic_horizon,
                                      ic_lookback)
    composite = cs.composite
    fwd = forward_returns(adjusted_close(panel), horizon)
    rows = list(range(start_row, panel.shape[0] - horizon, horizon))
    if not rows:
        raise DataError("period too short for one IC sample", rows=panel.shape[0], horizon=horizon)
    stamps = pd.DatetimeIndex(panel.timestamps[rows], name="datetime")
    stats, ric_cols = {}, {}
    total = sum(abs(weights.get(k, 0.0)) for k in cs.z) or 1.0
    for name, score in [*cs.z.items(), ("composite", composite)]:
        ic, ric = information_coefficients(score, fwd, rows)
        stats[name] = ic_summary(ic, ric)
        if name != "composite":
            w = row_weights[name][rows] if row_weights is not None else np.full(len(rows), weights.get(name, 0.0) / total)
            stats[name]["weight"] = float(np.mean(w))
        ric_cols[name] = ric
    summary = pd.DataFrame.from_dict(stats, orient="index")[["ic", "rank_ic", "icir", "rank_icir", "periods", "weight"]]
    q = quantile_returns(composite, fwd, rows, panel.timestamps, quantiles)
    realised = pd.DatetimeIndex(panel.timestamps[[t + horizon for t in rows]], name="datetime")
    return FactorEvaluation(summary, pd.DataFrame(ric_cols, index=stamps), q, horizon, realised, weighting)
