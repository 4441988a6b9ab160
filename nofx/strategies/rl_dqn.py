"""``rl_dqn``: trade with a DQN agent trained by ``nofx rl train``.

The agent was trained in :class:`nofx.models.rl.env.TradingEnv`; here it sees the same observation
(market features registered causally through ``ctx.add_feature`` with the very function the
environment uses, plus position and cash fractions from the portfolio) and its action becomes an
ordinary order of 1 or 2 lots that goes through risk, OMS and the exchange like any other strategy's:
the market rules (T+1, limits, lots, fees) are enforced there, not here.
"""

from __future__ import annotations

from functools import partial
from typing import Callable, Sequence

import numpy as np

from nofx.data.panel import BarPanel
from nofx.domain.enums import Side
from nofx.domain.orders import OrderRequest
from nofx.models.rl.dqn import DQNAgent
from nofx.models.rl.env import ACTION_LOTS, ACTIONS
from nofx.models.rl.observation import MARKET_FEATURES, observation, panel_market_features
from nofx.strategies.base import MarketView, PortfolioView, Strategy, StrategyContext
from nofx.strategies.params import RLDQNParams
from nofx.strategies.registry import register_strategy
from nofx.strategies.sizing import round_buy, screen, sell_quantity

FEATURE_PREFIX = "rl_dqn."
# Cash kept aside per buy for fees when sizing (the exchange's fee model decides the real amount).
_FEE_RESERVE = 0.002


def _feature_column(panel: BarPanel, k: int) -> np.ndarray:
    """Column ``k`` of the environment's market features, for every symbol of the panel (causal)."""
    feats = panel_market_features(panel["close"], panel["high"], panel["low"], panel["preclose"])
    return feats[:, :, k]


@register_strategy
class RLDQNStrategy(Strategy):
    name = "rl_dqn"
    Params = RLDQNParams

    def __init__(self, params: RLDQNParams | None = None, policy: Callable[[np.ndarray], int] | None = None,
                 lot: int | None = None) -> None:
        """``policy``: another agent's greedy action for an observation (e.g. the SB3 reference trained on
        the same environment), run instead of loading ``params.model``; ``lot``: its training lot."""
        super().__init__(params)
        if policy is None:
            # weights-only load: a model file can never run code
            agent = DQNAgent.load(self.params.model)
            policy, lot = agent.act, int(agent.metadata.get("lot", 100))
        self.act = policy
        self.lot = self.params.lot or lot or 100

    def on_start(self, ctx: StrategyContext) -> None:
        for k, name in enumerate(MARKET_FEATURES):
            ctx.add_feature(FEATURE_PREFIX + name, partial(_feature_column, k=k))

    def observation(self, view: MarketView, portfolio: PortfolioView, j: int) -> np.ndarray:
        """The environment's observation for symbol column ``j`` at the view's current time."""
        market_row = np.array([view.feature(FEATURE_PREFIX + n)[j] for n in MARKET_FEATURES])
        price = float(view.current("close")[j])
        position_value = portfolio.quantity(view.symbols[j]) * price
        return observation(market_row, position_value, float(portfolio.cash), portfolio.equity())

    def on_slice(self, view: MarketView, portfolio: PortfolioView) -> Sequence[OrderRequest]:
        if self.params.trade_from is not None and view.timestamp < np.datetime64(self.params.trade_from, "D"):
            return ()
        close = view.current("close")
        cash = float(portfolio.cash)
        orders: list[OrderRequest] = []
        for j, symbol in enumerate(view.symbols):
            price = float(close[j])
            if not np.isfinite(price) or price <= 0:
                continue
            action = self.act(self.observation(view, portfolio, j))
            lots = ACTION_LOTS[action]
            if lots > 0:
                # the agent's lots, as many as the rule book accepts and the cash pays for
                qty = round_buy(view.rules, symbol, view.day, lots * self.lot)
                while qty > 0 and qty * price * (1 + _FEE_RESERVE) + 5 > cash:
                    qty = round_buy(view.rules, symbol, view.day, qty - self.lot)
                if qty > 0:
                    cash -= qty * price * (1 + _FEE_RESERVE)
                    orders.append(OrderRequest(symbol, Side.BUY, qty, tag=f"rl_dqn {ACTIONS[action]}"))
            elif lots < 0:
                # size on the holding, not on today's sellable: with next-open fills, shares bought
                # today are sellable when the order executes; T+1 is enforced at execution (risk)
                holding = portfolio.quantity(symbol)
                qty = sell_quantity(view.rules, symbol, view.day, min(-lots * self.lot, holding), holding)
                if qty > 0:
                    orders.append(OrderRequest(symbol, Side.SELL, qty, tag=f"rl_dqn {ACTIONS[action]}"))
        return screen(view, portfolio, orders, self)
