"""Dividend income tax by market, kind of security, investor type and holding period.

Rates live in ``tables/dividend_tax.csv`` (effective-dated, user-extendable); the kind of an HK security
(``h_share`` or ``other``) in ``tables/hk_security_kinds.csv``. Sources:

* A-shares, individuals: Caishui [2015] No. 101 (财税〔2015〕101号), for dividends from 2015-09-08: no
  tax is withheld when the dividend is paid; when the shares are sold the broker deducts 20% of the
  dividends those shares received if they were held 1 month or less, 10% (50% taxable) if held over 1
  month up to 1 year, nothing beyond. Holding period: from the acquisition date to the day before the
  sale, so "held over N months" means ``sold_on > acquired + N months``. Shares are taken first-in
  first-out (``nofx.domain.tax_lots``). Caishui [2012] No. 85 before it (20% / 10% / 5%).
* HK shares held through Southbound Stock Connect, individuals: Caishui [2014] No. 81 / [2016] No. 127:
  20% withheld at source, by the H-share company (H shares) or by ChinaClear (other shares).
* ``institution``: nothing deducted (enterprises declare dividend income themselves).
* A-share exchange-traded funds: distributions are not taxed (Caishui [2002] No. 128).

Bonus shares paid out of profits are taxed at par value under the same notices; the data cannot tell
them from capital-reserve conversions (not taxed), so no tax is computed on bonus shares.
"""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

from nofx.domain.errors import ConfigError
from nofx.domain.instruments import Instrument, Market, SecurityType
from nofx.domain.money import ZERO, round_cents
from nofx.domain.tax_lots import LotSale
from nofx.markets.hk import hk_key
from nofx.markets.tables import ChainedTables, EffectiveDatedTable, RuleNotFoundError, bundled_table_path
from nofx.markets.tables import load_table, one_of, parse_nonneg_decimal, parse_nonneg_int

Investor = Literal["individual", "institution"]
INVESTORS: tuple[str, ...] = ("individual", "institution")
COLLECTED = ("at_sale", "at_source", "none")


def _tax_table(path: str | Path) -> EffectiveDatedTable:
    return load_table(path, name="dividend tax", key_columns={
        "market": one_of("cn", "hk"), "kind": str, "investor": str, "held_over_months": parse_nonneg_int},
        value_columns={"rate": parse_nonneg_decimal, "collected": one_of(*COLLECTED)})


def _kind_table(path: str | Path) -> EffectiveDatedTable:
    return load_table(path, name="HK security kind", key_columns={"symbol": hk_key},
                      value_columns={"kind": str}, require_valid_from=False)


@lru_cache(maxsize=None)
def _bundled(filename: str) -> EffectiveDatedTable:
    path = bundled_table_path(filename)
    return _tax_table(path) if filename == "dividend_tax.csv" else _kind_table(path)


def add_months(day: date, months: int) -> date:
    """``day`` plus calendar months, the day clamped to the month's end (2019-01-31 + 1 = 2019-02-28)."""
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    return date(year, month, min(day.day, monthrange(year, month)[1]))


@dataclass(frozen=True, slots=True)
class SaleTax:
    """Tax deducted at a sale: the amount (cents) and, per lot part, how it was computed."""

    amount: Decimal
    detail: str


class DividendTax:
    """The dividend tax of one account: ``investor`` type and the rate tables (user tables first)."""

    def __init__(self, investor: str = "individual", tables: Sequence[str | Path] = (),
                 kind_tables: Sequence[str | Path] = ()) -> None:
        if investor not in INVESTORS:
            raise ConfigError(f"investor must be one of {', '.join(INVESTORS)}, found {investor!r}")
        self.investor = investor
        self._rates = ChainedTables([_tax_table(p) for p in tables] + [_bundled("dividend_tax.csv")])
        self._kinds = ChainedTables([_kind_table(p) for p in kind_tables] + [_bundled("hk_security_kinds.csv")])
        bands: dict[tuple[str, str], set[int]] = {}
        for table in self._rates.tables:
            for market, kind, inv, months in table.keys():
                if inv == investor:
                    bands.setdefault((market, kind), set()).add(months)
        self._bands = {k: sorted(v, reverse=True) for k, v in bands.items()}
        # whether any of this investor's dividends can be taxed at sale (then lots must be kept)
        self.taxes_at_sale = any(row["collected"] == "at_sale" and row["rate"] > 0
                                 for table in self._rates.tables for key in table.keys() if key[2] == investor
                                 for row in table.rows(*key))
        self.sources = self._rates.sources

    def kind(self, inst: Instrument, on: date) -> str:
        if inst.market is Market.HK:
            row = self._kinds.find(hk_key(inst.symbol), on=on)
            return row["kind"] if row is not None else "other"
        return "fund" if inst.security_type is SecurityType.FUND else "stock"

    def _row(self, inst: Instrument, ex_date: date, months: int):
        market, kind = inst.market.value, self.kind(inst, ex_date)
        row = self._rates.find(market, kind, self.investor, months, on=ex_date)
        if row is None:
            raise RuleNotFoundError(
                f"no dividend tax row for market={market}, kind={kind}, investor={self.investor}, "
                f"held_over_months={months} on {ex_date}: add one to {self.sources[-1]} or to your own table "
                "(rule_tables.dividend_tax)", symbol=inst.symbol)
        return row

    def collects_at_sale(self, inst: Instrument, ex_date: date) -> bool:
        """Whether this account's dividends on ``inst`` are taxed when the shares are sold."""
        return self._row(inst, ex_date, 0)["collected"] == "at_sale"

    def withheld(self, inst: Instrument, ex_date: date, gross: Decimal) -> Decimal:
        """Tax withheld at source from a gross cash dividend (cents; 0 unless collected at source)."""
        row = self._row(inst, ex_date, 0)
        if row["collected"] != "at_source" or gross <= 0:
            return ZERO
        return round_cents(gross * row["rate"])

    def rate_at_sale(self, inst: Instrument, ex_date: date, acquired: date, sold_on: date) -> Decimal:
        """Rate for a dividend received on ``ex_date`` by shares bought ``acquired`` and sold ``sold_on``."""
        for months in self._bands.get((inst.market.value, self.kind(inst, ex_date)), [0]):
            if months == 0 or sold_on > add_months(acquired, months):
                row = self._row(inst, ex_date, months)
                return row["rate"] if row["collected"] == "at_sale" else ZERO
        return ZERO

    def at_sale(self, inst: Instrument, sold_on: date, parts: Sequence[LotSale]) -> SaleTax:
        """Tax on the dividends attributed to the lot parts a sale takes (rounded once, to the cent)."""
        total = ZERO
        notes: list[str] = []
        for part in parts:
            for ex_date, cash in part.dividends:
                rate = self.rate_at_sale(inst, ex_date, part.acquired, sold_on)
                if rate and cash:
                    total += cash * rate
                    notes.append(f"{part.quantity} bought {part.acquired}: dividend {cash} of {ex_date} x {rate}")
        return SaleTax(round_cents(total), "; ".join(notes))
