"""Validated backtest configuration (from CLI options or a TOML/YAML file)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from nofx.domain.bounds import BoundedDate
from nofx.domain.money import check_cash_amount
from nofx.engine.matching import LimitFillPolicy

MAX_COMMISSION_RATE = Decimal("0.01")  # 1% of turnover: ten times any retail broker's A-share or HK rate
MAX_COMMISSION_MIN = Decimal("1000")  # per order, in the market's currency


class BacktestConfig(BaseModel):
    # allow_inf_nan=False: inf/nan (TOML's inf, "nan" on the command line) are refused by every field
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    start: BoundedDate | None = None
    end: BoundedDate | None = None
    cash: Decimal = Field(default=Decimal("1000000"))  # > 0, <= MAX_CASH, whole cents (check_cash_amount)
    rules: Literal["auto", "cn", "hk", "none"] = "auto"  # auto: from each symbol's market
    fees: Literal["default", "zero"] = "default"
    fill: Literal["next_open", "close"] = "next_open"
    participation: float = Field(default=0.25, gt=0, le=1)  # max share of a bar's volume one order may take
    # a buy whose execution price is limit-up (a sell: limit-down): "refuse" (default, as RQAlpha and
    # Qlib) or "fraction": fill at most at_limit_fraction of the bar's volume (nofx.engine.matching)
    at_limit: Literal["refuse", "fraction"] = "refuse"
    at_limit_fraction: float | None = Field(default=None, gt=0, le=1)
    benchmark: str | None = None
    # bars before ``start`` given to the strategy's features (moving averages, pair formation windows)
    # so that it can trade from the first day; no orders and no equity before ``start``
    warmup_bars: int = Field(default=0, ge=0)
    # book dividends and bonus shares/splits found in the data on held positions; default: on, except
    # under rules "none" (the frictionless mode compared with peers that ignore them)
    corporate_actions: bool | None = None
    # whether the bars' prices are raw or already adjusted for dividends/splits (``auto``: what the file
    # declares, see nofx.data.price_basis); actions are booked only on raw prices
    prices: Literal["auto", "raw", "adjusted"] = "auto"
    # who holds the account, for dividend tax (nofx/markets/tables/dividend_tax.csv): an individual pays
    # A-share dividend tax at sale by holding period and has 20% withheld on Southbound HK dividends;
    # an institution has nothing deducted
    investor: Literal["individual", "institution"] = "individual"
    # override the market's default broker commission (a rate of turnover; a minimum per order, in cents)
    commission_rate: Decimal | None = Field(default=None, ge=0, le=MAX_COMMISSION_RATE)
    commission_min: Decimal | None = Field(default=None, ge=0, le=MAX_COMMISSION_MIN, decimal_places=2)
    # what the commission minimum applies to: once per order and trading day (brokers' billing), or to
    # every fill (see nofx.markets.fees.CommissionConfig); a TWAP child is its own exchange order
    commission_min_basis: Literal["per_order", "per_fill"] = "per_order"
    # extra tables for market rules (keys cn_marginable, hk_lots, hk_short, dividend_tax, hk_security_kinds)
    rule_tables: dict[str, str] = Field(default_factory=dict)

    @field_validator("cash", mode="before")
    @classmethod
    def _cash_exact(cls, v: Any) -> Any:
        # floats would carry binary noise into the ledger; go through their shortest repr
        return Decimal(repr(v)) if isinstance(v, float) else v

    @field_validator("cash")
    @classmethod
    def _cash_usable(cls, v: Decimal) -> Decimal:
        return check_cash_amount(v)

    @model_validator(mode="after")
    def _at_limit_pair(self) -> "BacktestConfig":
        if self.at_limit == "fraction" and self.at_limit_fraction is None:
            raise ValueError("at_limit 'fraction' needs at_limit_fraction, a share of the bar's volume in (0, 1]")
        if self.at_limit == "refuse" and self.at_limit_fraction is not None:
            raise ValueError("at_limit_fraction applies only with at_limit = 'fraction'")
        return self

    def limit_fill_policy(self) -> LimitFillPolicy:
        """What the venue does with a buy at limit-up / a sell at limit-down (same in backtest and paper)."""
        return LimitFillPolicy(self.at_limit, self.at_limit_fraction or 0.0)
