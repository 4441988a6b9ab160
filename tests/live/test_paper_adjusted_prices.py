"""Paper trading applies the same price-basis rule as the backtest: no action booked on adjusted bars."""

from __future__ import annotations

import subprocess
import sys

from nofx.persistence.ledger_check import check_ledger
from nofx.persistence.store import SqlLedgerStore


def test_paper_on_adjusted_hk_bars_books_no_dividend(tmp_path, hk_daily_path):
    db = f"sqlite:///{tmp_path / 'hk.db'}"
    args = [sys.executable, "-m", "nofx.cli.main", "paper", "--db", db, "--trader", "hk", "--strategy",
            "buy_and_hold", "--data", str(hk_daily_path), "--symbols", "0700.HK", "--start", "2023-05-01",
            "--end", "2023-06-30", "--no-progress"]
    r = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "prices: adjusted (documented default for hk_daily.parquet)" in " ".join(r.stdout.split())
    with SqlLedgerStore(db) as store:
        assert "corporate_action" not in [e.kind for e in store.events("hk")]
        fills = store.all_fills("hk")
        assert fills and store.cash("hk") == 1_000_000 - sum(f.price * f.quantity + f.fee for f in fills)
        assert check_ledger(store, "hk") == []
    raw = subprocess.run([*args[:6], "--trader", "hk-raw", *args[8:], "--prices", "raw"], capture_output=True, text=True,
                         timeout=300)
    assert raw.returncode == 0, raw.stdout + raw.stderr  # 0700.HK's 2023 dividend shows no contradiction
    with SqlLedgerStore(db) as store:
        assert "corporate_action" in [e.kind for e in store.events("hk-raw")]
