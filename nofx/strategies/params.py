"""Parameters of the built-in strategies, declared apart from the strategies themselves.

These models need only pydantic (no numpy, pandas, torch or statsmodels), so the registry can list
every strategy with its parameters, and a config can be validated, without importing the strategy
implementations: ``nofx strategies`` must not pay seconds for torch to print a table.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from nofx.features.factor_names import DEFAULT_WEIGHTS, check_weights


class StrategyParams(BaseModel):
    """Base of every strategy's parameter model; unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class BuyAndHoldParams(StrategyParams):
    """Spend ``percent`` of cash on every symbol on the first slice, then hold."""

    percent: float = Field(default=0.98, gt=0, le=1)  # keep a little cash for fees


class DualMAParams(StrategyParams):
    """Buy when the fast moving average crosses above the slow one, sell on the cross below."""

    fast: int = Field(default=5, ge=1)
    slow: int = Field(default=20, ge=2)
    size: int | None = Field(default=None, gt=0)  # shares per buy
    target_percent: float | None = Field(default=None, gt=0, le=1)  # or: this fraction of equity per buy

    @model_validator(mode="after")
    def _check(self) -> "DualMAParams":
        if self.fast >= self.slow:
            raise ValueError(f"fast ({self.fast}) must be shorter than slow ({self.slow})")
        if self.size is not None and self.target_percent is not None:
            raise ValueError("give size or target_percent, not both")
        return self


class MLTopKParams(StrategyParams):
    """Hold the ``topk`` best-scored stocks of a trained model, replace at most ``n_drop`` a day."""

    model: str | None = None  # a run directory written by `nofx model train`, or
    preds: str | None = None  # a predictions file written by `nofx model predict` (datetime, symbol, score)
    topk: int = Field(default=50, ge=1)
    n_drop: int = Field(default=5, ge=1)
    # buys are sized by the rule book (each instrument's lot rules on that date: 100s, STAR 200 then
    # steps of 1, HK board lots); a ``lot`` additionally rounds buys down to multiples of it
    lot: int | None = Field(default=None, ge=1)
    cash_buffer: float = Field(default=0.02, ge=0, lt=1)  # share of equity kept back for fees and gaps
    device: str = "cpu"


class MultiFactorParams(StrategyParams):
    """Hold the ``top_n`` stocks of a weighted factor composite, rebalanced periodically."""

    valuation_path: str | None = None  # cn_valuation-like file: symbol, date, pe_ttm, pb_mrq
    fundamentals_path: str | None = None  # cn_fundamentals-like file: symbol, pub_date, stat_date, ...
    weights: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    top_n: int = Field(default=30, ge=1)
    rebalance: Literal["monthly", "weekly"] = "monthly"
    invest_fraction: float = Field(default=0.97, gt=0, le=1)  # the rest stays as cash for fees
    n_mad: float = Field(default=3.0, gt=0)  # winsorise at median +- n_mad scaled MADs
    min_coverage: float = Field(default=0.75, ge=0, le=1)  # share of the weight a stock must have data for
    min_listed_days: int = Field(default=60, ge=0)  # newly listed stocks are left out until then
    window: int = Field(default=20, ge=2)  # momentum / volatility window, trading days
    trim_tolerance: float = Field(default=0.25, ge=0)  # resize a kept holding only beyond this drift
    rules: Literal["auto", "cn", "hk", "none"] = "auto"  # lot sizes for sizing (the backtester enforces its own)
    hk_lot_tables: list[str] = Field(default_factory=list)
    # "ic": learn each factor's sign and weight point in time from its trailing rank IC (``weights`` is the
    # prior until ``ic_lookback`` rows of known ICs exist); "static": ``weights`` as given
    weighting: Literal["static", "ic"] = "static"
    ic_horizon: int = Field(default=20, ge=1)  # forward-return horizon of those ICs, trading days
    ic_lookback: int = Field(default=240, ge=20)  # rows of trailing ICs averaged (about a year)

    @field_validator("weights")
    @classmethod
    def _known_factors(cls, v: dict[str, float]) -> dict[str, float]:
        return check_weights(v)


class PairsParams(StrategyParams):
    """Trade the z-score of cointegrated pairs' spreads (shorts only where the rules allow)."""

    formation_days: int = Field(default=252, ge=30)
    reform_every: int = Field(default=63, ge=1)  # slices between two screens
    max_universe: int = Field(default=300, ge=2)  # most traded stocks screened (300 -> 44,850 pairs)
    universe: list[str] | None = None  # screen only these symbols (default: every stock of the data)
    min_traded_fraction: float = Field(default=0.95, ge=0, le=1)  # of formation days; long suspensions
    # repeat one close for weeks and would look like a stationary spread
    max_pairs: int = Field(default=5, ge=1)
    pvalue_max: float = Field(default=0.05, gt=0, le=1)
    maxlag: int | None = Field(default=None, ge=0)
    autolag: Literal["aic", "bic"] | None = "aic"
    z_window: int = Field(default=20, ge=3)
    entry_z: float = Field(default=2.0, gt=0)
    exit_z: float = Field(default=0.5, ge=0)
    stop_z: float = Field(default=4.0, gt=0)
    capital_per_pair: float = Field(default=0.18, gt=0, le=1)  # gross value of both legs / equity
    rules: Literal["auto", "cn", "hk", "none"] = "auto"
    marginable_tables: list[str] = Field(default_factory=list)  # extra A-share short-sellable CSVs
    hk_short_tables: list[str] = Field(default_factory=list)  # extra HK designated short-sell CSVs
    hk_lot_tables: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> "PairsParams":
        if not self.exit_z < self.entry_z < self.stop_z:
            raise ValueError("need exit_z < entry_z < stop_z")
        return self


class RLDQNParams(StrategyParams):
    """Trade with a DQN agent trained by ``nofx rl train``."""

    model: str  # checkpoint written by `nofx rl train`
    lot: int | None = Field(default=None, gt=0)  # default: the lot the agent was trained with
    # hold until this date: lets a backtest start earlier so the features are warm on the first
    # traded day, as they are in the environment (which computes them on the whole history)
    trade_from: date | None = None
