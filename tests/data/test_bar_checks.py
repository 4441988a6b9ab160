"""check_bars lists every bad row with its file location; clean real data gives no issues."""

from __future__ import annotations

import pandas as pd

from nofx.data.bars import read_bars
from nofx.data.bundled import load_bundled
from nofx.data.checks import BarIssue, IssueKind, check_bars

BAD_CSV = """symbol,date,open,high,low,close,volume,trade_status
600519.SH,2021-01-04,10,11,9,10.5,100,1
600519.SH,2021-01-04,10,11,9,10.5,100,1
600519.SH,2021-01-05,10,9.5,9,10.5,100,1
600519.SH,2021-01-06,-1,11,-2,10.5,100,1
600519.SH,2021-01-07,10,11,9,,100,1
XYZ,2021-01-07,10,11,9,10,100,1
600519.SH,2021-01-08,abc,11,9,10,100,1
600519.SH,2021-01-11,0,0,0,0,0,0
600519.SH,2021-01-12,10,11,10.5,10.2,100,1
"""


def _issues(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(BAD_CSV)
    return check_bars(read_bars(path, validate=False))


def test_every_bad_row_is_reported_with_its_kind(tmp_path):
    issues = _issues(tmp_path)
    by_row = {}
    for issue in issues:
        by_row.setdefault(issue.row, set()).add(issue.kind)
    assert by_row == {
        1: {IssueKind.DUPLICATE},
        2: {IssueKind.OHLC_INCONSISTENT},
        3: {IssueKind.NON_POSITIVE_PRICE},
        4: {IssueKind.MISSING_VALUE},
        5: {IssueKind.UNKNOWN_SYMBOL},
        6: {IssueKind.MISSING_VALUE},
        8: {IssueKind.OHLC_INCONSISTENT},  # low 10.5 above close 10.2
    }
    assert [i.row for i in issues] == sorted(i.row for i in issues)


def test_issue_fields_locate_the_row(tmp_path):
    issues = _issues(tmp_path)
    dup = next(i for i in issues if i.kind is IssueKind.DUPLICATE)
    assert isinstance(dup, BarIssue)
    assert dup.symbol == "600519.SH" and dup.datetime == pd.Timestamp("2021-01-04")
    assert "line 2" in dup.message  # points at the first copy, in CSV line numbers
    missing = next(i for i in issues if i.row == 4)
    assert "close" in missing.message
    nonpos = next(i for i in issues if i.kind is IssueKind.NON_POSITIVE_PRICE)
    assert "open=-1" in nonpos.message and "low=-2" in nonpos.message


def test_suspension_placeholders_are_not_flagged(cn_15min_path):
    # cn_15min carries all-zero prices with zero volume on suspended days (e.g. 600243.SH on 2025-04-22)
    df = read_bars(cn_15min_path, symbols=["600243.SH"], start="2025-04-22", end="2025-04-22 23:59")
    assert (df["close"] == 0).all() and (df["volume"] == 0).all()
    assert check_bars(df) == []


def test_real_bundled_slice_is_clean():
    assert check_bars(load_bundled()) == []


def test_a_broken_copy_of_real_data_is_caught():
    df = load_bundled(symbols=["000001.SZ"])
    df.loc[df.index[10], "high"] = df["low"].iloc[10] - 0.01
    df = pd.concat([df, df.iloc[[20]]])
    issues = check_bars(df)
    assert {(i.row, i.kind) for i in issues} == {
        (int(df.index[10]), IssueKind.OHLC_INCONSISTENT),
        (int(df.index[20]), IssueKind.DUPLICATE),
    }
