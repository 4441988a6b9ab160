"""``nofx system up`` with two traders (each its own process) on tcp endpoints from a system.toml:
``nofx system status`` shows every process while it runs; SIGTERM shuts everything down with exit
code 0, leaves no process behind and a ledger that ``nofx ledger check`` passes; started again, the
system resumes from the ledger and each trader ends with exactly its own backtest's trades."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from nofx.messaging.system.launch import free_port
from tests.messaging.bus_helpers import REPO
from tests.messaging.system.helpers import backtest_json, run_config

TRADERS = {"fast": {"fast": 3, "slow": 8}, "slow": {"fast": 5, "slow": 12}}


def write_config(path, data) -> None:
    ports = [free_port() for _ in range(4)]
    traders = "".join(f'''
[[traders]]
id = "{tid}"
json_path = "{tid}.json"
[traders.strategy]
name = "dual_ma"
params = {{fast = {p["fast"]}, slow = {p["slow"]}}}
''' for tid, p in TRADERS.items())
    path.write_text(f'''ledger = "sqlite:///ledger.db"
status_file = "status.json"

[broker]
pub_endpoint = "tcp://127.0.0.1:{ports[0]}"
sub_endpoint = "tcp://127.0.0.1:{ports[1]}"
command_endpoint = "tcp://127.0.0.1:{ports[2]}"
engine_endpoint = "tcp://127.0.0.1:{ports[3]}"

[run.data]
path = "{data}"
symbols = ["000001.SZ", "600000.SH", "600009.SH"]

[run.backtest]
end = 2025-02-14
rules = "cn"
{traders}''')


def nofx(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "nofx.cli.main", *args], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
def test_up_status_sigterm_and_resume(cn_15min_path, tmp_path, nofx_cli):
    cfg_path = tmp_path / "system.toml"
    write_config(cfg_path, cn_15min_path)
    up = nofx("system", "up", "--config", str(cfg_path))
    status_file = tmp_path / "status.json"
    try:
        deadline = time.monotonic() + 120
        index = -1
        while index < 60:
            assert time.monotonic() < deadline and up.poll() is None, up.communicate()
            time.sleep(0.2)
            if status_file.exists():
                st = json.loads(status_file.read_text())
                index = next(p.get("index", -1) for p in st["processes"] if p["name"] == "engine")
        res = nofx_cli("system", "status", "--config", str(cfg_path))
        assert res.code == 0, res.err
        for name in ("broker", "engine", "md", "strategy-fast", "strategy-slow"):
            assert name in res.out
        assert "running" in res.out
        pids = [p["pid"] for p in json.loads(status_file.read_text())["processes"]]
        up.send_signal(signal.SIGTERM)
        out, err = up.communicate(timeout=60)
    finally:
        if up.poll() is None:
            up.kill()
    assert up.returncode == 0, err
    assert "stopped; every process shut down" in out and "exit codes" not in out
    assert not any(alive(pid) for pid in pids)
    assert json.loads(status_file.read_text())["stopped"] is True
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    for tid in TRADERS:
        res = nofx_cli("ledger", "check", "--db", db, "--trader", tid)
        assert res.code == 0 and "OK" in res.out, res.out
    assert not (tmp_path / "fast.json").exists()  # interrupted: no result yet

    again = nofx("system", "up", "--config", str(cfg_path))
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    assert "replay finished" in out
    for tid, params in TRADERS.items():
        cfg = run_config(cn_15min_path, ["000001.SZ", "600000.SH", "600009.SH"], end="2025-02-14", params=params)
        (tmp_path / tid).mkdir()
        expected = backtest_json(cfg, tmp_path / tid)
        got = json.loads((tmp_path / f"{tid}.json").read_text())
        assert len(expected["trades"]) >= 10
        assert got["trades"] == [{**t, "order_id": t["order_id"].replace("backtest-", f"{tid}-")}
                                 for t in expected["trades"]]
        assert got["equity"] == expected["equity"]


def test_status_without_a_running_system_is_one_line(tmp_path, nofx_cli):
    res = nofx_cli("system", "status", "--status-file", str(tmp_path / "none.json"))
    assert "no status file" in res.error_line()


def test_bad_system_config_names_the_key(tmp_path, nofx_cli):
    (tmp_path / "system.toml").write_text('ledger = "sqlite:///x.db"\n[run]\n[[traders]]\nid = "a b"\n'
                                          '[traders.strategy]\nname = "dual_ma"\n')
    line = nofx_cli("system", "up", "--config", str(tmp_path / "system.toml")).error_line()
    assert "traders.0.id" in line


def test_the_shipped_example_validates():
    from nofx.messaging.system.spec import load_system_config

    spec = load_system_config(REPO / "examples" / "system.toml")
    assert [t.id for t in spec.traders] == ["ma_fast", "ma_slow"]
    assert spec.status_file and spec.status_file.endswith("system-status.json")
