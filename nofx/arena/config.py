"""A competition described in one TOML/YAML file (``examples/competition.toml``)::

    [competition]
    id = "demo"                 # 1-16 characters; trader ids are derived: <id>.<name>.<run>
    runs = 3                    # each AI trader repeated with seeds seed, seed+1, ...
    mock = true                 # start a local mock model server for traders on mock-* models
    step_timeout_s = 60         # per trader and step: an answer later than this is a missed cycle
    [ai_defaults]               # merged under every [[ai]] table (any [trader] key of an AI trader)
    decision_every = 5
    [[ai]]
    name = "momentum"
    model = "mock-momentum"
    temperature = 0.7
    temperatures = [0.3, 0.7]   # optional: run k uses temperatures[k % len]
    [[baselines]]
    name = "dual_ma"
    strategy = "dual_ma"
    params = { fast = 5, slow = 20 }
    [data] / [backtest] / [risk] / [output]   as for ``nofx backtest`` (shared by every trader)
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from nofx.ai.config import TraderSection
from nofx.backtest.config import BacktestConfig
from nofx.backtest.run_config import DataSection, OutputSection, StrategySection, resolve_data_path
from nofx.data.config_file import read_config_mapping
from nofx.domain.errors import ConfigError, validation_problem
from nofx.engine.risk import RiskConfig

NAME = r"^[A-Za-z0-9_\-]+$"
MAX_RUNS = 50


class CompetitionSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # short: trader ids (<id>.<name>.<run>) and the client order ids built on them fit 64 characters
    id: str = Field(min_length=1, max_length=16, pattern=NAME)
    name: str = ""
    runs: int = Field(default=1, ge=1, le=MAX_RUNS)
    mock: bool = False
    step_timeout_s: float = Field(default=120.0, gt=0, le=3600)
    bootstrap: int = Field(default=2000, ge=100, le=100_000)  # resamples for intervals and paired tests
    block: int = Field(default=5, ge=1, le=250)  # bootstrap block length in days (keeps autocorrelation)
    alpha: float = Field(default=0.05, gt=0, lt=0.5)  # family-wise error rate of the pairwise tests (Holm)
    stats_seed: int = 20261201  # the bootstrap's fixed seed


class AIEntry(TraderSection):
    """An AI trader: every ``[trader]`` key of ``nofx ai backtest`` except ``id`` (derived), plus a name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=20, pattern=NAME)
    temperatures: tuple[float, ...] = ()  # per run (k % len); empty: ``temperature`` for every run


class BaselineEntry(StrategySection):
    """A classic strategy from the registry (``nofx strategies``) with its parameters."""

    name: str = Field(min_length=1, max_length=20, pattern=NAME)  # type: ignore[assignment]
    strategy: str

    @model_validator(mode="after")
    def _known(self) -> "BaselineEntry":
        # checked now, not when the replay starts: the registry validates parameters without importing
        import nofx.strategies.builtin  # noqa: F401  (declares the strategies)
        from nofx.strategies.registry import REGISTRY

        if self.strategy == "ai_trader":
            raise ValueError("an AI trader is an [[ai]] table, not a baseline")
        REGISTRY.params_model(self.strategy).model_validate(self.params)
        return self


class CompetitionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    competition: CompetitionSection
    ai: list[AIEntry] = Field(default_factory=list)
    baselines: list[BaselineEntry] = Field(default_factory=list)
    data: DataSection = Field(default_factory=DataSection)
    backtest: BacktestConfig = Field(default_factory=lambda: BacktestConfig(warmup_bars=30))
    risk: RiskConfig = Field(default_factory=RiskConfig)
    output: OutputSection = Field(default_factory=OutputSection)

    @model_validator(mode="after")
    def _names(self) -> "CompetitionConfig":
        names = [a.name for a in self.ai] + [b.name for b in self.baselines]
        if not names:
            raise ValueError("a competition needs at least one [[ai]] or [[baselines]] trader")
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"trader name {dup[0]!r} is used twice (names must be unique)")
        return self

    def entrants(self) -> list["Entrant"]:
        """Every trader of the competition: each AI trader ``runs`` times, each baseline once (a
        deterministic strategy repeated would only repeat itself)."""
        cid = self.competition.id
        out: list[Entrant] = []
        for a in self.ai:
            for k in range(self.competition.runs):
                temp = a.temperatures[k % len(a.temperatures)] if a.temperatures else a.temperature
                seed = (a.seed or 0) + k
                tid = trader_id(cid, a.name, k)
                section = a.model_copy(update={"id": tid, "temperature": temp, "seed": seed})
                out.append(Entrant(tid, a.name, "ai", k, a.model, seed, temp, section, None))
        for b in self.baselines:
            out.append(Entrant(trader_id(cid, b.name, 0), b.name, "baseline", 0, None, None, None, None, b))
        return out


def trader_id(competition_id: str, name: str, run: int) -> str:
    return f"{competition_id}.{name}.{run}"


@dataclass(frozen=True)
class Entrant:
    trader_id: str
    name: str
    kind: Literal["ai", "baseline"]
    run: int
    model: str | None
    seed: int | None
    temperature: float | None
    ai: TraderSection | None
    baseline: BaselineEntry | None

    @property
    def label(self) -> str:
        return self.name if self.kind == "baseline" else f"{self.name}#{self.run}"


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def competition_from_mapping(raw: dict[str, Any], where: str = "config") -> CompetitionConfig:
    """Validate a mapping (``[ai_defaults]`` merged under each ``[[ai]]``); errors name the key."""
    raw = dict(raw)
    defaults = raw.pop("ai_defaults", None) or {}
    if not isinstance(defaults, dict):
        raise ConfigError("[ai_defaults] must be a table", file=where)
    ais = raw.get("ai") or []
    if not isinstance(ais, list):
        raise ConfigError("[[ai]] must be an array of tables", file=where)
    for k, a in enumerate(ais):
        if isinstance(a, dict) and "id" in a:
            raise ConfigError(f"ai[{k}].id: trader ids are derived (<competition>.<name>.<run>); give a name",
                              file=where)
    raw["ai"] = [_deep_merge(defaults, a) if isinstance(a, dict) else a for a in ais]
    if "backtest" not in raw:
        raw["backtest"] = {"warmup_bars": 30}
    try:
        return CompetitionConfig.model_validate(raw)
    except ValidationError as exc:
        at, what = validation_problem(exc)
        raise ConfigError(f"invalid config value at {at}: {what}", file=where) from None


def load_competition_config(path: str | Path) -> CompetitionConfig:
    p = Path(path)
    cfg = competition_from_mapping(read_config_mapping(p), str(p))
    resolve_data_path(cfg.data, p)
    base = p.parent
    fixed = []
    for a in cfg.ai:  # prompt files and news are relative to the config file when they exist there
        upd: dict[str, Any] = {}
        for key in ("prompt_template", "news"):
            v = getattr(a, key)
            if v and not Path(v).is_absolute() and (base / v).exists():
                upd[key] = str((base / v).resolve())
        roles = tuple(r.model_copy(update={"template": str((base / r.template).resolve())})
                      if r.template and not Path(r.template).is_absolute() and (base / r.template).exists() else r
                      for r in a.roles)
        if roles:
            upd["roles"] = roles
        fixed.append(a.model_copy(update=upd) if upd else a)
    cfg.ai = fixed
    return cfg
