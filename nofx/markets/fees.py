"""Pluggable fee models (zipline style): the backtester asks a :class:`FeeModel` for the fees of each
fill. :class:`MarketFees` charges what the instrument's market rules say (commission, stamp duty,
levies...), :class:`ZeroFees` charges nothing (research runs, ``--fees zero``).

The broker commission is not a market rule but an account setting, hence :class:`CommissionConfig`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from nofx.domain.enums import Side
from nofx.domain.fills import FeeBreakdown
from nofx.domain.instruments import Instrument
from nofx.domain.money import ZERO, round_cents
from nofx.markets.memo import DayMemo

if TYPE_CHECKING:  # only for annotations: the rule book lives beside us and imports this module
    from nofx.markets.instrument_rules import FeeTotal, InstrumentRules
    from nofx.markets.rulebook import RuleBook


MinimumBasis = Literal["per_order", "per_fill"]
MINIMUM_BASES: tuple[str, ...] = ("per_order", "per_fill")


class CommissionConfig(BaseModel):
    """Broker commission: ``max(rate * turnover, minimum)``, rounded half up to the cent.
    Defaults are a common A-share retail rate (0.025%, CNY 5 minimum); see ``HK_DEFAULT_COMMISSION``.

    ``minimum_basis`` says what the minimum applies to. ``per_order`` (default, how brokers bill): the
    commission of an order on one trading day is ``max(rate * the day's turnover of the order, minimum)``,
    however many fills it took; each fill pays the increase of that amount (the first fill the minimum,
    later ones only what the rate adds beyond it), so the fills of an order-day sum to it exactly.
    An order that lives across days (GTC) starts again each day, as a new day's order would.
    ``per_fill``: every fill pays ``max(rate * its turnover, minimum)`` (some discount brokers' terms).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    rate: Decimal = Field(default=Decimal("0.00025"), ge=0, lt=1, description="fraction of turnover")
    minimum: Decimal = Field(default=Decimal("5"), ge=0, description="minimum charge, in the market currency")
    minimum_basis: MinimumBasis = "per_order"

    def charge(self, turnover: Decimal) -> Decimal:
        """Commission on ``turnover`` billed as one charge (one fill, or one order-day)."""
        return round_cents(max(turnover * self.rate, self.minimum))

    def charge_fill(self, turnover: Decimal, prior_turnover: Decimal = ZERO) -> Decimal:
        """Commission of a fill of ``turnover`` after ``prior_turnover`` already filled by the same order
        on the same day. Under ``per_order`` the increments telescope to ``charge(day's turnover)``."""
        if self.minimum_basis == "per_fill" or prior_turnover <= 0:
            return self.charge(turnover)
        return self.charge(prior_turnover + turnover) - self.charge(prior_turnover)


CN_DEFAULT_COMMISSION = CommissionConfig()
HK_DEFAULT_COMMISSION = CommissionConfig(rate=Decimal("0.0003"), minimum=Decimal("3"))

ZERO_FEES = FeeBreakdown()


class FeeModel(ABC):
    """Fees of one fill. Implementations must be pure (same inputs, same answer)."""

    @abstractmethod
    def fees(self, inst: Instrument, on: date, side: Side, quantity: int, price: Decimal) -> FeeBreakdown:
        """Every fee component of a fill of ``quantity`` at ``price`` on ``on``."""

    def fill_fees(self, inst: Instrument, on: date, side: Side, quantity: int, price: Decimal,
                  prior_turnover: Decimal = ZERO) -> FeeBreakdown:
        """Fees of a fill that follows ``prior_turnover`` (quote currency) already filled by the same
        order on ``on``: what a per-order commission minimum needs. Default: as :meth:`fees`."""
        return self.fees(inst, on, side, quantity, price)

    def instrument_fee_total(self, rules: InstrumentRules) -> FeeTotal:
        """``(on, side, quantity, price, prior_turnover) -> fill_fees(...).total`` for one instrument (the
        order path only ever needs the total). Models may answer faster, never differently."""
        inst, fill_fees = rules.inst, self.fill_fees

        def total(on: date, side: Side, quantity: int, price: Decimal, prior_turnover: Decimal = ZERO) -> Decimal:
            return fill_fees(inst, on, side, quantity, price, prior_turnover).total

        return total


class ZeroFees(FeeModel):
    """No fees at all."""

    def fees(self, inst: Instrument, on: date, side: Side, quantity: int, price: Decimal) -> FeeBreakdown:
        return ZERO_FEES

    def instrument_fee_total(self, rules: InstrumentRules) -> FeeTotal:
        zero = ZERO_FEES.total

        def total(on: date, side: Side, quantity: int, price: Decimal, prior_turnover: Decimal = ZERO) -> Decimal:
            return zero

        return total


class MarketFees(FeeModel):
    """Fees as the instrument's market charges them, looked up in ``rulebook``."""

    def __init__(self, rulebook: RuleBook) -> None:
        self.rulebook = rulebook
        # the order path asks the same question several times per order (risk check, reservation,
        # fill at the same price): fees are a pure function of the arguments, so remember the answers
        # of the days being traded (only those: a long run must not keep every past day's, issue 9)
        self._memo: DayMemo[FeeBreakdown] = DayMemo(self._compute)

    def _compute(self, inst: Instrument, side: Side, quantity: int, price: Decimal, on: date) -> FeeBreakdown:
        return self.rulebook.rules_for(inst).fees(inst, on, side, quantity, price)

    def fees(self, inst: Instrument, on: date, side: Side, quantity: int, price: Decimal) -> FeeBreakdown:
        return self._memo((inst, side, quantity, price), on)

    def fill_fees(self, inst: Instrument, on: date, side: Side, quantity: int, price: Decimal,
                  prior_turnover: Decimal = ZERO) -> FeeBreakdown:
        full = self._memo((inst, side, quantity, price), on)
        if prior_turnover <= 0:
            return full
        commission = self.rulebook.rules_for(inst).commission
        if commission is None:
            return full
        return replace(full, commission=commission.charge_fill(price * quantity, prior_turnover))

    def instrument_fee_total(self, rules: InstrumentRules) -> FeeTotal:
        mine = self.rulebook.rules_for(rules.inst)  # this model's rule book decides, as in fees()
        fast = (rules if mine is rules.rules else mine.instrument_rules(rules.inst)).market_fee_total()
        return fast if fast is not None else super().instrument_fee_total(rules)
