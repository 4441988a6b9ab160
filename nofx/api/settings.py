"""Server settings (``nofx serve`` options and ``NOFX_*`` environment variables), validated by pydantic.

Every limit the security tests exercise is a setting, so a test can shrink it instead of sending
thousands of requests; the defaults are the production values.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from pydantic import BaseModel, ConfigDict, Field

from nofx.domain.errors import ConfigError


class RateLimit(BaseModel):
    """A token bucket: ``burst`` requests at once, refilled at ``per_second``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    burst: int = Field(gt=0)
    per_second: float = Field(gt=0)


class ApiSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    db_url: str | None = None  # None: $NOFX_DB_URL or sqlite:///nofx.db
    data_path: str | None = None  # bars file for market data, traders and backtests; None: the bundled slice
    state_dir: Path = Path(".nofx")  # generated JWT key file, backtest reports
    jwt_secret: str | None = Field(default=None, repr=False)  # $NOFX_JWT_SECRET; else a key file in state_dir
    access_ttl_s: int = Field(default=900, gt=0)  # 15 minutes
    refresh_ttl_s: int = Field(default=14 * 86400, gt=0)
    user_rate: RateLimit = RateLimit(burst=200, per_second=100.0)
    ip_rate: RateLimit = RateLimit(burst=400, per_second=200.0)
    login_ip_rate: RateLimit = RateLimit(burst=20, per_second=1.0)  # login attempts per client address
    login_concurrency: int = Field(default=2, gt=0)  # password verifications at once (CPU and memory bound)
    login_max_failures: int = Field(default=5, gt=0)  # then the account is locked for login_lock_s
    login_lock_s: int = Field(default=900, gt=0)
    login_delay_s: float = Field(default=0.25, ge=0)  # added per recent failure, capped at 2 s
    max_body_bytes: int = Field(default=1 << 20, gt=0)
    max_json_depth: int = Field(default=32, gt=0)
    cors_origins: tuple[str, ...] = ()  # closed by default
    redis_url: str | None = None  # required for more than one worker process
    market_ttl_s: float = Field(default=2.0, ge=0)
    max_running_traders: int = Field(default=1000, gt=0)
    # AI traders may call only these endpoints: base URL -> the NAME of the environment variable holding its
    # key (None: no key). Binding each key to its URL keeps a user from sending the server's key elsewhere.
    # The default is the local mock model server (`nofx ai serve-mock`).
    ai_endpoints: dict[str, str | None] = {"http://127.0.0.1:8765/v1": None}
    backtest_workers: int = Field(default=1, gt=0)

    @classmethod
    def from_env(cls, **overrides: object) -> ApiSettings:
        """Settings from ``NOFX_*`` variables (how worker processes receive ``nofx serve``'s options)."""
        env = os.environ
        raw: dict[str, object] = {}
        for key, var in (("db_url", "NOFX_DB_URL"), ("data_path", "NOFX_DATA"), ("state_dir", "NOFX_STATE_DIR"),
                         ("jwt_secret", "NOFX_JWT_SECRET"), ("redis_url", "NOFX_REDIS_URL")):
            if env.get(var):
                raw[key] = env[var]
        if env.get("NOFX_CORS_ORIGINS"):
            raw["cors_origins"] = tuple(o.strip() for o in env["NOFX_CORS_ORIGINS"].split(",") if o.strip())
        if env.get("NOFX_AI_ENDPOINTS"):  # from `nofx serve --ai-endpoint`, as JSON
            import json

            raw["ai_endpoints"] = _json_env(env, "NOFX_AI_ENDPOINTS", dict)
        if env.get("NOFX_API_SETTINGS"):  # any other setting, as JSON (tests, deployments)
            import json

            raw.update(_json_env(env, "NOFX_API_SETTINGS", dict))
        raw.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(raw)


def _json_env(env: Mapping[str, str], name: str, kind: type) -> Any:
    """The JSON value of environment variable ``name``; ``ConfigError`` naming it when it is not JSON of
    the expected ``kind`` (a deployment's typo must say where it is, not end in a traceback)."""
    import json

    try:
        value = json.loads(env[name])
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{name} is not valid JSON: {exc.msg} at character {exc.pos}", variable=name) from None
    if not isinstance(value, kind):
        raise ConfigError(f"{name} must be a JSON {'object' if kind is dict else 'array'}, "
                          f"got {type(value).__name__}", variable=name)
    return value
