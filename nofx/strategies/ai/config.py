"""What an AI trader decides with (the policy side of its TOML ``[trader]`` section): prompts, cadence,
context budget, contamination guard and the limits enforced in code. The model endpoint (URL, model,
key, prices, cache) is configured in ``nofx.ai.config``, a layer up, because only drivers do I/O."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from nofx.strategies.base import StrategyParams

_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class AILimits(BaseModel):
    """Every limit an AI trader's decisions pass in code (none lives only in the prompt). ``None``
    disables a limit. A decision that breaks one is cut down or refused, with a reason the next prompt
    shows."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_positions: int | None = Field(default=5, gt=0)  # symbols held at once
    max_position_weight: float | None = Field(default=0.25, gt=0, le=1)  # position value / equity
    max_position_value: Decimal | None = Field(default=None, gt=0)  # quote currency
    min_confidence: float = Field(default=0.0, ge=0, le=1)  # below: refused
    min_reward_risk: float | None = Field(default=None, gt=0)  # (target - entry) / (entry - stop), buys
    require_stop_loss: bool = False  # buys without a stop_loss are refused
    daily_loss_pause: float | None = Field(default=None, gt=0, lt=1)  # loss / day-start equity: no buys today
    max_orders_per_cycle: int | None = Field(default=10, gt=0)  # throttle: the rest is refused
    min_bars_between_trades: int = Field(default=0, ge=0)  # throttle per symbol, in bars
    failed_cycles_reduce_only: int = Field(default=3, gt=0)  # failed cycles in a row -> reduce only
    cash_buffer: float = Field(default=0.0, ge=0, lt=1)  # fraction of cash never spent


class RoleConfig(BaseModel):
    """One step of a TradingAgents-style chain. ``decides`` roles answer with decisions (the last one's
    decisions are traded); the others (an analyst) answer with notes passed to the next role."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=32)
    template: str | None = None  # prompt file; default: the shipped one for the name (analyst, trader, risk)
    decides: bool = True


class AITraderParams(StrategyParams):
    language: Literal["en", "zh"] = "en"
    prompt_template: str | None = None  # system prompt file (default: shipped prompts/<language>/trader.md)
    roles: tuple[RoleConfig, ...] = ()  # empty: one "trader" role
    decision_every: int = Field(default=1, gt=0)  # bars between decision cycles
    decision_times: tuple[str, ...] = ()  # intraday: decide at these HH:MM bar times instead
    context_tokens: int = Field(default=6000, ge=500)  # token budget of the context (user message)
    history_bars: int = Field(default=5, ge=1, le=60)  # recent closes listed per symbol
    recent_decisions: int = Field(default=12, ge=0, le=200)  # of the trader's past decisions shown
    guard: bool = False  # contamination guard: aliases, day offsets, rescaled prices
    guard_seed: int = 0
    style: str = ""  # free text appended to the system prompt ("momentum", "contrarian", ...)
    limits: AILimits = Field(default_factory=AILimits)

    @field_validator("decision_times")
    @classmethod
    def _times(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for t in v:
            if not _TIME.match(t):
                raise ValueError(f"decision time {t!r} must look like 14:30")
        return v

    @model_validator(mode="after")
    def _one_decider(self) -> "AITraderParams":
        if self.roles and not self.roles[-1].decides:
            raise ValueError("the last role must decide (its decisions are traded)")
        return self
