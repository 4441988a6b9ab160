"""SIGKILL of the strategy, the engine or the broker in the middle of a system replay: the supervisor
restarts it, the run completes, and its fills and equity are exactly the uninterrupted backtest's (no
acknowledged order or fill lost or doubled), with a consistent ledger."""

from __future__ import annotations

import signal
import sqlite3

import pytest

from tests.messaging.system.helpers import backtest_json, run_config, system_json


@pytest.mark.slow
@pytest.mark.parametrize("victim", ["strategy-backtest", "engine", "broker"])
def test_sigkill_mid_replay(victim, cn_15min_path, tmp_path, nofx_cli):
    cfg = run_config(cn_15min_path, ["000001.SZ", "600000.SH", "600009.SH"], end="2025-02-14",
                     params={"fast": 3, "slow": 8})
    expected = backtest_json(cfg, tmp_path)
    n = len(expected["equity"])
    killed: list[int] = []
    restarts: list[tuple[str, int]] = []

    def during(sup) -> None:  # called by the supervisor between its checks
        at = sup.procs["engine"].health.get("index", -1)
        if not killed and n // 4 <= at < n - 40:
            sup.kill(victim, signal.SIGKILL)
            killed.append(at)

    got, codes = system_json(cfg, tmp_path / "sys", during=during, restarts=restarts)
    assert killed, "the replay ended before the kill"
    assert restarts == [(victim, -signal.SIGKILL)]
    assert len(expected["trades"]) >= 10
    assert got["trades"] == expected["trades"]
    assert got["equity"] == expected["equity"]
    assert codes["engine"] == 0
    db = tmp_path / "sys" / "ledger.db"
    res = nofx_cli("ledger", "check", "--db", f"sqlite:///{db}", "--trader", "backtest")
    assert res.code == 0, res.out
    assert "OK" in res.out
    with sqlite3.connect(db) as conn:
        cids = [r[0] for r in conn.execute("SELECT client_order_id FROM orders WHERE trader_id = 'backtest'")]
    assert len(cids) == len(set(cids))  # a resent slice never made a second order
