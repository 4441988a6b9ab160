"""A gymnasium environment that trades one instrument's real bars under a market's rules.

Timing: the agent decides after the close of bar ``t`` (it sees rows <= t); its order executes at
the open of bar ``t + 1`` (as the backtester's ``next_open`` fill), and the step's equity is marked
at that bar's close. At the open the rules apply: suspended bars refuse every order, an open at the
upper limit refuses buys and one at the lower limit refuses sells, buys are whole lots, shares
bought on a date cannot be sold that date under T+1 (it binds with intraday bars), fees as charged.

Actions (``Discrete(5)``): 0 hold, 1 buy 1 lot, 2 buy 2 lots, 3 sell 1 lot, 4 sell 2 lots.
A refused action holds (``info["refused"]`` says why) - the agent learns what the market allows.

Reward: ``scale * (r - cost_weight * fee / E0 - risk_weight * r**2)`` with ``r = log(E1 / E0)``.
``r`` already pays the fees; the cost term is an extra turnover penalty that discourages churning
lots through the 5 CNY minimum commission, and ``r**2`` is a variance (risk) penalty.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import gymnasium as gym
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from nofx.domain.errors import ConfigError
from nofx.domain.money import MAX_CASH
from nofx.markets.base import MarketRules
from nofx.models.rl.market import Account, StockSeries, TradeOutcome, minimum_lot
from nofx.models.rl.observation import OBS_CLIP, OBS_SIZE, WARMUP_BARS, observation

ACTIONS: tuple[str, ...] = ("hold", "buy 1 lot", "buy 2 lots", "sell 1 lot", "sell 2 lots")
ACTION_LOTS: tuple[int, ...] = (0, 1, 2, -1, -2)  # signed lots of each action


class EnvConfig(BaseModel):
    """Settings of :class:`TradingEnv` (the ``[env]`` table of an RL config file)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    cash: float = Field(default=100_000.0, gt=0, le=float(MAX_CASH))
    lot: int | None = Field(default=None, gt=0)  # None: the market's minimum buy for the instrument
    cost_weight: float = Field(default=1.0, ge=0)
    risk_weight: float = Field(default=1.0, ge=0)
    reward_scale: float = Field(default=100.0, gt=0)  # daily log returns ~0.01: scale to ~1 for the Q-net
    episode_bars: int | None = Field(default=250, ge=2)  # None: the whole period each episode
    random_start: bool = True  # training: random episode start inside the period


class TradingEnv(gym.Env[np.ndarray, np.int64]):
    """One instrument, one period (``start``..``end``, inclusive), cash account under ``rules``."""

    metadata = {"render_modes": []}

    def __init__(
        self,
        series: StockSeries,
        rules: MarketRules,
        start: date | None = None,
        end: date | None = None,
        config: EnvConfig | None = None,
    ) -> None:
        super().__init__()
        self.series = series
        self.rules = rules
        self.config = config or EnvConfig()
        i0, self._last = series.index_range(start, end)
        self._i0 = i0
        # features are computed on the whole series, so a later period starts with a warm window;
        # a period at the very start of the data skips the warm-up rows when it can
        self._first = i0 if i0 >= WARMUP_BARS or self._last - WARMUP_BARS < 1 else WARMUP_BARS
        self.lot = self.config.lot or minimum_lot(rules, series.inst, series.dates[self._first])
        self.observation_space = gym.spaces.Box(-OBS_CLIP, OBS_CLIP, shape=(OBS_SIZE,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(len(ACTIONS))
        self._account = Account(self.config.cash)
        self._t = self._first
        self._end = self._last

    @classmethod
    def from_bars(
        cls,
        bars: pd.DataFrame,
        symbol: str,
        rules: MarketRules,
        start: date | None = None,
        end: date | None = None,
        config: EnvConfig | None = None,
    ) -> "TradingEnv":
        return cls(StockSeries.from_bars(bars, symbol, rules), rules, start, end, config)

    # --- gymnasium API -----------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        options = options or {}
        cfg = self.config
        span = self._last - self._first
        length = span if cfg.episode_bars is None else min(cfg.episode_bars, span)
        if "start_index" in options:
            start = int(options["start_index"])
            if not self._i0 <= start < self._last:
                raise ConfigError("start_index outside the period", start_index=start)
        elif cfg.random_start and length < span:
            start = int(self.np_random.integers(self._first, self._last - length + 1))
        else:
            start = self._first
        self._t = start
        self._end = min(self._last, start + length)
        self._account = Account(cfg.cash)
        return self._obs(), self._info(None)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        a = int(action)
        if not self.action_space.contains(a):
            raise ConfigError("action outside Discrete(5)", action=action)
        if self._t >= self._end:
            raise ConfigError("step() called after the episode ended; call reset()")
        s, acc = self.series, self._account
        e0 = acc.equity(float(s.close[self._t]))
        i = self._t + 1
        if i in s.actions:  # ex-date: the holding gets its dividend / bonus shares before the open
            acc.corporate_action(*s.actions[i])
        lots = ACTION_LOTS[a]
        if lots > 0:
            outcome = acc.buy(self.rules, s, i, lots * self.lot, self.lot)
        elif lots < 0:
            outcome = acc.sell(self.rules, s, i, -lots * self.lot, self.lot)
        else:
            outcome = TradeOutcome(0, float(s.open[i]), 0.0, None)
        self._t = i
        e1 = acc.equity(float(s.close[i]))
        r = float(np.log(e1 / e0))
        cfg = self.config
        reward = cfg.reward_scale * (r - cfg.cost_weight * outcome.fee / e0 - cfg.risk_weight * r * r)
        truncated = self._t >= self._end
        terminated = e1 <= 0.0
        return self._obs(), float(reward), terminated, truncated, self._info(outcome)

    # --- helpers -----------------------------------------------------------------------------
    @property
    def account(self) -> Account:
        return self._account

    @property
    def index(self) -> int:
        """Row of the series the current observation describes (its close)."""
        return self._t

    @property
    def period(self) -> tuple[int, int]:
        """First and last row index of the environment's period (after the warm-up skip)."""
        return self._first, self._last

    def _obs(self) -> np.ndarray:
        price = float(self.series.close[self._t])
        acc = self._account
        return observation(self.series.features[self._t], acc.quantity * price, acc.cash)

    def _info(self, outcome: TradeOutcome | None) -> dict[str, Any]:
        acc = self._account
        info: dict[str, Any] = {
            "datetime": self.series.timestamps[self._t],
            "equity": acc.equity(float(self.series.close[self._t])),
            "cash": acc.cash,
            "quantity": acc.quantity,
        }
        if outcome is not None:
            info.update(traded=outcome.quantity, price=outcome.price, fee=outcome.fee, refused=outcome.refused)
        return info
