"""The boundary between the engine and durable storage (implemented in ``nofx.persistence``).

The ledger is the source of truth: the engine appends every event *before* acknowledging it, and
rebuilds its in-memory state from the stored events at start (event sourcing, write-ahead).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol, Sequence

from nofx.domain.events import Event


@dataclass(frozen=True, slots=True)
class TraderRecord:
    trader_id: str
    initial_cash: Decimal
    market: str  # "cn" / "hk"
    config_json: str  # the run's full configuration (strategy, params, data, risk limits) as JSON
    created: datetime


@dataclass(frozen=True, slots=True)
class EquitySnapshot:
    trader_id: str
    ts: datetime
    equity: Decimal
    cash: Decimal
    cursor: int  # clock position (index of the last fully processed time slice)


class LedgerStore(Protocol):
    def create_trader(self, trader: TraderRecord) -> None: ...

    def get_trader(self, trader_id: str) -> TraderRecord | None: ...

    def append(self, trader_id: str, events: Sequence[Event]) -> None:
        """Durably store events (in order) and update the derived tables, in one transaction.
        Returns only after commit: callers acknowledge after this returns."""
        ...

    def snapshot(self, snap: EquitySnapshot) -> None:
        """Store an equity snapshot; the latest one's ``cursor`` is where a resume continues."""
        ...

    def events(self, trader_id: str) -> list[Event]:
        """All stored events of a trader, in append order (for rebuilding state)."""
        ...

    def last_snapshot(self, trader_id: str) -> EquitySnapshot | None: ...

    def close(self) -> None: ...
