"""An RL experiment as one validated file: data, instrument, date-split periods, env and DQN settings.

Example: ``examples/rl_dqn.toml``. Periods are inclusive date ranges that must be in order and must
not overlap (train < validation < test), so the test period stays out of sample.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from nofx.data.config_file import read_config_mapping
from nofx.domain.bounds import BoundedDate
from nofx.domain.errors import ConfigError, validation_problem
from nofx.models.rl.dqn import DQNConfig
from nofx.models.rl.env import EnvConfig


class Period(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    start: BoundedDate
    end: BoundedDate

    @model_validator(mode="after")
    def _ordered(self) -> "Period":
        if self.end < self.start:
            raise ValueError(f"period ends ({self.end}) before it starts ({self.start})")
        return self


class Periods(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    train: Period
    validation: Period
    test: Period

    @model_validator(mode="after")
    def _disjoint(self) -> "Periods":
        if not self.train.end < self.validation.start <= self.validation.end < self.test.start:
            raise ValueError("periods must be in order and disjoint: train < validation < test")
        return self


class RLConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    data: Path
    symbol: str
    rules: Literal["auto", "cn", "hk", "none"] = "auto"
    # raw / adjusted bars (auto: what the file declares); dividends and splits are booked on raw only
    prices: Literal["auto", "raw", "adjusted"] = "auto"
    seed: int = 0
    model: Path = Path("runs/rl_dqn.pt")
    periods: Periods
    env: EnvConfig = Field(default_factory=EnvConfig)
    dqn: DQNConfig = Field(default_factory=DQNConfig)


def load_rl_config(path: str | Path, **overrides: object) -> RLConfig:
    """Read a TOML experiment file; ``overrides`` (not None) replace top-level keys. A relative
    ``data`` path is taken relative to the file's folder when it exists there."""
    path = Path(path)
    raw = read_config_mapping(path, yaml_allowed=False)
    raw.update({k: v for k, v in overrides.items() if v is not None})
    data = Path(str(raw.get("data", "")))
    if raw.get("data") and not data.is_absolute() and not data.exists() and (path.parent / data).exists():
        raw["data"] = str(path.parent / data)
    try:
        return RLConfig(**raw)
    except ValidationError as exc:
        where, what = validation_problem(exc)
        raise ConfigError(f"invalid RL config value at {where}: {what}", file=str(path)) from None
