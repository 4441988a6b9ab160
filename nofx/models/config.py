"""The run configuration: one JSON file that fully describes a trained model (data, universe, dates,
features, label, model, training, seed), so that ``nofx model eval/predict`` need nothing else."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from nofx.domain.bounds import BoundedDate
from nofx.domain.errors import ConfigError, validation_problem
from nofx.models.dataset import FeatureConfig, LabelConfig

ModelKind = Literal["transformer", "lstm", "gat", "lightgbm", "linear"]
DEEP_KINDS: tuple[str, ...] = ("transformer", "lstm", "gat")
TABULAR_KINDS: tuple[str, ...] = ("lightgbm", "linear")
CONFIG_FILE = "config.json"


def default_seq_len(kind: str, feature_set: str) -> int:
    """Rows of features one sample holds. Deep models read a window (60 days); a tree or linear model
    reads one day's Alpha158 row (158 engineered features, as in Qlib's LightGBM benchmark) -- 60 days of
    them would be 9,480 columns, 60 times the memory (23.7 GB for 300 stocks over 3.5 years) for
    features that already summarise the past. Alpha360 is by definition a 60-day raw window."""
    if kind in TABULAR_KINDS and feature_set == "alpha158":
        return 1
    return 60


class Segment(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    start: BoundedDate
    end: BoundedDate

    @model_validator(mode="after")
    def _ordered(self) -> "Segment":
        if self.end < self.start:
            raise ValueError(f"segment end {self.end} is before start {self.start}")
        return self

    @classmethod
    def parse(cls, text: str, what: str = "segment") -> "Segment":
        """``2017-01-01:2019-12-31`` -> Segment."""
        try:
            a, b = text.split(":")
            return cls(start=date.fromisoformat(a.strip()), end=date.fromisoformat(b.strip()))
        except ValidationError as exc:
            where, problem = validation_problem(exc)
            raise ConfigError(f"{what}: {problem}", value=text) from None
        except ValueError as exc:
            raise ConfigError(f"{what} must look like YYYY-MM-DD:YYYY-MM-DD ({exc})", value=text) from None

    def __str__(self) -> str:
        return f"{self.start}:{self.end}"


class ModelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    kind: ModelKind
    hidden: int = Field(default=32, ge=4)
    layers: int = Field(default=1, ge=1)
    heads: int = Field(default=4, ge=1)  # attention heads (Transformer) / GAT heads
    dropout: float = Field(default=0.1, ge=0, lt=1)
    # GAT graph
    graph_window: int = 60
    graph_top_k: int = 10
    graph_threshold: float | None = None
    graph_rebuild_every: int = 20
    # LightGBM (Qlib's benchmark settings, scaled down)
    num_leaves: int = 64
    learning_rate: float = 0.05
    num_rounds: int = 400
    # linear: ridge penalties tried, the best on validation rank IC is kept
    ridge_alphas: tuple[float, ...] = (1.0, 10.0, 100.0, 1000.0)


class TrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    epochs: int = Field(default=8, ge=1)
    patience: int = Field(default=3, ge=1)  # epochs without a better validation rank IC before stopping
    lr: float = 1e-3
    weight_decay: float = 1e-4
    grad_clip: float = 3.0
    day_stride: int = Field(default=1, ge=1)  # train on every k-th day of each epoch (k offsets rotate)
    valid_stride: int = Field(default=1, ge=1)  # early-stop on every k-th validation day (CPU budget)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    # one thread: on a shared CPU, OpenMP threads that spin against other processes run ~10x slower
    threads: int = Field(default=1, ge=1)
    # weights of the Transformer's auxiliary heads (the score head has weight 1)
    w_returns: float = 0.5
    w_direction: float = 0.2
    w_volatility: float = 0.2
    w_risk: float = 0.2


class RunConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    data: str
    universe: tuple[str, ...]
    train: Segment
    valid: Segment
    features: FeatureConfig = FeatureConfig()
    label: LabelConfig = LabelConfig()
    model: ModelConfig
    training: TrainConfig = TrainConfig()
    seed: int = 0
    universe_rule: str = ""  # how the universe was chosen, for the reader

    @model_validator(mode="after")
    def _segments(self) -> "RunConfig":
        if self.valid.start <= self.train.end:
            raise ValueError("the validation segment must start after the training segment ends")
        return self

    def write(self, run_dir: Path) -> None:
        (run_dir / CONFIG_FILE).write_text(self.model_dump_json(indent=1))

    @classmethod
    def read(cls, run_dir: Path) -> "RunConfig":
        path = run_dir / CONFIG_FILE
        if not path.exists():
            raise ConfigError("not a model run directory (config.json missing)", path=str(run_dir))
        return cls.model_validate_json(path.read_text())
