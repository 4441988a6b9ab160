"""The SQLite ledger's durability setting (issue 15): FULL by default (an acknowledged order survives power
loss), NORMAL only when asked for by name (argument, run config, CLI or environment), anything else refused
with one clear line."""

from __future__ import annotations

import pytest

from nofx.domain.errors import ConfigError
from nofx.persistence import SqlLedgerStore
from nofx.persistence.connection import SQLITE_SYNC_ENV, resolve_sqlite_sync

PRAGMA_LEVEL = {"NORMAL": 1, "FULL": 2}


def _level(store: SqlLedgerStore) -> int:
    with store.connect() as conn:
        return conn.exec_driver_sql("PRAGMA synchronous").scalar()


def test_default_is_full(sqlite_url, monkeypatch):
    monkeypatch.delenv(SQLITE_SYNC_ENV, raising=False)
    s = SqlLedgerStore(sqlite_url)
    try:
        assert s.sqlite_synchronous == "FULL" and _level(s) == PRAGMA_LEVEL["FULL"]
    finally:
        s.close()


def test_normal_by_environment_and_argument_wins(sqlite_url, monkeypatch):
    monkeypatch.setenv(SQLITE_SYNC_ENV, "normal")
    s = SqlLedgerStore(sqlite_url)
    try:
        assert s.sqlite_synchronous == "NORMAL" and _level(s) == PRAGMA_LEVEL["NORMAL"]
    finally:
        s.close()
    s = SqlLedgerStore(sqlite_url, sqlite_synchronous="FULL")
    try:
        assert _level(s) == PRAGMA_LEVEL["FULL"]
    finally:
        s.close()


@pytest.mark.parametrize("bad", ["OFF", "extra", ""])
def test_unknown_settings_are_refused(sqlite_url, monkeypatch, bad):
    monkeypatch.delenv(SQLITE_SYNC_ENV, raising=False)
    with pytest.raises(ConfigError, match="FULL .* or NORMAL"):
        SqlLedgerStore(sqlite_url, sqlite_synchronous=bad)  # type: ignore[arg-type]
    monkeypatch.setenv(SQLITE_SYNC_ENV, "OFF")
    with pytest.raises(ConfigError, match=SQLITE_SYNC_ENV):
        resolve_sqlite_sync()


def test_run_config_ledger_section(tmp_path):
    from nofx.backtest.run_config import RunConfig, load_config_model

    assert RunConfig().ledger.sqlite_synchronous is None  # unset: environment, else FULL
    ok = tmp_path / "ok.toml"
    ok.write_text('[ledger]\nsqlite_synchronous = "normal"\n')
    assert load_config_model(ok, RunConfig).ledger.sqlite_synchronous == "NORMAL"
    bad = tmp_path / "bad.toml"
    bad.write_text('[ledger]\nsqlite_synchronous = "off"\n')
    with pytest.raises(ConfigError, match="ledger.sqlite_synchronous"):
        load_config_model(bad, RunConfig)
