"""A real uvicorn server on a free loopback port, serving ``create_app(settings)`` from a thread of the
test process (real sockets, real HTTP), plus helpers to create users and log in."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import httpx
import uvicorn

from nofx.api.app import create_app
from nofx.api.settings import ApiSettings

SECRET = "test-secret-" + "0123456789abcdef" * 4  # HS256 key of the test servers (>= 32 bytes)
PASSWORD = "correct horse battery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    settings: ApiSettings
    port: int = 0
    _server: Any = None
    _thread: threading.Thread | None = None
    tokens: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def svc(self) -> Any:
        return self.app.state.svc

    def start(self) -> LiveServer:
        self.port = free_port()
        self.app = create_app(self.settings)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False,
                                lifespan="on", ws_max_size=1 << 16)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 60
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("test server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(60)

    def client(self, token: str | None = None, headers: dict[str, str] | None = None, **kw: Any) -> httpx.Client:
        headers = {**({"Authorization": f"Bearer {token}"} if token else {}), **(headers or {})}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kw)

    def add_user(self, username: str, admin: bool = False, password: str = PASSWORD) -> str:
        from nofx.api.security import hash_password, new_id

        return self.svc.repo.create_user(new_id("usr"), username, hash_password(password), admin).user_id

    def login(self, username: str, password: str = PASSWORD) -> dict[str, str]:
        with self.client() as c:
            r = c.post("/api/v1/auth/login", json={"username": username, "password": password})
        assert r.status_code == 200, r.text
        self.tokens[username] = r.json()
        return r.json()

    def user_client(self, username: str, admin: bool = False) -> httpx.Client:
        """A client logged in as a new user ``username``."""
        self.add_user(username, admin)
        return self.client(self.login(username)["access_token"])


def settings_for(tmp: Path, **overrides: Any) -> ApiSettings:
    base: dict[str, Any] = {"db_url": f"sqlite:///{tmp / 'api.db'}", "state_dir": tmp / "state", "jwt_secret": SECRET,
                            "login_delay_s": 0.0}
    base.update(overrides)
    return ApiSettings.model_validate(base)


@contextmanager
def live_server(tmp: Path, **overrides: Any) -> Iterator[LiveServer]:
    server = LiveServer(settings_for(tmp, **overrides)).start()
    try:
        yield server
    finally:
        server.stop()


def assert_error(r: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The response has ``status`` and the one error shape (and ``code``, if given)."""
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}, body
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


TRADER = {"name": "ma", "config": {"strategy": "dual_ma", "params": {"fast": 5, "slow": 20, "size": 100},
                                   "symbols": ["600519.SH", "000001.SZ"], "speed": 86400}}


def new_trader(c: httpx.Client, start: bool = False, **config: Any) -> str:
    body = {"name": TRADER["name"], "config": {**TRADER["config"], **config}}
    r = c.post("/api/v1/traders", json=body)
    assert r.status_code == 201, r.text
    tid = r.json()["trader_id"]
    if start:
        r = c.post(f"/api/v1/traders/{tid}/start")
        assert r.status_code == 200 and r.json()["state"] == "running", r.text
    return tid


# ---- `nofx` as a separate process (the CLI tests and multi-worker tests) --------------------------------
NOFX = [sys.executable, "-m", "nofx.cli.main"]
CLI_PASSWORD = "s3cret-pass-phrase"


def cli_env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOFX_")}
    env.update({"NOFX_DB_URL": f"sqlite:///{tmp / 'serve.db'}", "NOFX_PASSWORD": CLI_PASSWORD, **extra})
    return env


def nofx_cli(tmp: Path, *args: str, **kw) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
    return subprocess.run([*NOFX, *args], cwd=tmp, env=kw.pop("env", cli_env(tmp)), capture_output=True, text=True,
                          timeout=120, **kw)


class Served:
    def __init__(self, tmp: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.log = tmp / f"serve-{self.port}.log"
        self._fh = self.log.open("w")
        env = {**cli_env(tmp), **(env or {})}
        env.pop("NOFX_PASSWORD")
        self.proc = subprocess.Popen([*NOFX, "serve", "--port", str(self.port), "--state-dir", str(tmp / "state"),
                                      *args], cwd=tmp, env=env, stdout=self._fh, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert self.proc.poll() is None and time.monotonic() < deadline, self.log.read_text()
            time.sleep(0.2)

    def stop(self) -> bool:
        """SIGTERM; True if the server shut down cleanly (uvicorn re-raises the signal after a graceful
        shutdown, so the exit status is -SIGTERM or 0)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(60)
        finally:
            self._fh.close()
        return rc in (0, -signal.SIGTERM) and "Application shutdown complete" in self.log.read_text()


def login_at(url: str, user: str) -> dict[str, str]:
    r = httpx.post(url + "/api/v1/auth/login", json={"username": user, "password": CLI_PASSWORD})
    assert r.status_code == 200, r.text
    return r.json()
