"""Shared fixtures. Real data comes from ../shared/data through ``shared_data``, which skips cleanly
with a message when that folder is absent; the bundled slice (nofx/data/bundled) always exists."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("NOFX_SHARED_DATA", REPO.parent / "shared" / "data"))


def shared_data_file(name: str) -> Path:
    """Path of a file in ../shared/data, or skip the calling test with a clear message."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"shared data file {path} not present (set NOFX_SHARED_DATA to its folder)")
    return path


@pytest.fixture(scope="session")
def cn_daily_path() -> Path:
    return shared_data_file("cn_daily.parquet")


@pytest.fixture(scope="session")
def hk_daily_path() -> Path:
    return shared_data_file("hk_daily.parquet")


@pytest.fixture(scope="session")
def cn_15min_path() -> Path:
    return shared_data_file("cn_15min.parquet")


class CliResult:
    """Exit code and captured output of one ``nofx`` command line run through the real entry point."""

    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def error_line(self) -> str:
        """The promise for bad input: exit code 2, no traceback, exactly one line on stderr."""
        assert self.code == 2, f"exit {self.code}\nstdout: {self.out}\nstderr: {self.err}"
        assert "Traceback" not in self.err + self.out, self.err
        lines = [x for x in self.err.splitlines() if x.strip()]
        assert len(lines) == 1 and lines[0].startswith("error "), self.err
        return lines[0]


@pytest.fixture
def nofx_cli(capsys):  # type: ignore[no-untyped-def]
    """``nofx_cli("backtest", "--cash", "1e26")``: run ``nofx.cli.main.main`` (the console script) in this
    process, as a shell would, and return a :class:`CliResult`."""
    from nofx.cli.main import main

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out, err = capsys.readouterr()
        return CliResult(code, out, err)

    return run
