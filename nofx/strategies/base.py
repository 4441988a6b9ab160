"""The strategy interface shared by backtest, paper and live trading.

A strategy sees only a :class:`MarketView` (data up to and including the current time slice) and a
read-only :class:`PortfolioView`; it returns :class:`~nofx.domain.orders.OrderRequest` objects. It never
knows whether it runs in a backtest or against a live venue.

Indicators are computed once, vectorised, by the framework's causal functions when the strategy
starts (``ctx.add_feature``); the view then only exposes rows up to "now". This keeps per-bar work
tiny without letting a strategy see the future.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Callable, ClassVar, Mapping, Protocol, Sequence

import numpy as np

from nofx.data.panel import BarPanel
from nofx.domain.errors import ConfigError, DataError
from nofx.domain.fills import Fill
from nofx.domain.orders import OrderRequest
from nofx.strategies.params import StrategyParams
from nofx.strategies.refusals import RefusalLog


@dataclass(frozen=True, slots=True)
class PositionView:
    symbol: str
    quantity: int
    sellable: int
    avg_cost: Decimal


class PortfolioView(Protocol):
    """Read-only portfolio state as the ledger sees it now."""

    @property
    def cash(self) -> Decimal: ...

    def equity(self) -> float:
        """Cash plus positions marked at the latest known close (float: for sizing only)."""
        ...

    def quantity(self, symbol: str) -> int: ...

    def sellable(self, symbol: str) -> int: ...

    def positions(self) -> Mapping[str, PositionView]: ...


class MarketView:
    """Data up to and including time index ``index``. The clock moves ``index``; nothing else may.

    The run also hands the view its market rule book (``rules``: lot sizes, limits... of each instrument
    on each date) and the log of refusals of this strategy's orders (``refusals``), so a strategy sizes by
    the rules the engine enforces and never resends an order refused for good (see
    :mod:`nofx.strategies.sizing`); both are ``None`` outside a run.
    """

    __slots__ = ("_panel", "_features", "_active", "index", "rules", "refusals", "_day_index", "_day")

    def __init__(self, panel: BarPanel, features: Mapping[str, np.ndarray],
                 active: Mapping[str, np.ndarray] | None = None, *, rules: Any = None,
                 refusals: RefusalLog | None = None) -> None:
        self._panel = panel
        self._features = features
        self._active = active or {}
        self.index = -1
        self.rules = rules  # nofx.markets.base.MarketRules (the run's RuleBook) or None
        self.refusals = refusals
        self._day_index = -2  # the slice whose trading day ``_day`` is (asked per order: kept per slice)
        self._day: date | None = None

    @property
    def day(self) -> date:
        """The trading day of now (the date rules are looked up with)."""
        if self._day_index != self.index:
            self._day = self._panel.timestamps[self.index].astype("datetime64[D]").item()
            self._day_index = self.index
        return self._day  # type: ignore[return-value]

    @property
    def symbols(self) -> tuple[str, ...]:
        return self._panel.symbols

    @property
    def timestamp(self) -> np.datetime64:
        return self._panel.timestamps[self.index]

    def current(self, field: str) -> np.ndarray:
        """Row of ``field`` at now, one value per symbol (NaN where the symbol has no bar)."""
        return self._panel[field][self.index]

    def history(self, field: str, n: int) -> np.ndarray:
        """Last ``n`` rows of ``field`` (fewer at the start), oldest first; shape (n, N)."""
        i = self.index
        return self._panel[field][max(0, i - n + 1): i + 1]

    def feature(self, name: str, lag: int = 0) -> np.ndarray:
        """Row of a registered feature at now - ``lag`` (NaN before the first row)."""
        if lag < 0:
            raise DataError("feature lag must be >= 0: the future is not visible", feature=name, lag=lag)
        i = self.index - lag
        arr = self._features[name]
        if i < 0:
            return np.full(arr.shape[1], np.nan)
        return arr[i]

    def feature_active(self, name: str) -> bool:
        """Whether the feature has any non-zero, non-NaN value at now: a cheap test that lets
        event-like features (signals) skip quiet slices without touching the row."""
        act = self._active.get(name)
        if act is None:
            row = self.feature(name)
            return bool(np.any(np.nan_to_num(row) != 0))
        return bool(act[self.index])

    def feature_history(self, name: str, n: int) -> np.ndarray:
        i = self.index
        return self._features[name][max(0, i - n + 1): i + 1]


class StrategyContext:
    """Given to ``Strategy.on_start``: the universe and a place to register causal features."""

    def __init__(self, panel: BarPanel, rules: Any = None) -> None:
        self._panel = panel
        # the run's market rule book (nofx.markets.rulebook.RuleBook), so a strategy asks the same rules
        # the engine enforces (e.g. which symbols may be sold short); None outside a run
        self.rules = rules
        self.features: dict[str, np.ndarray] = {}
        self.active: dict[str, np.ndarray] = {}  # per row: any non-zero value (see MarketView.feature_active)

    @property
    def symbols(self) -> tuple[str, ...]:
        return self._panel.symbols

    @property
    def timestamps(self) -> np.ndarray:
        return self._panel.timestamps

    def add_feature(self, name: str, fn: Callable[[BarPanel], np.ndarray]) -> None:
        """Register ``fn(panel) -> (T, N)`` array. ``fn`` must be causal: row t may use rows <= t only
        (the rolling functions of ``nofx.features.indicators`` are; tests check it with
        ``nofx.features.causality.assert_causal``)."""
        arr = np.asarray(fn(self._panel), dtype="float64")
        if arr.shape != self._panel.shape:
            raise DataError("feature has the wrong shape", feature=name, shape=arr.shape, expected=self._panel.shape)
        self.features[name] = arr
        self.active[name] = np.any(np.nan_to_num(arr) != 0, axis=1)


class Strategy(ABC):
    """Subclass, set ``name`` and ``Params``, register with ``@register_strategy``."""

    name: ClassVar[str] = ""
    Params: ClassVar[type[StrategyParams]] = StrategyParams
    # Name of a feature registered in on_start. If set, the clock calls on_slice only at slices where
    # that feature is active (non-zero): an event-driven strategy need not be woken on quiet bars.
    wake_on: ClassVar[str | None] = None

    def __init__(self, params: StrategyParams | None = None) -> None:
        self.params = params if params is not None else self.Params()

    def on_start(self, ctx: StrategyContext) -> None:
        """Register features; called once before the first slice."""

    @abstractmethod
    def on_slice(self, view: MarketView, portfolio: PortfolioView) -> Sequence[OrderRequest]:
        """Decide at one time slice. Return orders (empty sequence for none)."""

    def on_fill(self, fill: Fill) -> None:
        """Called for each of this strategy's fills."""

    def on_rejection(self, request: OrderRequest, code: str, reason: str) -> None:
        """Called when risk or the venue refuses one of this strategy's orders."""

    def log(self, message: str) -> None:
        """Strategies say what they decided and why (the runner collects it)."""
        self.messages.append(message)

    def warn(self, message: str) -> None:
        """Something the user should know before trusting the result (printed by the CLI)."""
        self.warnings.append(message)
        self.log(f"warning: {message}")

    @property
    def warnings(self) -> list[str]:
        out = self.__dict__.get("_warnings")
        if out is None:
            out = self.__dict__["_warnings"] = []
        return out

    @property
    def messages(self) -> list[str]:
        msgs = self.__dict__.get("_messages")
        if msgs is None:
            msgs = self.__dict__["_messages"] = []
        return msgs


def parse_params_text(text: str | None) -> dict[str, Any]:
    """Parse ``fast=5,slow=20,size=100`` into a dict of strings (pydantic converts the types)."""
    out: dict[str, Any] = {}
    if not text:
        return out
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        k, sep, v = (x.strip() for x in part.partition("="))
        if not sep or not k:
            raise ConfigError("--params: each parameter must look like key=value", param=part)
        if k in out:  # the later one would silently win
            raise ConfigError("--params: parameter given twice", param=k)
        out[k] = v
    return out
