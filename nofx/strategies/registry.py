"""Strategies registered by name, so the CLI, configs and the API can create them from text.

A strategy is known to the registry in one of two ways: declared (name, module, parameter model),
so that listing strategies and validating their parameters never imports the implementation and
what it needs (numpy, pandas, statsmodels, torch); or registered as a class when its module is
imported (``@register_strategy``). Declared strategies are imported on first use.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from pydantic import ValidationError

from nofx.domain.errors import ConfigError, UnknownStrategyError, validation_problem

if TYPE_CHECKING:  # the Strategy base needs numpy and the data layer: not needed to list strategies
    from nofx.strategies.base import Strategy
    from nofx.strategies.params import StrategyParams

S = TypeVar("S", bound="type[Strategy]")


@dataclass(frozen=True, slots=True)
class StrategySpec:
    """What is known about a strategy without importing it: its module and parameter model."""

    name: str
    module: str
    params: "type[StrategyParams]"

    @property
    def summary(self) -> str:
        """First line of the parameter model's docstring (what the strategy does)."""
        return _first_line(self.params.__doc__)


class StrategyRegistry:
    def __init__(self) -> None:
        self._by_name: dict[str, type[Strategy]] = {}
        self._declared: dict[str, StrategySpec] = {}

    def declare(self, name: str, module: str, params: "type[StrategyParams]") -> None:
        """Name a strategy whose module is imported only when the strategy is asked for."""
        self._declared[name] = StrategySpec(name, module, params)

    def register(self, cls: S) -> S:
        if not cls.name:
            raise ConfigError("strategy class has no name", cls=cls.__name__)
        self._by_name[cls.name] = cls
        return cls

    def names(self) -> list[str]:
        return sorted(set(self._by_name) | set(self._declared))

    def params_model(self, name: str) -> "type[StrategyParams]":
        """The parameter model of ``name``, without importing a declared strategy's module."""
        if name in self._declared:
            return self._declared[name].params
        return self.get(name).Params

    def summary(self, name: str) -> str:
        if name in self._declared:
            return self._declared[name].summary
        return _first_line(self.get(name).__doc__)

    def get(self, name: str) -> type[Strategy]:
        if name not in self._by_name and name in self._declared:
            importlib.import_module(self._declared[name].module)
        try:
            return self._by_name[name]
        except KeyError:
            raise UnknownStrategyError(
                f"unknown strategy {name!r}; available: {', '.join(self.names())}", strategy=name
            ) from None

    def validate_params(self, name: str, params: dict[str, Any] | None = None) -> "StrategyParams":
        """``params`` checked against the strategy's model (raises ConfigError naming the parameter)."""
        if name not in self._by_name and name not in self._declared:
            self.get(name)  # the unknown-strategy error
        try:
            return self.params_model(name)(**(params or {}))
        except ValidationError as exc:
            where, what = validation_problem(exc, "params")
            raise ConfigError(f"invalid strategy parameter {where}: {what}", strategy=name) from None

    def create(self, name: str, params: dict[str, Any] | None = None) -> Strategy:
        p = self.validate_params(name, params)
        return self.get(name)(p)


def _first_line(doc: str | None) -> str:
    lines = (doc or "").strip().splitlines()
    return lines[0].replace("``", "") if lines else ""


# The one registry of built-in strategies. It is filled at import of nofx.strategies.builtin and
# never mutated afterwards, so it is effectively constant (not shared mutable state).
REGISTRY = StrategyRegistry()
register_strategy: Callable[[S], S] = REGISTRY.register
