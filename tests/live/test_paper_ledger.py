"""Paper runs on real data: the ledger check has no false alarms after bonus shares, and a run stopped
and resumed stores exactly the values of an uninterrupted run (every column of every table)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from nofx.cli.paper import app
from nofx.persistence.ledger_check import check_ledger
from nofx.persistence.store import SqlLedgerStore
from tests.live.ledger_tables import first_difference, stored_tables

runner = CliRunner()


def _paper(db: str, *args: str) -> str:
    r = runner.invoke(app, ["--db", db, "--trader", "t", "--no-progress", *args])
    assert r.exit_code == 0, r.output
    return r.output


@pytest.mark.parametrize("symbol", ["002475.SZ", "300059.SZ", "600276.SH"])
def test_ledger_check_is_clean_after_bonus_shares(tmp_path: Path, cn_daily_path: Path, symbol: str) -> None:
    """dual_ma holds through several bonus issues (10-for-3, 10-for-5, 10-for-4 ...): the engine never
    sold shares it could not, so the checker must not report a T+1 breach (it reported 19, 7 and 10)."""
    db = f"sqlite:///{tmp_path / 'l.db'}"
    _paper(db, "--strategy", "dual_ma", "--symbols", symbol, "--data", str(cn_daily_path))
    with SqlLedgerStore(db) as store:
        assert [str(v) for v in check_ledger(store, "t")] == []
        assert any(e.kind == "corporate_action" and e.split_ratio != 1 for e in store.events("t"))


@pytest.mark.parametrize(("args", "stops"), [
    # 002475.SZ: 100 shares bought 2018-07-13 become 130 on 2018-07-17 (10-for-3 bonus), so the average
    # cost is 23.86 / 1.3; stopped on slice 375 and resumed, the 130 are sold on 2018-07-20
    (["--strategy", "dual_ma", "--symbols", "002475.SZ"], [376]),
    # 600276.SH 10-for-3 on 2018-05-30 (slice 341), 300059.SZ 10-for-2 on 2020-05-21 (slice 821): each
    # stopped on the ex-date with the bonus shares held, sold after the resume
    (["--strategy", "dual_ma", "--symbols", "300059.SZ,600276.SH"], [342, 822]),
    # issue 9's own example: 600300.SH, where a resumed run stored realised_pnl -21,483.000000012800 for
    # -21,483.000000000000. Half the equity per buy holds ~87,500 shares through the 0.02 dividend of
    # 2017-06-16 (slice 108): the average cost no longer terminates, and the realised PnL carries it.
    # Stopped on each ex-date (2018-07-04, 2021-06-08 too). With averages not kept at the stored 12
    # places, the resumed run stored -198,086.999999938800 for -198,087.000000000000 (seen; 5 runs: slow)
    pytest.param(["--strategy", "dual_ma", "--symbols", "600300.SH", "--params", "target_percent=0.5"],
                 [109, 366, 1077], marks=pytest.mark.slow, id="600300.SH"),
])
def test_resumed_run_stores_exactly_the_uninterrupted_values(tmp_path: Path, cn_daily_path: Path,
                                                            args: list[str], stops: list[int]) -> None:
    args = [*args, "--data", str(cn_daily_path)]
    ref = f"sqlite:///{tmp_path / 'ref.db'}"
    _paper(ref, *args)
    db = f"sqlite:///{tmp_path / 'stopped.db'}"
    done = 0
    for k, stop in enumerate(stops):
        _paper(db, *(args if k == 0 else ["--resume"]), "--stop-after", str(stop - done))
        done = stop
    _paper(db, "--resume")
    diff = first_difference(stored_tables(db), stored_tables(ref))
    assert diff is None, diff


def test_resume_of_a_run_that_never_committed_starts_it(tmp_path: Path, cn_daily_path: Path) -> None:
    """A supervisor restarts with one command. Killed before its trader was committed, the ledger has the
    schema but no trader: ``--resume`` with the run's options starts the run; the same command again
    resumes it."""
    db = f"sqlite:///{tmp_path / 'l.db'}"
    SqlLedgerStore(db).close()  # migrated, empty: what a run killed during start-up leaves
    cmd = ["--resume", "--strategy", "dual_ma", "--symbols", "002475.SZ", "--data", str(cn_daily_path)]
    assert "started t: slices 0..99" in " ".join(_paper(db, *cmd, "--stop-after", "100").split())
    assert "resumed t: slices 100..1216" in " ".join(_paper(db, *cmd).split())
    r = runner.invoke(app, ["--db", db, "--trader", "other", "--resume"])  # nothing to start it from
    assert r.exit_code != 0 and "no such trader in the ledger" in str(r.exception)
