"""What a system runs, in one JSON document each of its processes reads (``--spec FILE``)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from nofx.backtest.run_config import RunConfig, StrategySection
from nofx.messaging.broker import BrokerConfig

_TRADER_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


class TraderSpec(BaseModel):
    """One trader: its own strategy process and its own account (ledger) in the engine."""

    model_config = ConfigDict(extra="forbid")

    id: str
    strategy: StrategySection
    json_path: str | None = None  # where the engine writes this trader's backtest-style JSON at the end
    # the strategy process recomputes its causal features on the whole history at each slice (exact,
    # O(n) per slice); a window of the last N rows bounds that cost, exact only for features whose
    # memory is shorter than N rows (dual_ma's crossover remembers across a long suspension)
    feature_window: int | None = Field(default=None, ge=2)

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _TRADER_ID.match(v):
            raise ValueError(f"trader id {v!r}: use 1-64 letters, digits, '-' or '_' (it names bus topics)")
        return v


class SystemSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    broker: BrokerConfig = Field(default_factory=BrokerConfig)
    run: RunConfig  # data, market rules, fills, risk (its strategy section is unused: see traders)
    traders: list[TraderSpec]
    ledger: str  # SQLAlchemy URL of the ledger (sqlite:///... or postgresql://...)
    feed: str = "replay"
    speed: float = 0.0  # 0: as fast as the slowest process acknowledges; N: N x the bars' own pace
    publish_bars: bool = True  # also publish each bar on md.bar.<symbol> (for other subscribers)
    status_file: str | None = None  # the supervisor writes every process's health here
    # the market-data service answers QuoteRequest here (request/reply, a ROUTER it binds)
    quote_endpoint: str | None = None
    # a tick replay: a file of trades (datetime, symbol, price, size) published on md.tick.<symbol> at
    # ``speed`` (0: at once), with bars synthesised from them on md.bar<freq>.<symbol> (e.g. md.bar15m.)
    tick_file: str | None = None
    bar_freqs: list[str] = ["1min", "5min", "15min", "30min", "60min", "1D"]
    resend_s: float = 0.5  # a request or slice not answered within this is sent again
    command_timeout_s: float = 2.0

    @field_validator("traders")
    @classmethod
    def _unique(cls, v: list[TraderSpec]) -> list[TraderSpec]:
        if not v:
            raise ValueError("a system needs at least one trader")
        ids = [t.id for t in v]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"trader id {sorted(dup)[0]!r} given twice")
        return v

    @field_validator("speed")
    @classmethod
    def _speed(cls, v: float) -> float:
        if not (0 <= v <= 1e6):
            raise ValueError("speed must be between 0 (as fast as possible) and 1e6")
        return v

    def trader(self, trader_id: str) -> TraderSpec:
        for t in self.traders:
            if t.id == trader_id:
                return t
        raise KeyError(trader_id)

    def write(self, path: Path) -> Path:
        path.write_text(self.model_dump_json(indent=1, by_alias=True))
        return path

    @classmethod
    def read(cls, path: str | Path) -> "SystemSpec":
        return cls.model_validate(json.loads(Path(path).read_text()))


def _relative_to(base: Path, value: str | None) -> str | None:
    if value is None or Path(value).is_absolute():
        return value
    return str((base / value).resolve())


def load_system_config(path: str | Path) -> SystemSpec:
    """A ``system.toml`` (or YAML): ``[broker]`` endpoints, ``[run]`` (a backtest run config's data,
    backtest and risk sections), ``[[traders]]`` (id, strategy), ``ledger``, ``speed``... Relative paths
    (data, tick file, status file, JSON outputs, a SQLite ledger) are relative to the config file.
    Errors name the file and the offending key (ConfigError)."""
    from nofx.backtest.run_config import load_config_model

    p = Path(path)
    spec = load_config_model(p, SystemSpec)
    base = p.resolve().parent
    run = spec.run
    if run.data.path:
        run = run.model_copy(update={"data": run.data.model_copy(update={"path": _relative_to(base, run.data.path)})})
    ledger = spec.ledger
    if ledger.startswith("sqlite:///") and not ledger.startswith("sqlite:////"):
        ledger = "sqlite:///" + str(_relative_to(base, ledger.removeprefix("sqlite:///")))
    traders = [t.model_copy(update={"json_path": _relative_to(base, t.json_path)}) for t in spec.traders]
    return spec.model_copy(update={
        "run": run, "ledger": ledger, "traders": traders,
        "status_file": _relative_to(base, spec.status_file or "system-status.json"),
        "tick_file": _relative_to(base, spec.tick_file)})
