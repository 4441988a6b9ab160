"""Out-of-sample runs of a policy over a whole period, and the buy-and-hold reference, in the same
environment (same rules, fees, fill timing), so their equity curves compare like for like."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from nofx.models.rl.env import TradingEnv
from nofx.models.rl.market import Account

Policy = Callable[[np.ndarray], int]


@dataclass(frozen=True)
class PolicyRun:
    equity: pd.Series  # at each close, from the period's first close (= initial cash) on
    actions: np.ndarray
    n_trades: int
    fees: float
    refused: int  # requested trades the market refused (limits, T+1, suspension, cash)


def run_policy(env: TradingEnv, policy: Policy) -> PolicyRun:
    """Play ``policy`` greedily from the first to the last bar of ``env``'s period (one episode)."""
    first, last = env.period
    obs, info = env.reset(options={"start_index": first})
    times, values = [info["datetime"]], [info["equity"]]
    actions: list[int] = []
    trades, fees, refused = 0, 0.0, 0
    while env.index < last:
        a = int(policy(obs))
        obs, _, terminated, _, info = env.step(a)
        actions.append(a)
        times.append(info["datetime"])
        values.append(info["equity"])
        trades += info["traded"] != 0
        fees += info["fee"]
        refused += info["refused"] is not None
        if terminated:
            break
    return PolicyRun(pd.Series(values, index=pd.DatetimeIndex(times), name="equity"),
                     np.asarray(actions), trades, fees, refused)


def buy_and_hold(env: TradingEnv) -> pd.Series:
    """Spend the cash on whole lots at the first open the market allows after the period's first
    close (same rules and fees as the agent), then hold to the end."""
    s, rules = env.series, env.rules
    first, last = env.period
    acc = Account(env.config.cash)
    values = [acc.equity(float(s.close[first]))]
    bought = False
    for i in range(first + 1, last + 1):
        if not bought:
            affordable = int(acc.cash // float(s.open[i]))
            bought = acc.buy(rules, s, i, affordable, env.lot).quantity > 0
        values.append(acc.equity(float(s.close[i])))
    return pd.Series(values, index=pd.DatetimeIndex(s.timestamps[first: last + 1]), name="equity")


def log_return_score(env: TradingEnv, policy: Policy) -> float:
    """Validation score used for model selection: total log return of the greedy policy."""
    eq = run_policy(env, policy).equity
    return float(np.log(eq.iloc[-1] / eq.iloc[0]))
