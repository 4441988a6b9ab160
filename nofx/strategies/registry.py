"""Strategies registered by name, so the CLI, configs and the API can create them from text."""

from __future__ import annotations

from typing import Any, Callable, TypeVar

from pydantic import ValidationError

from nofx.domain.errors import ConfigError, UnknownStrategyError, validation_problem
from nofx.strategies.base import Strategy

S = TypeVar("S", bound=type[Strategy])


class StrategyRegistry:
    def __init__(self) -> None:
        self._by_name: dict[str, type[Strategy]] = {}
        self._lazy: dict[str, str] = {}  # name -> module that registers it when imported

    def register_lazy(self, name: str, module: str) -> None:
        """Name a strategy whose module is imported only when the strategy is asked for (modules that
        need torch would otherwise slow down every command)."""
        self._lazy[name] = module

    def register(self, cls: S) -> S:
        if not cls.name:
            raise ConfigError("strategy class has no name", cls=cls.__name__)
        self._by_name[cls.name] = cls
        return cls

    def names(self) -> list[str]:
        return sorted(set(self._by_name) | set(self._lazy))

    def get(self, name: str) -> type[Strategy]:
        if name not in self._by_name and name in self._lazy:
            import importlib

            importlib.import_module(self._lazy[name])
        try:
            return self._by_name[name]
        except KeyError:
            raise UnknownStrategyError(
                f"unknown strategy {name!r}; available: {', '.join(self.names())}", strategy=name
            ) from None

    def create(self, name: str, params: dict[str, Any] | None = None) -> Strategy:
        cls = self.get(name)
        try:
            p = cls.Params(**(params or {}))
        except ValidationError as exc:
            where, what = validation_problem(exc, "params")
            raise ConfigError(f"invalid strategy parameter {where}: {what}", strategy=name) from None
        return cls(p)


# The one registry of built-in strategies. It is filled at import of nofx.strategies.builtin and
# never mutated afterwards, so it is effectively constant (not shared mutable state).
REGISTRY = StrategyRegistry()
register_strategy: Callable[[S], S] = REGISTRY.register
