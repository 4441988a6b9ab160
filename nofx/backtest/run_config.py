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

import tomllib
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from nofx.backtest.config import BacktestConfig
from nofx.domain.errors import ConfigError
from nofx.engine.risk import RiskConfig


class DataSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str | None = None
    symbols: list[str] | str = "all"

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


class OutputSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    json_path: str | None = Field(default=None, alias="json")
    report: str | None = None


class RunConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: DataSection = Field(default_factory=DataSection)
    backtest: BacktestConfig = Field(default_factory=BacktestConfig)
    strategy: StrategySection | None = None
    risk: RiskConfig = Field(default_factory=RiskConfig)
    output: OutputSection = Field(default_factory=OutputSection)


def load_run_config(path: str | Path) -> RunConfig:
    """Load and validate; errors name the file and the offending key."""
    p = Path(path)
    if not p.exists():
        raise ConfigError("config file not found", file=str(p))
    text = p.read_text(encoding="utf-8")
    try:
        raw = tomllib.loads(text) if p.suffix.lower() == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot parse config: {exc}", file=str(p)) from None
    if not isinstance(raw, dict):
        raise ConfigError("config must be a table/mapping at the top level", file=str(p))
    try:
        cfg = RunConfig.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"])
        raise ConfigError(f"invalid config value at {where!r}: {err['msg']}", file=str(p)) from None
    if cfg.data.path and not Path(cfg.data.path).is_absolute():
        cfg.data.path = str((p.parent / cfg.data.path).resolve()) if (p.parent / cfg.data.path).exists() \
            else cfg.data.path
    return cfg
