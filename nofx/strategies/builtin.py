"""Importing this module registers every built-in strategy by name."""

from nofx.strategies import buy_and_hold, dual_ma, multi_factor, pairs  # noqa: F401
from nofx.strategies.registry import REGISTRY

# strategies built on torch models register on first use
REGISTRY.register_lazy("rl_dqn", "nofx.strategies.rl_dqn")
REGISTRY.register_lazy("ml_topk", "nofx.strategies.ml_topk")
