"""The FastAPI application: ``create_app(settings)``; ``app_from_env()`` for uvicorn worker processes.

The lifespan builds one :class:`Services` per process: database engine (migrated to head), ledger
store, shared state (memory or Redis), JWT signer, market data, event hub, trader supervisor and the
backtest process pool. At start it resumes every trader whose desired state is "running" from its
ledger and re-queues backtests a restart interrupted; at shutdown it stops every trader cleanly.
"""

from __future__ import annotations

import json
import logging
import os
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from nofx import __version__
from nofx.api import dashboard
from nofx.api.errors import STANDARD_ERRORS, install_handlers
from nofx.api.hub import EventHub
from nofx.api.market import MarketData
from nofx.api.middleware import GuardMiddleware
from nofx.api.remote import RemoteSupervisor, SupervisorServer, socket_path, take_supervisor_lock
from nofx.api.repo import Repo
from nofx.api.routes import auth, backtests, board, catalog, health, market, trading, traders, users, ws
from nofx.api.services import Services
from nofx.api.settings import ApiSettings
from nofx.observability.asgi import mount_observability
from nofx.observability.logs import configure_logging

log = logging.getLogger("nofx.api")
API_PREFIX = "/api/v1"


def build_services(settings: ApiSettings, workers: int = 1) -> Services:
    from nofx.api.backtests import BacktestRunner
    from nofx.api.runtime import TraderSupervisor
    from nofx.api.security import TokenSigner, load_signing_key
    from nofx.api.shared_state import open_state
    from nofx.persistence.connection import make_engine
    from nofx.persistence.store import SqlLedgerStore

    from nofx.persistence.urls import resolve_url

    # The API's engine is made before the store opens any connection: make_engine reads a SQLite file's
    # header, and closing that file descriptor drops every POSIX lock this process holds on the database
    # (SQLite's documented hazard), which once let another process delete the live WAL index.
    engine = make_engine(resolve_url(settings.db_url))
    store = SqlLedgerStore(settings.db_url)  # migrates the schema (ledger and API tables) to head
    state = open_state(settings.redis_url, workers)
    signer = TokenSigner(load_signing_key(settings.jwt_secret, settings.state_dir), settings.access_ttl_s)
    market_data = MarketData(settings.data_path, state, settings.market_ttl_s)
    market_data.symbols()  # read the bars file now, not inside the first request
    import nofx.strategies.builtin  # noqa: F401  (the strategy registry, also before the first request)
    hub = EventHub()
    # one process runs the traders (one writer per ledger); the others reach it over a Unix socket
    lock = take_supervisor_lock(settings.state_dir)
    traders = TraderSupervisor(store, settings.data_path, hub, Path(settings.state_dir)) if lock is not None else \
        RemoteSupervisor(socket_path(settings.state_dir))
    from nofx.api.ownership import Owners

    repo = Repo(engine)
    return Services(settings=settings, engine=engine, repo=repo, store=store, state=state, signer=signer,
                    market=market_data, hub=hub, traders=traders, supervisor_lock=lock,
                    backtests=BacktestRunner(store.url, settings.data_path, Path(settings.state_dir) / "reports",
                                             settings.backtest_workers),
                    owners=Owners(repo, traders))


def _resume(svc: Services) -> None:
    for row in svc.repo.traders(desired="running"):
        log.info("resuming trader %s from its ledger", row.trader_id)
        svc.traders.start(row.trader_id, row.owner_id, json.loads(row.config_json))
    for bt in svc.repo.unfinished_backtests():
        svc.repo.set_backtest(bt.backtest_id, status="queued", progress=0.0)
        svc.backtests.submit(bt.backtest_id, json.loads(bt.config_json))


def create_app(settings: ApiSettings | None = None, workers: int = 1, resume: bool = True) -> FastAPI:
    settings = settings or ApiSettings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = build_services(settings, workers)
        app.state.svc = svc
        server = relay = None
        if settings.redis_url:  # several workers: trader events reach WebSockets on every worker
            from nofx.api.relay import RedisRelay

            relay = RedisRelay(settings.redis_url, svc.hub)
            if svc.supervisor_lock is not None:
                svc.hub.relay = relay.send
            else:
                relay.listen()
        if svc.supervisor_lock is not None:
            from nofx.api.orderflow import ledger_durability

            log.info("ledger: %s (orders are answered after their group commit)", ledger_durability(svc.store))
            server = SupervisorServer(svc.traders, socket_path(settings.state_dir))
            await server.start()
            if resume:
                _resume(svc)
        try:
            yield
        finally:
            if server is not None:
                await server.close()
            if relay is not None:
                relay.close()
            svc.traders.shutdown()
            svc.backtests.shutdown()
            svc.store.close()
            svc.engine.dispose()
            svc.state.close()
            if svc.supervisor_lock is not None:
                os.close(svc.supervisor_lock)  # releases the lock: another process may supervise now

    app = FastAPI(title="nofx API", version=__version__, lifespan=lifespan, responses=STANDARD_ERRORS,
                  description="Traders, orders, positions, market data and backtests of nofx. Money values are "
                              "decimal strings. Errors: {\"error\": {\"code\", \"message\", \"details\"}}.")
    install_handlers(app)
    # the busiest routers first: a request is matched against the routes in this order
    for r in (trading.router, market.router, auth.router, traders.router, users.router, backtests.router,
              board.router, catalog.router, ws.router):
        app.include_router(r, prefix=API_PREFIX)
    app.include_router(health.router)
    dashboard.install(app)  # the web dashboard at /
    if settings.cors_origins:  # closed by default: no Access-Control-Allow-* headers at all
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_credentials=False,
                           allow_methods=["GET", "POST", "PATCH", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", "X-API-Key"])
    app.add_middleware(GuardMiddleware, settings=settings, state=lambda: app.state.svc.state)
    mount_observability(app)  # /metrics, request ids, latency (outermost middleware); nofx.observability
    return app


def app_from_env() -> FastAPI:
    """uvicorn factory for worker processes: settings from ``NOFX_*`` variables (set by ``nofx serve``)."""
    if not logging.getLogger().handlers:  # a spawned worker process: same log setup as the parent
        configure_logging(os.environ.get("NOFX_LOG_LEVEL", "INFO"))  # format from $NOFX_LOG_FORMAT
    return create_app(ApiSettings.from_env(), workers=int(os.environ.get("NOFX_WORKERS", "1")))
