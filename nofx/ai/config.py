"""An AI trader described in one TOML/YAML file::

    [trader]
    id = "ai-momentum"
    base_url = "http://127.0.0.1:8765/v1"   # any OpenAI-compatible endpoint (DeepSeek, Qwen, vLLM, Ollama)
    model = "mock-momentum"
    api_key_env = "DEEPSEEK_API_KEY"        # the NAME of the variable; the key never sits in a file
    temperature = 0.0
    seed = 7
    decision_every = 5                      # bars (or decision_times = ["10:00", "14:30"] intraday)
    language = "en"                         # en | zh (shipped prompts); prompt_template = "my.md"
    context_tokens = 6000
    [trader.limits]                         # nofx.strategies.ai.config.AILimits
    max_positions = 5
    [trader.prices.deepseek-chat]           # cost per million tokens
    input_per_mtok = 2.0
    output_per_mtok = 8.0
    [data]   path / symbols (the universe)
    [backtest]  start, end, cash, rules, fees ...
    [risk]   the engine's pre-trade limits (nofx.engine.risk.RiskConfig)
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from nofx.backtest.config import BacktestConfig
from nofx.backtest.run_config import DataSection, OutputSection, load_config_model, resolve_data_path
from nofx.engine.risk import RiskConfig
from nofx.strategies.ai.config import AITraderParams


class Price(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    input_per_mtok: Decimal = Field(default=Decimal(0), ge=0)
    output_per_mtok: Decimal = Field(default=Decimal(0), ge=0)


class EndpointConfig(BaseModel):
    """Where and how a trader calls its model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str = "http://127.0.0.1:8765/v1"
    model: str = "mock-momentum"
    api_key_env: str | None = None
    temperature: float = Field(default=0.0, ge=0, le=2)
    seed: int | None = 0
    max_tokens: int = Field(default=1200, gt=0)  # reply budget per call
    timeout_s: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=3, ge=0, le=10)
    backoff_s: float = Field(default=0.5, ge=0)  # first retry wait (exponential, with jitter)
    backoff_max_s: float = Field(default=30.0, ge=0)
    concurrency: int = Field(default=4, gt=0)  # requests in flight per endpoint (shared by traders)
    breaker_failures: int = Field(default=5, gt=0)  # failed calls in a row that open the circuit
    breaker_cooldown_s: float = Field(default=30.0, ge=0)
    response_format: bool = True  # send the decision JSON schema as response_format
    stream: bool = False
    prices: dict[str, Price] = Field(default_factory=dict)
    cache: Literal["read_write", "read_only", "off"] = "read_write"
    cache_dir: str = ".nofx/ai_cache"

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        return v.rstrip("/")


class TraderSection(AITraderParams, EndpointConfig):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(default="ai-trader", min_length=1, max_length=48, pattern=r"^[A-Za-z0-9_.\-]+$")
    names: dict[str, str] = Field(default_factory=dict)  # symbol -> display name (quoted as data)
    news: str | None = None  # CSV/Parquet with symbol, datetime, text (quoted as data, point-in-time)

    def endpoint(self) -> EndpointConfig:
        return EndpointConfig.model_validate(self.model_dump(include=set(EndpointConfig.model_fields)))

    def policy(self) -> AITraderParams:
        return AITraderParams.model_validate(self.model_dump(include=set(AITraderParams.model_fields)))


class AIRunConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    trader: TraderSection = Field(default_factory=TraderSection)
    data: DataSection = Field(default_factory=DataSection)
    backtest: BacktestConfig = Field(default_factory=lambda: BacktestConfig(warmup_bars=30))
    risk: RiskConfig = Field(default_factory=RiskConfig)
    output: OutputSection = Field(default_factory=OutputSection)


def load_ai_config(path: str | Path) -> AIRunConfig:
    cfg = load_config_model(path, AIRunConfig)
    resolve_data_path(cfg.data, path)
    base = Path(path).parent
    t = cfg.trader
    updates = {}
    for key in ("prompt_template", "news"):
        v = getattr(t, key)
        if v and not Path(v).is_absolute() and (base / v).exists():
            updates[key] = str((base / v).resolve())
    roles = []
    for r in t.roles:
        if r.template and not Path(r.template).is_absolute() and (base / r.template).exists():
            r = r.model_copy(update={"template": str((base / r.template).resolve())})
        roles.append(r)
    if roles:
        updates["roles"] = tuple(roles)
    if updates:
        cfg.trader = t.model_copy(update=updates)
    return cfg
