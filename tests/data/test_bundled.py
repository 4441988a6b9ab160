"""The bundled demo slice: present, small, covering the cases it promises, and reproducible."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from nofx.data.bars import read_bars
from nofx.data.bundled import bundled_bars_path, load_bundled
from nofx.domain.instruments import Board, parse_symbol

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bundled() -> pd.DataFrame:
    return load_bundled()


def test_file_is_shipped_and_small():
    path = bundled_bars_path()
    assert path.is_file() and path.suffix == ".parquet"
    assert path.stat().st_size < 2_000_000
    assert (path.parent / "README.md").read_text().count("survivor") >= 1


def test_symbols_and_span(bundled):
    symbols = set(bundled["symbol"])
    assert 30 <= len(symbols) <= 40
    assert {"600519.SH", "000001.SZ", "300750.SZ", "000300.SH"} <= symbols
    boards = {parse_symbol(s).board for s in symbols}
    assert {Board.SSE_MAIN, Board.SZSE_MAIN, Board.CHINEXT, Board.STAR, Board.INDEX} <= boards
    assert bundled["datetime"].min() == pd.Timestamp("2019-01-02")
    assert bundled["datetime"].max() == pd.Timestamp("2021-12-31")
    readme = (bundled_bars_path().parent / "README.md").read_text()
    assert all(s in readme for s in symbols)  # every symbol is documented


def test_known_closes(bundled):
    day = bundled[bundled["datetime"] == pd.Timestamp("2021-02-10")].set_index("symbol")["close"]
    assert day["000300.SH"] == pytest.approx(5807.72)
    assert day["600519.SH"] == pytest.approx(2601.00)


def test_promised_cases_are_present(bundled):
    board = bundled["symbol"].map(lambda s: parse_symbol(s).board)
    move = (bundled["close"] / bundled["preclose"] - 1).abs()
    chinext_20 = (board == Board.CHINEXT) & (bundled["datetime"] >= "2020-08-24") & (move > 0.15)
    assert chinext_20.any()
    assert (bundled["trade_status"] == 0).any()
    assert (bundled["is_st"] == 1).any()
    assert (board == Board.STAR).any()


def test_load_bundled_filters(bundled):
    sub = load_bundled(symbols=["600519.SH"], start="2021-01-01")
    assert set(sub["symbol"]) == {"600519.SH"} and sub["datetime"].min() >= pd.Timestamp("2021-01-01")
    pd.testing.assert_frame_equal(read_bars(bundled_bars_path()), bundled)


def test_regenerating_from_shared_data_gives_the_same_table(cn_daily_path, tmp_path):
    spec = importlib.util.spec_from_file_location("make_bundled_slice", REPO / "scripts" / "make_bundled_slice.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = module.make_slice(cn_daily_path, tmp_path / "slice.parquet")
    assert out.equals(pq.read_table(bundled_bars_path()))
