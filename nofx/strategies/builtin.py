"""Importing this module registers every built-in strategy by name."""

from nofx.strategies import buy_and_hold, dual_ma, multi_factor, pairs  # noqa: F401
