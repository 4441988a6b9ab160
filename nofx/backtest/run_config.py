"""A whole backtest run described by one TOML or YAML file (data, backtest, strategy, risk, outputs):

    [data]
    path = "bars.parquet"           # relative paths are relative to the config file
    symbols = ["600519.SH"]         # or "all"
    [backtest]                      # BacktestConfig fields
    start = 2019-01-01
    [strategy]
    name = "dual_ma"
    [strategy.params]
    fast = 5
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from nofx.backtest.config import BacktestConfig
from nofx.data.config_file import read_config_mapping
from nofx.domain.errors import ConfigError, validation_problem
from nofx.engine.risk import RiskConfig

M = TypeVar("M", bound=BaseModel)


class DataSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str | None = None
    symbols: list[str] | str = "all"
    # rows `nofx data check` reports are refused unless dropped (listed on stderr)
    drop_bad_rows: bool = False
    # strftime format of non-ISO dates (e.g. "%d/%m/%Y"); day/month-ambiguous dates need it
    date_format: str | None = None

    @field_validator("symbols", mode="before")
    @classmethod
    def _split(cls, v: Any) -> Any:
        if isinstance(v, str) and v != "all":
            return [s.strip() for s in v.split(",") if s.strip()]
        return v


class StrategySection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("params")
    @classmethod
    def _finite(cls, v: dict[str, Any]) -> dict[str, Any]:
        # checked here, not only by the strategy's Params: a NaN would otherwise become null (the default)
        # when the config is stored as JSON for `paper --resume`
        def check(key: str, value: Any) -> None:
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"strategy parameter {key!r} must be a finite number, not {value}")
            for k, x in (value.items() if isinstance(value, dict) else
                         enumerate(value) if isinstance(value, list) else ()):
                check(f"{key}.{k}", x)

        for key, value in v.items():
            check(key, value)
        return v


class OutputSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    json_path: str | None = Field(default=None, alias="json")
    report: str | None = None


class LedgerSection(BaseModel):
    """How a paper/live run's ledger is kept. ``sqlite_synchronous``: FULL (default) fsyncs every commit,
    so acknowledged orders survive power loss; NORMAL survives a process crash only (faster). Unset:
    ``$NOFX_SQLITE_SYNC``, else FULL (see nofx.persistence.connection)."""

    model_config = ConfigDict(extra="forbid")

    sqlite_synchronous: Literal["FULL", "NORMAL"] | None = None

    @field_validator("sqlite_synchronous", mode="before")
    @classmethod
    def _upper(cls, v: Any) -> Any:
        return v.strip().upper() if isinstance(v, str) else v


class RunConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: DataSection = Field(default_factory=DataSection)
    backtest: BacktestConfig = Field(default_factory=BacktestConfig)
    strategy: StrategySection | None = None
    risk: RiskConfig = Field(default_factory=RiskConfig)
    output: OutputSection = Field(default_factory=OutputSection)
    ledger: LedgerSection = Field(default_factory=LedgerSection)


def load_config_model(path: str | Path, model: type[M]) -> M:
    """Read a TOML/YAML file and validate it as ``model``; errors name the file and the offending key."""
    p = Path(path)
    raw = read_config_mapping(p)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        where, what = validation_problem(exc)
        raise ConfigError(f"invalid config value at {where}: {what}", file=str(p)) from None


def resolve_data_path(cfg_data: DataSection, config_file: str | Path) -> None:
    """A relative ``[data] path`` is relative to the config file when such a file exists there."""
    p = Path(config_file)
    if cfg_data.path and not Path(cfg_data.path).is_absolute():
        cfg_data.path = str((p.parent / cfg_data.path).resolve()) if (p.parent / cfg_data.path).exists() \
            else cfg_data.path


def load_run_config(path: str | Path) -> RunConfig:
    """Load and validate; errors name the file and the offending key."""
    cfg = load_config_model(path, RunConfig)
    resolve_data_path(cfg.data, path)
    return cfg
