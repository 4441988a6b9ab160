"""Choosing market rules per instrument. A :class:`RuleBook` is itself a :class:`MarketRules` that
forwards every question to the rules of the instrument's market, so the engine holds one object
whatever the universe mixes (A-shares and HK stocks under ``--rules auto``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, time
from decimal import Decimal
from pathlib import Path

import numpy as np

from nofx.domain.enums import Side
from nofx.domain.errors import ConfigError
from nofx.domain.fills import FeeBreakdown
from nofx.domain.instruments import Instrument, Market, parse_symbol
from nofx.markets.base import MarketRules, PriceLimits
from nofx.markets.cn import ChinaRules
from nofx.markets.instrument_rules import InstrumentRules
from nofx.markets.fees import CommissionConfig, FeeModel, MarketFees, ZeroFees
from nofx.markets.hk import HongKongRules
from nofx.markets.none import NoRules

RULE_MODES = ("auto", "cn", "hk", "none")
FEE_MODES = ("default", "zero")


class RuleBook(MarketRules):
    """Rules by market. ``rules_for`` raises :class:`ConfigError` for a market the book lacks
    (e.g. an HK symbol under ``--rules cn``)."""

    def __init__(self, by_market: Mapping[Market, MarketRules], name: str = "auto") -> None:
        self.by_market = dict(by_market)
        self.name = name

    def rules_for(self, inst: Instrument) -> MarketRules:
        try:
            return self.by_market[inst.market]
        except KeyError:
            have = ", ".join(m.value for m in self.by_market) or "none"
            raise ConfigError(
                f"rules mode '{self.name}' has no rules for {inst.market.value.upper()} symbol {inst.symbol} "
                f"(it covers: {have}); use --rules auto",
                symbol=inst.symbol,
            ) from None

    def for_symbol(self, symbol: str) -> MarketRules:
        return self.rules_for(parse_symbol(symbol))

    # --- MarketRules, forwarded ---------------------------------------------------------------------
    def instrument_rules(self, inst: Instrument) -> InstrumentRules:
        return self.rules_for(inst).instrument_rules(inst)

    def round_buy_quantity(self, inst: Instrument, on: date, quantity: int) -> int:
        return self.rules_for(inst).round_buy_quantity(inst, on, quantity)

    def quantity_error(self, inst: Instrument, on: date, side: Side, quantity: int, holding: int) -> str | None:
        return self.rules_for(inst).quantity_error(inst, on, side, quantity, holding)

    def price_limits(
        self, inst: Instrument, on: date, preclose: Decimal, is_st: bool, days_listed: int | None
    ) -> PriceLimits | None:
        return self.rules_for(inst).price_limits(inst, on, preclose, is_st, days_listed)

    def limit_arrays(
        self, inst: Instrument, dates: np.ndarray, preclose: np.ndarray, is_st: np.ndarray, days_listed: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        return self.rules_for(inst).limit_arrays(inst, dates, preclose, is_st, days_listed)

    def tick_size(self, inst: Instrument, on: date, price: Decimal) -> Decimal:
        return self.rules_for(inst).tick_size(inst, on, price)

    def round_price_to_tick(self, inst: Instrument, on: date, price: Decimal, side: Side) -> Decimal:
        return self.rules_for(inst).round_price_to_tick(inst, on, price, side)

    def price_on_tick(self, inst: Instrument, on: date, price: Decimal) -> bool:
        return self.rules_for(inst).price_on_tick(inst, on, price)

    def fill_price(self, inst: Instrument, on: date, price: float, side: Side) -> Decimal:
        return self.rules_for(inst).fill_price(inst, on, price, side)

    def sell_locked_until_next_day(self, inst: Instrument, on: date) -> bool:
        return self.rules_for(inst).sell_locked_until_next_day(inst, on)

    def allows_short(self, inst: Instrument, on: date) -> bool:
        return self.rules_for(inst).allows_short(inst, on)

    def sessions(self, inst: Instrument, on: date) -> tuple[tuple[time, time], ...]:
        return self.rules_for(inst).sessions(inst, on)

    def calendar_name(self, inst: Instrument) -> str | None:
        return self.rules_for(inst).calendar_name(inst)

    def fees(self, inst: Instrument, on: date, side: Side, quantity: int, price: Decimal) -> FeeBreakdown:
        return self.rules_for(inst).fees(inst, on, side, quantity, price)


def build_rulebook(
    mode: str = "auto",
    *,
    cn_commission: CommissionConfig | None = None,
    hk_commission: CommissionConfig | None = None,
    cn_marginable_tables: Sequence[str | Path] = (),
    hk_lot_tables: Sequence[str | Path] = (),
    hk_short_tables: Sequence[str | Path] = (),
) -> RuleBook:
    """Rules for ``--rules MODE``: ``auto`` picks by each symbol's market, ``cn``/``hk`` allow only that
    market, ``none`` is frictionless for every symbol. Commissions default to each market's
    ``CommissionConfig`` default; the table arguments add user CSVs (see ChinaRules/HongKongRules)."""
    m = mode.strip().lower() if isinstance(mode, str) else mode
    if m not in RULE_MODES:
        raise ConfigError(f"unknown rules mode {mode!r}; choose one of {', '.join(RULE_MODES)}", rules=mode)
    if m == "none":
        free = NoRules()
        return RuleBook({Market.CN: free, Market.HK: free}, name="none")
    by_market: dict[Market, MarketRules] = {}
    if m in ("auto", "cn"):
        by_market[Market.CN] = ChinaRules(commission=cn_commission, marginable_tables=cn_marginable_tables)
    if m in ("auto", "hk"):
        by_market[Market.HK] = HongKongRules(commission=hk_commission, lot_tables=hk_lot_tables,
                                             short_tables=hk_short_tables)
    return RuleBook(by_market, name=m)


def build_fee_model(mode: str, rulebook: RuleBook) -> FeeModel:
    """``default``: what each market charges (per ``rulebook``); ``zero``: nothing."""
    m = mode.strip().lower() if isinstance(mode, str) else mode
    if m == "default":
        return MarketFees(rulebook)
    if m == "zero":
        return ZeroFees()
    raise ConfigError(f"unknown fee mode {mode!r}; choose one of {', '.join(FEE_MODES)}", fees=mode)
