"""Pluggable fee models (zipline style): the backtester asks a :class:`FeeModel` for the fees of each
fill. :class:`MarketFees` charges what the instrument's market rules say (commission, stamp duty,
levies...), :class:`ZeroFees` charges nothing (research runs, ``--fees zero``).

The broker commission is not a market rule but an account setting, hence :class:`CommissionConfig`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from nofx.domain.enums import Side
from nofx.domain.fills import FeeBreakdown
from nofx.domain.instruments import Instrument
from nofx.domain.money import round_cents

if TYPE_CHECKING:  # only for annotations: the rule book lives beside us and imports this module
    from nofx.markets.rulebook import RuleBook


class CommissionConfig(BaseModel):
    """Broker commission: ``max(rate * turnover, minimum)`` per fill, rounded half up to the cent.
    Defaults are a common A-share retail rate (0.025%, CNY 5 minimum); see ``HK_DEFAULT_COMMISSION``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rate: Decimal = Field(default=Decimal("0.00025"), ge=0, lt=1, description="fraction of turnover")
    minimum: Decimal = Field(default=Decimal("5"), ge=0, description="minimum per fill, in the market currency")

    def charge(self, turnover: Decimal) -> Decimal:
        return round_cents(max(turnover * self.rate, self.minimum))


CN_DEFAULT_COMMISSION = CommissionConfig()
HK_DEFAULT_COMMISSION = CommissionConfig(rate=Decimal("0.0003"), minimum=Decimal("3"))

ZERO_FEES = FeeBreakdown()


class FeeModel(ABC):
    """Fees of one fill. Implementations must be pure (same inputs, same answer)."""

    @abstractmethod
    def fees(self, inst: Instrument, on: date, side: Side, quantity: int, price: Decimal) -> FeeBreakdown:
        """Every fee component of a fill of ``quantity`` at ``price`` on ``on``."""


class ZeroFees(FeeModel):
    """No fees at all."""

    def fees(self, inst: Instrument, on: date, side: Side, quantity: int, price: Decimal) -> FeeBreakdown:
        return ZERO_FEES


class MarketFees(FeeModel):
    """Fees as the instrument's market charges them, looked up in ``rulebook``."""

    def __init__(self, rulebook: RuleBook) -> None:
        self.rulebook = rulebook
        # the order path asks the same question several times per order (risk check, reservation,
        # fill at the same price): fees are a pure function of the arguments, so remember recent ones
        self._cached = lru_cache(maxsize=8192)(self._compute)

    def _compute(self, inst: Instrument, on: date, side: Side, quantity: int, price: Decimal) -> FeeBreakdown:
        return self.rulebook.rules_for(inst).fees(inst, on, side, quantity, price)

    def fees(self, inst: Instrument, on: date, side: Side, quantity: int, price: Decimal) -> FeeBreakdown:
        return self._cached(inst, on, side, quantity, price)
