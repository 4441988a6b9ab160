"""``nofx serve`` (the HTTP API on uvicorn) and ``nofx user create``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from nofx.domain.errors import ConfigError

app = typer.Typer()
user_app = typer.Typer(help="Manage API users.", no_args_is_help=True)
app.add_typer(user_app, name="user")
console = Console()
MIN_PASSWORD = 8


@app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8000, min=0, max=65535, help="TCP port (0: any free port)"),
    db: Optional[str] = typer.Option(None, help="database URL (default $NOFX_DB_URL or sqlite:///nofx.db)"),
    data: Optional[str] = typer.Option(None, "--data", help="bars file for market data and traders (default: bundled)"),
    workers: int = typer.Option(1, min=1, max=64, help="worker processes (more than one needs --redis)"),
    redis: Optional[str] = typer.Option(None, help="Redis URL for shared state, e.g. redis://127.0.0.1:6379/0"),
    state_dir: Path = typer.Option(Path(".nofx"), help="folder for the generated JWT key and reports"),
    cors_origin: Optional[list[str]] = typer.Option(None, "--cors-origin", help="allowed browser origin (repeat)"),
    log_level: str = typer.Option("info", help="debug | info | warning | error"),
    log_json: bool = typer.Option(False, "--log-json", help="JSON log lines (default: $NOFX_LOG_FORMAT, else the "
                                  "human console format)"),
    ai_endpoint: Optional[list[str]] = typer.Option(
        None, "--ai-endpoint", help="model endpoint AI traders may call, URL or URL=KEY_ENV (the NAME of the "
        "variable holding its key); repeat. Default: the local mock, http://127.0.0.1:8765/v1"),
) -> None:
    """Serve the REST and WebSocket API (OpenAPI at /openapi.json, docs at /docs)."""
    import uvicorn

    from nofx.api.settings import ApiSettings
    from nofx.persistence.urls import resolve_url

    if log_level.lower() not in ("critical", "error", "warning", "info", "debug", "trace"):
        raise ConfigError("--log-level must be debug, info, warning or error", log_level=log_level)
    log_level = log_level.lower()
    if data is not None and not Path(data).is_file():
        raise ConfigError("bars file not found", data=data)
    if workers > 1 and not redis:
        raise ConfigError("more than one worker needs shared state: add --redis redis://127.0.0.1:6379/0",
                          workers=workers)
    url = resolve_url(db)
    from nofx.persistence.connection import check_sqlite_file

    check_sqlite_file(url)  # a bad SQLite path is one line now, not a traceback from inside a worker
    # Worker processes read their settings from the environment (uvicorn starts them with a factory).
    from nofx.observability.logs import configure_logging, log_format_from_env

    env = {"NOFX_DB_URL": url, "NOFX_STATE_DIR": str(state_dir), "NOFX_WORKERS": str(workers),
           "NOFX_LOG_LEVEL": log_level, "NOFX_LOG_FORMAT": "json" if log_json else log_format_from_env()}
    if workers > 1:  # each worker writes its counters to files there; every worker's /metrics sums them
        env["PROMETHEUS_MULTIPROC_DIR"] = str(_fresh_metrics_dir(state_dir))
    if data:
        env["NOFX_DATA"] = str(Path(data).resolve())
    if redis:
        env["NOFX_REDIS_URL"] = redis
    if cors_origin:
        env["NOFX_CORS_ORIGINS"] = ",".join(cors_origin)
    if ai_endpoint:
        env["NOFX_AI_ENDPOINTS"] = json.dumps(_ai_endpoints(ai_endpoint))
    os.environ.update(env)
    ApiSettings.from_env()  # validate now: one clear line instead of a failing worker
    if redis:
        from nofx.api.shared_state import RedisState

        RedisState(redis).close()  # reachable? (ConfigError naming the URL, without its password)
    configure_logging(log_level)
    console.print(f"nofx API on http://{host}:{port} (docs /docs), database "
                  f"{_safe_url(url)}, {workers} worker(s)" + (", shared state in Redis" if redis else ""))
    # uvicorn's own access log prints query strings; ours (nofx.api.access) never does
    uvicorn.run("nofx.api.app:app_from_env", factory=True, host=host, port=port, workers=workers,
                log_level=log_level, log_config=None, access_log=False, ws_max_size=1 << 16,
                timeout_graceful_shutdown=30, server_header=False)


def _fresh_metrics_dir(state_dir: Path) -> Path:
    """STATE_DIR/prometheus, emptied: files of an earlier server's processes would be summed in."""
    import shutil

    path = (state_dir / "prometheus").resolve()
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def _ai_endpoints(items: list[str]) -> dict[str, str | None]:
    """``URL`` or ``URL=KEY_ENV`` -> {url: key variable name or None}; ConfigError naming a bad one."""
    import re

    out: dict[str, str | None] = {}
    for item in items:
        url, sep, key_env = item.partition("=")
        url = url.strip().rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise ConfigError("--ai-endpoint must be an http(s) URL, optionally =KEY_ENV", ai_endpoint=item)
        if sep and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,127}", key_env):
            raise ConfigError("--ai-endpoint KEY_ENV must be an environment variable NAME (never the key)",
                              ai_endpoint=url)
        out[url] = key_env if sep else None
    return out


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@user_app.command("create")
def user_create(
    username: str = typer.Argument(..., help="login name (3-64 of A-Z a-z 0-9 _ . @ -)"),
    admin: bool = typer.Option(False, "--admin", help="may manage users"),
    db: Optional[str] = typer.Option(None, help="database URL (default $NOFX_DB_URL or sqlite:///nofx.db)"),
) -> None:
    """Create an API user. The password comes from $NOFX_PASSWORD or a prompt, never from the command line."""
    from pydantic import TypeAdapter, ValidationError

    from nofx.api.repo import Conflict, Repo
    from nofx.api.schemas import Username
    from nofx.api.security import hash_password, new_id
    from nofx.persistence.connection import make_engine
    from nofx.persistence.migrate import upgrade_engine
    from nofx.persistence.urls import resolve_url

    try:
        TypeAdapter(Username).validate_python(username)
    except ValidationError:
        raise ConfigError("username must be 3-64 characters of A-Z a-z 0-9 _ . @ -", username=username) from None
    password = os.environ.get("NOFX_PASSWORD")
    if password is None:
        import warnings

        from typer.exceptions import Abort

        try:
            with warnings.catch_warnings():  # off a terminal getpass reads stdin and warns that it echoes
                warnings.simplefilter("ignore")
                password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
        except (Abort, EOFError):  # stdin ended (e.g. </dev/null): say what is missing
            raise ConfigError("no password given: set NOFX_PASSWORD or type it at the prompt") from None
    if len(password) < MIN_PASSWORD:
        raise ConfigError(f"password must have at least {MIN_PASSWORD} characters")
    engine = make_engine(resolve_url(db))
    try:
        upgrade_engine(engine)
        Repo(engine).create_user(new_id("usr"), username, hash_password(password), admin)
    except Conflict:
        raise ConfigError("username is taken", username=username) from None
    finally:
        engine.dispose()
    console.print(f"created {'admin ' if admin else ''}user {username}")
