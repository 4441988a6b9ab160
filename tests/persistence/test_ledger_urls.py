from __future__ import annotations

import pytest

from nofx.persistence.errors import DatabaseUrlError
from nofx.persistence.urls import DEFAULT_URL, ENV_VAR, resolve_url


def test_default_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert resolve_url() == DEFAULT_URL == "sqlite:///nofx.db"
    monkeypatch.setenv(ENV_VAR, "postgresql://postgres@127.0.0.1:5432/ledger")
    assert resolve_url() == "postgresql+psycopg://postgres@127.0.0.1:5432/ledger"
    # an explicit URL wins over the variable
    assert resolve_url("sqlite:///x.db") == "sqlite:///x.db"


def test_async_drivers_map_to_sync_psycopg() -> None:
    assert resolve_url("postgresql+asyncpg://u:p%40ss@h:5433/db") == "postgresql+psycopg://u:p%40ss@h:5433/db"
    assert resolve_url("sqlite+aiosqlite:///a.db") == "sqlite:///a.db"


def test_bare_path_is_sqlite_file() -> None:
    assert resolve_url("/tmp/some/ledger.db") == "sqlite:////tmp/some/ledger.db"


def test_unsupported_scheme_is_a_coded_error() -> None:
    with pytest.raises(DatabaseUrlError) as exc:
        resolve_url("mysql://root@localhost/x")
    assert exc.value.code == "LEDGER_BAD_URL"
