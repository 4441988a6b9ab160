"""Corporate actions are booked only on raw prices: hk_daily.parquet is adjusted for dividends and
splits (its README says so) and also carries ``dividends``/``splits`` columns, which must not be booked
again. A file says which it is (sidecar, Parquet metadata, or a documented default), or the user does
(``prices = "raw" | "adjusted"``); columns that the price path contradicts are refused, naming the row."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nofx.backtest.config import BacktestConfig
from nofx.backtest.runner import run_backtest
from nofx.data.bars import read_bars
from nofx.domain.errors import DataError
from nofx.domain.orders import OrderRequest
from nofx.domain.enums import Side
from tests.backtest.scripted import Scripted

D = Decimal
LOTS_9901 = "symbol,valid_from,valid_to,board_lot\n9901.HK,2020-01-01,,10\n"  # a test table (lot assumed)


def _buy_and_hold(bars, symbol, day, qty, tmp_path=None, **cfg):
    tables = {}
    if symbol == "9901.HK":
        lots = tmp_path / "lots.csv"
        lots.write_text(LOTS_9901)
        tables = {"hk_lots": str(lots)}
    config = BacktestConfig(cash=D(1_000_000), rules="hk", fill="close", rule_tables=tables, **cfg)
    return run_backtest(bars, Scripted({day: [OrderRequest(symbol, Side.BUY, qty)]}), config, symbols=[symbol])


def test_0700_holds_through_its_2023_dividend_without_phantom_cash(hk_daily_path):
    bars = read_bars(hk_daily_path, symbols=["0700.HK"], start="2023-05-01", end="2023-06-30")
    assert bars.loc[bars["datetime"] == "2023-05-19", "dividends"].item() == 2.4  # in the file
    r = _buy_and_hold(bars, "0700.HK", "2023-05-02", 2900)
    assert r.price_basis == "adjusted" and r.dividends == 0 and r.corporate_actions == []
    assert any("prices: adjusted" in m for m in r.messages)
    cash = r.equity["cash"]
    assert cash.loc["2023-05-19"] == cash.loc["2023-05-18"]  # no HKD 6,960 that was never paid
    close = bars.set_index("datetime")["close"]
    assert r.equity["equity"].iloc[-1] == pytest.approx(float(r.final_cash) + 2900 * close.iloc[-1], abs=0.01)


def test_9901_split_does_not_multiply_the_holding(hk_daily_path, tmp_path):
    bars = read_bars(hk_daily_path, symbols=["9901.HK"], start="2021-02-01", end="2021-04-30")
    r = _buy_and_hold(bars, "9901.HK", "2021-02-01", 6000, tmp_path)
    assert r.corporate_actions == [] and r.price_basis == "adjusted"
    eq = r.equity["equity"]
    before, on = eq.loc["2021-03-09"], eq.loc["2021-03-10"]
    assert 0.9 < on / before < 1.1  # 2021-03-10 closed 4% up; equity used to jump ten-fold here
    assert eq.max() < 1.5 * eq.iloc[0]


def test_raw_prices_with_a_split_the_prices_contradict_name_the_row(hk_daily_path, tmp_path):
    bars = read_bars(hk_daily_path, symbols=["9901.HK"], start="2021-02-01", end="2021-04-30")
    with pytest.raises(DataError, match=r"hk_daily.parquet row 21500 \(9901.HK 2021-03-10\): split ratio 10"):
        _buy_and_hold(bars, "9901.HK", "2021-02-01", 6000, tmp_path, prices="raw")


def test_other_hk_actions_in_the_file_are_not_booked_either(hk_daily_path):
    # 0003.HK: a 1.05 bonus issue with a dividend (2021-06-04); 0005.HK pays dividends each year
    for sym, day in [("0005.HK", "2020-01-02"), ("0941.HK", "2020-01-02")]:
        bars = read_bars(hk_daily_path, symbols=[sym], start="2020-01-01", end="2021-12-31")
        assert (bars["dividends"] > 0).any()
        r = _buy_and_hold(bars, sym, day, 2000 if sym == "0941.HK" else 800)
        assert r.dividends == 0 and r.corporate_actions == [], sym


def test_a_share_raw_prices_still_book_preclose_actions(cn_daily_path):
    bars = read_bars(cn_daily_path, symbols=["600519.SH"], start="2019-06-01", end="2019-07-31")
    r = run_backtest(bars, Scripted({"2019-06-20": [OrderRequest("600519.SH", Side.BUY, 100)]}),
                     BacktestConfig(cash=D(1_000_000), rules="cn", fill="close", investor="institution"),
                     symbols=["600519.SH"])
    assert r.price_basis == "raw" and r.dividends == D("1454.00")
    adj = run_backtest(bars, Scripted({"2019-06-20": [OrderRequest("600519.SH", Side.BUY, 100)]}),
                       BacktestConfig(cash=D(1_000_000), rules="cn", fill="close", prices="adjusted"),
                       symbols=["600519.SH"])
    assert adj.dividends == 0 and adj.price_basis == "adjusted"


def _frame_with_split(gap: bool) -> pd.DataFrame:
    closes = [10.0, 10.2, 5.1 if gap else 10.1, 5.0 if gap else 10.0]
    return pd.DataFrame({
        "symbol": ["0700.HK"] * 4, "date": pd.to_datetime(["2021-03-01", "2021-03-02", "2021-03-03", "2021-03-04"]),
        "open": closes, "high": closes, "low": closes, "close": closes, "volume": [1e6] * 4,
        "dividends": [0.0] * 4, "splits": [0.0, 0.0, 2.0, 0.0]})


def _run_file(path, **cfg):
    bars = read_bars(path)
    return run_backtest(bars, Scripted({"2021-03-01": [OrderRequest("0700.HK", Side.BUY, 100)]}),
                        BacktestConfig(cash=D(100_000), rules="hk", fill="close", **cfg), symbols=["0700.HK"])


def test_a_file_must_say_what_its_prices_are(tmp_path):
    path = tmp_path / "bars.csv"
    _frame_with_split(gap=True).to_csv(path, index=False)
    with pytest.raises(DataError, match="do not say whether prices are raw or adjusted"):
        _run_file(path)
    r = _run_file(path, prices="raw")  # the user says it
    assert [a.quantity_after for a in r.corporate_actions] == [200]
    (tmp_path / "bars.csv.meta.toml").write_text('prices = "raw"\n')  # or the file does
    r = _run_file(path)
    assert r.price_basis == "raw" and [a.quantity_after for a in r.corporate_actions] == [200]
    assert any("sidecar bars.csv.meta.toml" in m for m in r.messages)


def test_parquet_metadata_declares_adjusted_and_a_visible_gap_warns(tmp_path):
    table = pa.Table.from_pandas(_frame_with_split(gap=True), preserve_index=False)
    path = tmp_path / "bars.parquet"
    pq.write_table(table.replace_schema_metadata({**(table.schema.metadata or {}), b"nofx.prices": b"adjusted"}),
                   path)
    r = _run_file(path)
    assert r.price_basis == "adjusted" and r.corporate_actions == []
    assert any("warning:" in m and "line" not in m and "row 2 (0700.HK 2021-03-03)" in m and "look raw" in m
               for m in r.messages)


def test_large_dividend_on_raw_prices_that_rose_is_a_warning(tmp_path):
    df = _frame_with_split(gap=False)
    df["splits"] = 0.0
    df.loc[2, "dividends"] = 1.0  # 10% of the previous close, yet the price opened lower by only 1%
    df.loc[2, ["open", "high", "low", "close"]] = 10.5
    path = tmp_path / "bars.csv"
    df.to_csv(path, index=False)
    r = _run_file(path, prices="raw")
    assert any("bars.csv line 4 (0700.HK 2021-03-03): dividend 1" in m for m in r.messages)
    # booked as the user said (a warning, not a refusal); Southbound individuals have 20% withheld
    assert r.dividends + r.tax_withheld == D("100.00") and r.tax_withheld == D("20.00")
