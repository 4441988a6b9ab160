from __future__ import annotations

import json
from datetime import timedelta

import pytest
from ledger_testkit import T0, Flow, new_trader
from sqlalchemy import update
from typer.testing import CliRunner

from nofx.cli.ledger import app
from nofx.domain.enums import Side
from nofx.domain.errors import ConfigError
from nofx.persistence import SqlLedgerStore
from nofx.persistence import schema as t

runner = CliRunner()


@pytest.fixture
def ledger(sqlite_url: str) -> tuple[str, str, str]:
    s = SqlLedgerStore(sqlite_url)
    old = new_trader(s, created=T0)
    tid = new_trader(s, created=T0 + timedelta(days=1))
    fl = Flow(tid)
    for i in range(5):
        s.append(tid, fl.round_trip("600519.SH", Side.BUY, 100, "1700.5", "5.1", T0 + timedelta(minutes=i)))
    s.close()
    return sqlite_url, tid, old


def test_orders_json_defaults_to_latest_trader_and_paginates(ledger: tuple[str, str, str]) -> None:
    url, tid, _ = ledger
    r = runner.invoke(app, ["orders", "--db", url, "--json", "--limit", "3"])
    assert r.exit_code == 0, r.output
    first = json.loads(r.output)
    assert first["trader_id"] == tid and len(first["items"]) == 3
    assert first["items"][0]["limit_price"] == "1700.5000" and first["items"][0]["status"] == "filled"
    r = runner.invoke(app, ["orders", "--db", url, "--json", "--limit", "3", "--after", first["next_cursor"]])
    second = json.loads(r.output)
    assert len(second["items"]) == 2 and second["next_cursor"] is None
    assert {o["order_id"] for o in first["items"]}.isdisjoint(o["order_id"] for o in second["items"])


def test_tables_and_other_trader(ledger: tuple[str, str, str]) -> None:
    url, tid, old = ledger
    r = runner.invoke(app, ["positions", "--db", url])
    assert r.exit_code == 0 and "600519.SH" in r.output and "500" in r.output
    r = runner.invoke(app, ["trades", "--db", url, "--json"])
    assert [f["price"] for f in json.loads(r.output)["items"]] == ["1700.5000"] * 5
    r = runner.invoke(app, ["trades", "--db", url, "--trader", old, "--json"])
    assert json.loads(r.output)["items"] == []
    r = runner.invoke(app, ["orders", "--db", url])
    assert r.exit_code == 0 and "orders of" in r.output


def test_check_exit_codes(ledger: tuple[str, str, str]) -> None:
    url, tid, _ = ledger
    r = runner.invoke(app, ["ledger", "check", "--db", url])
    assert r.exit_code == 0 and "OK" in r.output
    s = SqlLedgerStore(url)
    with s.connect() as conn:
        conn.execute(update(t.positions).where(t.positions.c.trader_id == tid).values(quantity=1))
        conn.commit()
    s.close()
    r = runner.invoke(app, ["ledger", "check", "--db", url])
    assert r.exit_code == 1 and "[position_quantity]" in r.output
    r = runner.invoke(app, ["ledger", "check", "--db", url, "--json"])
    assert r.exit_code == 1 and json.loads(r.output)["violations"][0]["kind"] == "position_quantity"


def test_user_errors_are_nofx_errors(tmp_path, ledger: tuple[str, str, str]) -> None:  # type: ignore[no-untyped-def]
    r = runner.invoke(app, ["orders", "--db", str(tmp_path / "missing.db")])
    assert isinstance(r.exception, ConfigError)
    assert not (tmp_path / "missing.db").exists()
    r = runner.invoke(app, ["orders", "--db", ledger[0], "--trader", "nobody"])
    assert isinstance(r.exception, ConfigError)
