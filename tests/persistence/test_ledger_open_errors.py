"""A ledger database that cannot be used is one clear line (exit 2) naming it, on every command that opens
one, before any bar is read; and the store keeps the same limits on every backend."""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from nofx.engine.store import TraderRecord
from nofx.persistence import SqlLedgerStore
from nofx.persistence.errors import InvalidTraderIdError
from nofx.persistence.schema import ID

PAPER = ("paper", "-s", "dual_ma", "--symbols", "600519.SH", "--start", "2020-01-01", "--end", "2020-01-31",
         "--no-progress")
READERS = (("orders",), ("positions",), ("trades",), ("ledger", "check"))


@pytest.fixture
def real_ledger(nofx_cli, tmp_path) -> Path:
    db = tmp_path / "ledger.db"
    assert nofx_cli(*PAPER, "--db", str(db)).code == 0
    return db


def test_db_that_is_not_a_url_creates_no_file(nofx_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for args in (PAPER, *READERS):
        line = nofx_cli(*args, "--db", "notaurl").error_line()
        assert "LEDGER_BAD_URL" in line and "notaurl" in line
    assert list(tmp_path.iterdir()) == []


def test_sqlite_file_in_a_missing_folder(nofx_cli, tmp_path):
    missing = tmp_path / "no" / "such"
    line = nofx_cli(*PAPER, "--db", str(missing / "l.db")).error_line()
    assert "folder" in line and "does not exist" in line and str(missing) in line
    assert not (tmp_path / "no").exists()


def test_unreachable_postgres_is_named_without_its_password(nofx_cli):
    url = "postgresql+psycopg://postgres:s3cret@127.0.0.1:1/ledger"  # nothing listens on port 1
    for args in (PAPER, ("orders",)):
        line = nofx_cli(*args, "--db", url).error_line()
        assert "LEDGER_DB_UNAVAILABLE" in line and "127.0.0.1:1/ledger" in line and "s3cret" not in line


def test_a_file_that_is_not_a_sqlite_database(nofx_cli, tmp_path):
    bad = tmp_path / "notes.db"
    bad.write_text("these are my notes, not a ledger\n")
    for args in (PAPER, *READERS):
        line = nofx_cli(*args, "--db", str(bad)).error_line()
        assert "not a SQLite database" in line and str(bad) in line
    assert bad.read_text() == "these are my notes, not a ledger\n"  # left as it was


def test_a_truncated_ledger(nofx_cli, real_ledger):
    size = real_ledger.stat().st_size
    with open(real_ledger, "r+b") as f:
        f.truncate(size // 3)
    for args in (*READERS, (*PAPER, "--trader", "other")):
        line = nofx_cli(*args, "--db", str(real_ledger)).error_line()
        assert "LEDGER_DB_UNAVAILABLE" in line and str(real_ledger) in line


def _can_mount_read_only() -> bool:
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-m", "sh", "-c", "mount --bind -o ro / / 2>/dev/null"]).returncode == 0


@pytest.mark.skipif(not _can_mount_read_only(), reason="needs `unshare -m` to mount a read-only folder")
def test_a_ledger_on_a_read_only_filesystem(real_ledger):
    folder = real_ledger.parent
    for args in (("orders",), (*PAPER, "--resume")):
        cmd = " ".join(["mount --bind -o ro", str(folder), str(folder), "&&", "exec", sys.executable, "-m",
                        "nofx.cli.main", *args, "--db", str(real_ledger)])
        r = subprocess.run(["unshare", "-m", "sh", "-c", cmd], capture_output=True, text=True, timeout=300)
        lines = [x for x in r.stderr.splitlines() if x.strip()]
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
        assert len(lines) == 1 and "read-only" in lines[0] and str(folder) in lines[0]


def _trader(tid: str) -> TraderRecord:
    return TraderRecord(tid, Decimal("1000000"), "cn", "{}", datetime(2024, 1, 2))


def test_trader_id_limits_are_the_same_on_every_backend(db_url):
    store = SqlLedgerStore(db_url)
    try:
        longest = uuid.uuid4().hex * 2  # the longest id: fits everywhere
        assert len(longest) == ID
        store.create_trader(_trader(longest))
        assert store.get_trader(longest) is not None
        for bad in ("t" * (ID + 1), "", " padded", "new\nline"):
            with pytest.raises(InvalidTraderIdError):
                store.create_trader(_trader(bad))
            assert store.get_trader(bad) is None
    finally:
        store.close()


@pytest.mark.skipif(not _can_mount_read_only(), reason="needs `unshare -m` to mount a small tmpfs")
@pytest.mark.parametrize("size", ["96k", pytest.param("600k", marks=pytest.mark.slow)])  # full at open / mid-run
def test_a_full_disk(tmp_path, size):
    folder = tmp_path / "small"
    folder.mkdir()
    args = ["paper", "-s", "dual_ma", "--symbols", "600519.SH,000001.SZ", "--start", "2019-01-01", "--end",
            "2021-12-31", "--no-progress", "--db", str(folder / "l.db")]
    cmd = " ".join(["mount -t tmpfs -o size=" + size, "tmpfs", str(folder), "&&", "exec", sys.executable, "-m",
                    "nofx.cli.main", *args])
    r = subprocess.run(["unshare", "-m", "sh", "-c", cmd], capture_output=True, text=True, timeout=300)
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert len(lines) == 1 and "disk is full" in lines[0]
