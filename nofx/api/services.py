"""Everything a request handler needs, built once per worker process by the app's lifespan and kept on
``app.state.svc`` (no module-level mutable state)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from nofx.api.hub import EventHub
from nofx.api.market import MarketData
from nofx.api.repo import Repo
from nofx.api.runtime import TraderSupervisor
from nofx.api.security import TokenSigner
from nofx.api.settings import ApiSettings
from nofx.api.shared_state import SharedState


@dataclass
class Services:
    settings: ApiSettings
    engine: Engine
    repo: Repo
    store: Any  # SqlLedgerStore
    state: SharedState
    signer: TokenSigner
    market: MarketData
    hub: EventHub
    traders: TraderSupervisor  # or a RemoteSupervisor in a worker that does not run the traders
    backtests: Any  # BacktestRunner
    owners: Any = None  # nofx.api.ownership.Owners
    supervisor_lock: int | None = None  # file descriptor of STATE_DIR/supervisor.lock, if this process holds it
