"""What a backtest produces: trades, equity, refusals, metrics. Serialisable to the documented JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nofx.backtest.annualisation import Annualisation
from nofx.domain.fills import Fill


@dataclass(frozen=True, slots=True)
class Rejection:
    ts: pd.Timestamp
    symbol: str
    side: str  # "buy" / "sell"
    quantity: int
    code: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"datetime": self.ts.isoformat(), "symbol": self.symbol, "side": self.side,
                "quantity": self.quantity, "code": self.code, "reason": self.reason}


@dataclass
class BacktestResult:
    strategy: str
    params: dict[str, Any]
    initial_cash: Decimal
    trades: list[Fill]
    # index: DatetimeIndex of the clock; columns: equity, cash (floats exact to the cent: they are
    # converted from the Decimal ledger at each slice and rounded to 0.01)
    equity: pd.DataFrame
    rejections: list[Rejection]
    metrics: dict[str, float | str | None] = field(default_factory=dict)
    benchmark: pd.Series | None = None  # benchmark close on the same index, if any
    prices: pd.DataFrame | None = None  # close of the traded universe (for the report's price charts)
    messages: list[str] = field(default_factory=list)
    final_cash: Decimal = Decimal(0)
    fees_paid: Decimal = Decimal(0)
    dividends: Decimal = Decimal(0)  # cash booked from corporate actions
    corporate_actions: list = field(default_factory=list)  # CorporateActionApplied events
    price_basis: str = "raw"  # "raw" or "adjusted": whether the bars already include corporate actions
    tax_withheld: Decimal = Decimal(0)  # dividend tax withheld at source (HK Southbound individuals)
    dividend_tax: Decimal = Decimal(0)  # dividend tax deducted at sale (A-share individuals)
    dividend_tax_events: list = field(default_factory=list)  # DividendTaxDeducted events
    annualisation: Annualisation | None = None  # how per-period metrics were scaled to a year
    # the run's fee model: fee_parts (the report's fee components) are recomputed from it on demand, so a
    # backtest that writes no report pays nothing for them; never pickled (parts are computed first)
    fee_model: Any = field(default=None, repr=False, compare=False)
    _fee_parts: list | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def fee_parts(self) -> list | None:
        """``FeeBreakdown`` of each fill, in ``trades`` order (None without the run's fee model)."""
        if self._fee_parts is None and self.fee_model is not None:
            from nofx.report.analysis import fill_fee_parts

            self._fee_parts = fill_fee_parts(self.trades, self.fee_model)
        return self._fee_parts

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_fee_parts"] = self.fee_parts
        state["fee_model"] = None  # holds caches that do not pickle
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    @property
    def returns(self) -> pd.Series:
        return self.equity["equity"].pct_change().fillna(0.0)

    def to_json_dict(self) -> dict[str, Any]:
        def num(v: Any) -> Any:
            if isinstance(v, (np.floating, float)):
                return None if not np.isfinite(v) else float(v)
            if isinstance(v, np.integer):
                return int(v)
            return v

        return {
            "strategy": self.strategy,
            "params": self.params,
            "metrics": {k: num(v) for k, v in self.metrics.items()},
            "price_basis": self.price_basis,
            "dividend_tax": {
                "withheld_at_source": float(self.tax_withheld), "deducted_at_sale": float(self.dividend_tax),
                "deductions": [{"datetime": pd.Timestamp(e.ts).isoformat(), "symbol": e.symbol, "fill_id": e.fill_id,
                                "quantity": e.quantity, "amount": float(e.amount), "detail": e.detail}
                               for e in self.dividend_tax_events],
            },
            "messages": list(self.messages),
            "annualisation": None if self.annualisation is None else {
                **self.annualisation.to_dict(), "description": self.annualisation.describe()},
            "trades": [
                {
                    "order_id": f.order_id,
                    "symbol": f.symbol,
                    "datetime": pd.Timestamp(f.ts).isoformat(),
                    "side": f.side.value,
                    "quantity": f.quantity,
                    "price": float(f.price),
                    "fee": float(f.fee),
                }
                for f in self.trades
            ],
            "equity": [
                {"datetime": ts.isoformat(), "equity": round(float(e), 2), "cash": round(float(c), 2)}
                for ts, e, c in zip(self.equity.index, self.equity["equity"], self.equity["cash"])
            ],
            "rejections": [r.to_dict() for r in self.rejections],
            "corporate_actions": [
                {"datetime": pd.Timestamp(a.ts).isoformat(), "symbol": a.symbol, "cash": float(a.cash),
                 "cash_per_share": float(a.cash_per_share), "split_ratio": float(a.split_ratio),
                 "quantity_before": a.quantity_before, "quantity_after": a.quantity_after,
                 "tax_withheld": float(a.tax_withheld)}
                for a in self.corporate_actions
            ],
        }

    def write_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json_dict(), indent=1, ensure_ascii=False))
