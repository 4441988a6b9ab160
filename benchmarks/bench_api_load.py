"""HTTP load: 100 Locust users against ``nofx serve`` on SQLite and on PostgreSQL, then the same 100
accounts driven by a light client that only submits orders.

    python benchmarks/bench_api_load.py [--users 100] [--seconds 20] [--db sqlite,postgres] [--think-ms 0-10]

Phase 1 (Locust, benchmarks/locust_api.py): each user logs in once, then submits and cancels limit
orders on its own running paper trader and reads positions, orders and market data, waiting a random
``--think-ms`` between tasks; ``GET /healthz`` in the same mix is the same-run floor of the HTTP stack on
this machine at that moment. Printed per endpoint: requests/s, p50/p95/p99 (ms) and errors, against the
goals (0 errors, p99 < 50 ms, >= 1,000 durable order submissions/s).

Phase 2 (benchmarks/http_orders.py): the same users send ``POST /orders`` back to back from plain asyncio
streams. Locust costs several times the server's CPU per request on the same two cores; this client
costs far less, so its figure says what the server sustains when the load generator leaves it the CPU.

"Durable" is checked: after both phases every order the server acknowledged (201) is counted in the
ledger tables, and the ledger's durability as the database reports it (SQLite ``synchronous``,
PostgreSQL ``synchronous_commit``) is printed with the figures. The server's own CPU time per request
is printed too: unlike latency, it hardly depends on what else the machine runs.

The server runs with the per-user, per-IP and login-per-IP rate limits raised (all 100 users come from
one address, which the default per-IP buckets would throttle).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import line  # noqa: E402

HERE = Path(__file__).resolve().parent
PASSWORD = "load-password-1"
SETTINGS = ('{"user_rate": {"burst": 100000, "per_second": 100000}, '
            '"ip_rate": {"burst": 1000000, "per_second": 1000000}, '
            '"login_ip_rate": {"burst": 100000, "per_second": 100000}}')
GOAL_P99_MS = 50.0
GOAL_ORDERS_PER_S = 1000.0


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_database() -> tuple[str, object]:
    import psycopg
    from psycopg import sql

    admin = psycopg.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres", autocommit=True,
                            connect_timeout=3)
    name = f"nofx_bench_api_{uuid.uuid4().hex[:10]}"
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def drop() -> None:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.close()

    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", drop


def _create_users_and_traders(url: str, n: int) -> None:
    """``n`` users, each with one trader whose desired state is "running": the server resumes them all
    when it starts (speed 1: one daily bar per real day, so resting orders stay open during the run)."""
    from nofx.api.repo import Repo
    from nofx.api.runtime import config_json
    from nofx.api.security import hash_password, new_id
    from nofx.persistence.connection import make_engine
    from nofx.persistence.migrate import upgrade_engine

    engine = make_engine(url)
    upgrade_engine(engine)
    repo = Repo(engine)
    digest = hash_password(PASSWORD)  # one argon2 hash (random salt) shared: setup speed, not security
    config = config_json({"strategy": "buy_and_hold", "params": {"percent": 0.0001}, "symbols": ["000001.SZ"],
                          "speed": 1, "cash": "1000000000", "risk": {}})
    for k in range(n):
        uid = repo.create_user(new_id("usr"), f"load{k}", digest, False).user_id
        tid = new_id("tr")
        repo.add_trader(tid, uid, f"load{k}", "strategy", config)
        repo.update_trader(uid, tid, desired="running")
    engine.dispose()


def _wait_traders_running(url: str, n: int, timeout: float = 600) -> None:
    from sqlalchemy import func, select

    from nofx.persistence import schema as t
    from nofx.persistence.connection import make_engine

    engine = make_engine(url)
    deadline = time.monotonic() + timeout
    try:
        while True:  # a resumed trader has a ledger row once its session started
            with engine.connect() as conn:
                if conn.execute(select(func.count()).select_from(t.equity_snapshots)).scalar() >= n:
                    return
            if time.monotonic() > deadline:
                sys.exit("traders did not start in time")
            time.sleep(0.5)
    finally:
        engine.dispose()


def _serve(url: str, tmp: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, "NOFX_API_SETTINGS": SETTINGS, "NOFX_JWT_SECRET": uuid.uuid4().hex * 2}
    log = (tmp / "serve.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "nofx.cli.main", "serve", "--port", str(port), "--db", url,
                             "--state-dir", str(tmp / "state"), "--log-level", "warning"],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"server did not start: {(tmp / 'serve.log').read_text()[-2000:]}")
        time.sleep(0.3)


def _acknowledged_orders_in_ledger(url: str) -> int:
    from sqlalchemy import func, select

    from nofx.persistence import schema as t
    from nofx.persistence.connection import make_engine

    engine = make_engine(url)
    with engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(t.orders).where(t.orders.c.tag == "api")).scalar()
    engine.dispose()
    return int(n or 0)


def _durability(url: str) -> str:
    """Asked of a store opened as the server opens its own (same defaults, same database)."""
    from nofx.api.orderflow import ledger_durability
    from nofx.persistence.store import SqlLedgerStore

    store = SqlLedgerStore(url, migrate=False)
    try:
        return ledger_durability(store)
    finally:
        store.close()


def _cpu_s(proc: subprocess.Popen) -> float:
    import psutil

    t = psutil.Process(proc.pid).cpu_times()
    return float(t.user + t.system)


def _load() -> str:
    return "load average " + " / ".join(f"{x:.1f}" for x in os.getloadavg())


def run_one(db: str, users: int, seconds: int, think: tuple[float, float], skip_locust: bool = False) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=f"nofx-load-{db}-"))
    drop = None
    if db == "sqlite":
        url = f"sqlite:///{tmp / 'load.db'}"
    else:
        url, drop = _pg_database()
    proc = None
    env = {**os.environ, "NOFX_LOAD_PASSWORD": PASSWORD}
    try:
        _create_users_and_traders(url, users)
        t0 = time.perf_counter()
        proc, base = _serve(url, tmp)
        _wait_traders_running(url, users)
        line(f"[{db}] server start, {users} traders resumed and running", f"{time.perf_counter() - t0:.1f} s")
        print(f"[{db}] ledger durability of acknowledged orders: {_durability(url)}")
        print(f"[{db}] before Locust: {_load()} on {os.cpu_count()} CPUs (`uptime`: {_uptime()})")
        prefix = tmp / "locust"
        cpu0 = _cpu_s(proc)
        out = None if skip_locust else subprocess.run([sys.executable, "-m", "locust", "-f", str(HERE / "locust_api.py"), "--headless",
                              "-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--host", base,
                              "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING"],
                             capture_output=True, text=True, timeout=seconds + 300,
                             env={**env, "NOFX_LOAD_THINK_MS": f"{think[0]}-{think[1]}"})
        cpu_locust = _cpu_s(proc) - cpu0
        locust_ok = 0
        if out is not None:
            if not (tmp / "locust_stats.csv").exists():
                sys.exit(f"locust failed: {out.stderr[-3000:]}")
            locust_ok = _report(db, tmp / "locust_stats.csv", users, think, cpu_locust)
        print(f"[{db}] before the light client: {_load()}")
        light = _light_client(proc, base, users, seconds, env)
        created = int(light["created"])
        rate = created / float(light["seconds"])
        errors = sum(light["other"].values())
        print(f"\n== light client (benchmarks/http_orders.py): {users} connections sending POST /orders back to "
              f"back, {light['seconds']} s, nofx serve on {db} ==")
        print(f"{'endpoint':<24}{'requests':>9}{'req/s':>9}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'errors':>8}")
        print(f"{'POST /orders':<24}{light['requests']:>9}{rate:>9.1f}{light['p50_ms']:>8.0f}{light['p95_ms']:>8.0f}"
              f"{light['p99_ms']:>8.0f}{errors:>8}   server CPU {float(light['cpu_s']) * 1000 / max(1, int(light['requests'])):.2f} ms/request")
        in_ledger = _acknowledged_orders_in_ledger(url)
        line(f"[{db}] acknowledged orders (201): Locust + light client", f"{locust_ok} + {created} = "
             f"{locust_ok + created}; in the ledger afterwards: {in_ledger}"
             + ("" if in_ledger >= locust_ok + created else "  MISSING ORDERS"))
        line(f"[{db}] durable order submissions/s, light client (goal >= {GOAL_ORDERS_PER_S:.0f})",
             f"{rate:,.0f}  (ratio to goal {rate / GOAL_ORDERS_PER_S:.2f}x)")
        print(f"[{db}] after: {_load()}")
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
        if drop is not None:
            drop()


def _light_client(proc: subprocess.Popen, base: str, users: int, seconds: int, env: dict[str, str]
                  ) -> dict[str, object]:
    """Run http_orders.py; the server's CPU is measured from its "ready" line (logins done) to its end."""
    client = subprocess.Popen([sys.executable, str(HERE / "http_orders.py"), base, "--users", str(users),
                               "--seconds", str(seconds), "--tag", "h"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert client.stdout is not None
    first = client.stdout.readline()
    cpu0 = _cpu_s(proc)
    rest, err = client.communicate(timeout=seconds + 300)
    cpu = _cpu_s(proc) - cpu0
    if client.returncode != 0 or first.strip() != "ready":
        sys.exit(f"light client failed: {err[-3000:]}")
    result = json.loads(rest.strip().splitlines()[-1])
    result["cpu_s"] = cpu
    return result


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "n/a"


def _report(db: str, stats: Path, users: int, think: tuple[float, float], cpu_s: float) -> int:
    """Print Locust's per-endpoint table; returns the acknowledged (201) order count."""
    rows = list(csv.DictReader(stats.open()))
    print(f"\n== Locust: {users} users, think time {think[0]:g}-{think[1]:g} ms between tasks, nofx serve on "
          f"{db} (1 worker) ==")
    floor = next((float(r["99%"] or 0) for r in rows if r["Name"].startswith("GET /healthz")), 0.0)
    print(f"{'endpoint':<24}{'requests':>9}{'req/s':>9}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'errors':>8}"
          f"{'p99/floor':>10}  p99 goal < {GOAL_P99_MS:.0f} ms")
    orders_ok, ok_rate, total = 0, 0.0, 0
    for r in rows:
        name = (r["Name"] if r["Name"] != "Aggregated" else "ALL")[:23]
        n, fails = int(r["Request Count"]), int(r["Failure Count"])
        p99 = float(r["99%"] or 0)
        print(f"{name:<24}{n:>9}{float(r['Requests/s']):>9.1f}{float(r['50%'] or 0):>8.0f}{float(r['95%'] or 0):>8.0f}"
              f"{p99:>8.0f}{fails:>8}{(p99 / floor if floor else 0):>9.1f}x  {'met' if p99 < GOAL_P99_MS else 'NOT met'}")
        if name == "POST /orders":
            orders_ok, ok_rate = n - fails, float(r["Requests/s"]) * (n - fails) / max(n, 1)
        if name == "ALL":
            total = n
    line(f"[{db}] server CPU per request under Locust (its logins included)",
         f"{cpu_s * 1000 / max(1, total):.2f} ms")
    line(f"[{db}] durable order submissions/s under Locust (goal >= {GOAL_ORDERS_PER_S:.0f})",
         f"{ok_rate:,.0f}  (ratio to goal {ok_rate / GOAL_ORDERS_PER_S:.2f}x)")
    return orders_ok


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--users", type=int, default=100)
    p.add_argument("--seconds", type=int, default=20)
    p.add_argument("--db", default="sqlite,postgres")
    p.add_argument("--think-ms", default="0-10", help="Locust wait between a user's tasks, MIN-MAX ms")
    p.add_argument("--skip-locust", action="store_true", help="only the light client (quicker, for profiling)")
    args = p.parse_args(argv)
    lo, _, hi = args.think_ms.partition("-")
    think = (float(lo), float(hi or lo))
    for db in args.db.split(","):
        run_one(db.strip(), args.users, args.seconds, think, args.skip_locust)
    return 0


if __name__ == "__main__":
    sys.exit(main())
