"""A strategy that submits a fixed script of orders, for tests of the engine and the market rules."""

from __future__ import annotations

from typing import Sequence

import pandas as pd

from nofx.domain.orders import OrderRequest
from nofx.strategies.base import MarketView, PortfolioView, Strategy


class Scripted(Strategy):
    name = "scripted"

    def __init__(self, script: dict[str, list[OrderRequest]]) -> None:
        super().__init__()
        # keys: ISO dates (or datetimes) of the slice at which to submit
        self.script = {pd.Timestamp(k): v for k, v in script.items()}
        self.fills = []
        self.refusals: list[tuple[str, str]] = []

    def on_slice(self, view: MarketView, portfolio: PortfolioView) -> Sequence[OrderRequest]:
        return self.script.get(pd.Timestamp(view.timestamp), ())

    def on_fill(self, fill) -> None:
        self.fills.append(fill)

    def on_rejection(self, request, code, reason) -> None:
        self.refusals.append((code, reason))
