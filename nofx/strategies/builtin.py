"""The built-in strategies, declared by name, module and parameter model (:mod:`nofx.strategies.params`).

Importing this module imports no strategy implementation: each is imported when first asked for, so
listing strategies or validating a config costs pydantic only (never numpy, statsmodels or torch).
"""

from nofx.strategies import params as _p
from nofx.strategies.registry import REGISTRY

_BUILTIN = {
    "buy_and_hold": ("nofx.strategies.buy_and_hold", _p.BuyAndHoldParams),
    "dual_ma": ("nofx.strategies.dual_ma", _p.DualMAParams),
    "ml_topk": ("nofx.strategies.ml_topk", _p.MLTopKParams),
    "multi_factor": ("nofx.strategies.multi_factor", _p.MultiFactorParams),
    "pairs": ("nofx.strategies.pairs", _p.PairsParams),
    "rl_dqn": ("nofx.strategies.rl_dqn", _p.RLDQNParams),
}
for _name, (_module, _params) in _BUILTIN.items():
    REGISTRY.declare(_name, _module, _params)
