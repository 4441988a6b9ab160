"""Corporate actions that change a holding without a trade: cash dividends and share splits/bonus shares."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class CorporateAction:
    """On ``ex_date``: each share held receives ``cash_per_share`` and becomes ``split_ratio`` shares
    (10-for-10 bonus shares = 2.0). Dividends are paid gross: withholding tax depends on the holder and
    the holding period and is not modelled."""

    symbol: str
    ex_date: date
    cash_per_share: Decimal = Decimal(0)
    split_ratio: Decimal = Decimal(1)
