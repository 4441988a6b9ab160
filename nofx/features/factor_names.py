"""The names of the stock-selection factors and the check of a weight table, without numpy or pandas:
strategy parameters validate against them when ``nofx strategies`` lists parameters, which must not
pay for importing the factor computations (:mod:`nofx.features.factors`)."""

from __future__ import annotations

from typing import Mapping

from nofx.domain.errors import ConfigError

TECHNICAL_FACTORS = ("momentum_20", "low_volatility_20")
VALUE_FACTORS = ("earnings_yield", "book_yield")
FUNDAMENTAL_FACTORS = ("ni_growth", "equity_growth", "roe", "net_margin", "gross_margin")
FACTOR_NAMES = VALUE_FACTORS + FUNDAMENTAL_FACTORS + TECHNICAL_FACTORS
DEFAULT_WEIGHTS: dict[str, float] = {name: 1.0 for name in FACTOR_NAMES}


def check_weights(weights: Mapping[str, float]) -> dict[str, float]:
    """``weights`` as a dict; raises :class:`ConfigError` on an unknown factor or all-zero weights."""
    unknown = sorted(set(weights) - set(FACTOR_NAMES))
    if unknown:
        raise ConfigError(f"unknown factor {unknown[0]!r}; known: {', '.join(FACTOR_NAMES)}", factor=unknown[0])
    if not any(w != 0 for w in weights.values()):
        raise ConfigError("all factor weights are zero")
    return dict(weights)
