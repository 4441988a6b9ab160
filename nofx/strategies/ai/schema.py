"""The decision schema an AI trader must answer with (sent in the prompt and, where the server supports
it, as the ``response_format`` JSON schema).

A reply is a list of decisions::

    [{"symbol": "600519.SH", "action": "buy", "target_weight": 0.1, "order_type": "limit",
      "limit_price": 1700.0, "stop_loss": 1600.0, "take_profit": 1900.0, "confidence": 0.7,
      "reasoning": "..."}]

``quantity`` is in shares; ``target_weight`` is the wanted position value as a fraction of equity (one
of the two for buy/sell; neither for hold/close). Prices are in the quote currency as the model sees
them (under the contamination guard: rescaled prices, mapped back by the engine).
"""

from __future__ import annotations

from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator


class Action(str, Enum):
    BUY = "buy"
    SELL = "sell"
    HOLD = "hold"
    CLOSE = "close"  # sell the whole sellable holding


class OrderKind(str, Enum):
    LIMIT = "limit"
    MARKET = "market"


class Decision(BaseModel):
    """One instruction for one symbol. Unknown keys are errors: a model that invents fields is told so."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)

    symbol: str = Field(min_length=1, max_length=32, description="a symbol from the universe, e.g. 600519.SH")
    action: Action
    quantity: int | None = Field(default=None, gt=0, description="shares (buy/sell); or give target_weight")
    target_weight: float | None = Field(default=None, ge=0, le=1,
                                        description="wanted position value / equity, 0..1 (buy/sell)")
    order_type: OrderKind = OrderKind.MARKET
    limit_price: Decimal | None = Field(default=None, gt=0, description="required for limit orders")
    stop_loss: Decimal | None = Field(default=None, gt=0, description="exit if the price falls to this")
    take_profit: Decimal | None = Field(default=None, gt=0, description="exit if the price rises to this")
    trailing_stop_pct: float | None = Field(default=None, gt=0, lt=1,
                                            description="exit after this fractional fall from the high since entry")
    confidence: float = Field(ge=0, le=1)
    reasoning: str = Field(default="", max_length=4000)

    @field_validator("symbol")
    @classmethod
    def _strip(cls, v: str) -> str:
        return v.strip().upper()

    @field_validator("limit_price", "stop_loss", "take_profit", mode="before")
    @classmethod
    def _no_float_noise(cls, v: Any) -> Any:
        return Decimal(repr(v)) if isinstance(v, float) else v

    @model_validator(mode="after")
    def _consistent(self) -> "Decision":
        trade = self.action in (Action.BUY, Action.SELL)
        if trade and self.quantity is None and self.target_weight is None:
            raise ValueError(f"{self.action.value} needs quantity or target_weight")
        if self.quantity is not None and self.target_weight is not None:
            raise ValueError("give quantity or target_weight, not both")
        if not trade and (self.quantity is not None or self.target_weight is not None):
            raise ValueError(f"{self.action.value} takes no quantity or target_weight")
        if self.order_type is OrderKind.LIMIT and self.limit_price is None:
            raise ValueError("a limit order needs limit_price")
        if self.order_type is OrderKind.MARKET and self.limit_price is not None:
            raise ValueError("a market order takes no limit_price")
        return self


DECISIONS = TypeAdapter(list[Decision])


def decision_json_schema() -> dict[str, Any]:
    """JSON schema of the reply object ``{"decisions": [...]}`` (OpenAI ``response_format`` wants an
    object at the top level; the parser accepts a bare list too)."""
    item = Decision.model_json_schema()
    defs = item.pop("$defs", {})
    return {
        "type": "object",
        "properties": {"decisions": {"type": "array", "items": item}},
        "required": ["decisions"],
        "additionalProperties": False,
        "$defs": defs,
    }
