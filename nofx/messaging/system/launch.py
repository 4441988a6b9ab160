"""Build a system's spec from a run config and run it under a supervisor until the replay ends."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Callable

from nofx.backtest.run_config import RunConfig, StrategySection
from nofx.domain.errors import ConfigError
from nofx.messaging.broker import BrokerConfig
from nofx.messaging.system.spec import SystemSpec, TraderSpec
from nofx.messaging.system.supervisor import Supervisor


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def broker_config(transport: str, workdir: Path) -> BrokerConfig:
    """Endpoints for one machine: ``ipc`` sockets in ``workdir`` or ``tcp`` on free loopback ports."""
    names = ("pub", "sub", "command", "engine")
    if transport == "ipc":
        eps = {f"{k}_endpoint": f"ipc://{workdir.resolve()}/{k}.sock" for k in names}
        if max(len(v) for v in eps.values()) > 100:  # the OS limit on a socket path is about 107 bytes
            raise ConfigError("the work folder's path is too long for ipc sockets: use --transport tcp",
                              workdir=str(workdir))
        return BrokerConfig(**eps)
    if transport == "tcp":
        return BrokerConfig(**{f"{k}_endpoint": f"tcp://127.0.0.1:{free_port()}" for k in names})
    raise ConfigError("--transport must be ipc or tcp", value=transport)


def single_trader_spec(cfg: RunConfig, workdir: Path, json_path: str | None, trader_id: str = "backtest",
                       speed: float = 0.0, transport: str = "ipc", ledger: str | None = None) -> SystemSpec:
    if cfg.strategy is None:
        raise ConfigError("no strategy given (use --strategy or a [strategy] section)")
    workdir.mkdir(parents=True, exist_ok=True)
    if cfg.data.path:  # every process reads it, whatever its working folder
        cfg = cfg.model_copy(update={"data": cfg.data.model_copy(update={"path": str(Path(cfg.data.path).resolve())})})
    return SystemSpec(broker=broker_config(transport, workdir), run=cfg,
                      traders=[TraderSpec(id=trader_id, strategy=StrategySection(name=cfg.strategy.name,
                                                                                 params=cfg.strategy.params),
                                          json_path=json_path)],
                      ledger=ledger or f"sqlite:///{(workdir / 'ledger.db').resolve()}", speed=speed,
                      status_file=str(workdir / "status.json"))


def run_system(spec: SystemSpec, workdir: Path, on_restart: Callable[[str, int], None] | None = None,
               during: Callable[[Supervisor], None] | None = None) -> dict[str, int | None]:
    """Start every process, supervise until the engine has finished the replay, shut down; returns the
    processes' exit codes at shutdown. ``during(supervisor)`` is called between checks (tests kill
    processes from it)."""
    spec_path = spec.write(workdir / "system.json")
    sup = Supervisor(spec, spec_path, workdir)
    try:
        sup.start_all()
        stop = None
        if during is not None:
            def stop() -> bool:  # type: ignore[misc]
                during(sup)
                return False
        sup.run(on_restart=on_restart, stop=stop)
    finally:
        codes = sup.shutdown()
    return codes
