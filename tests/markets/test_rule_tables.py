"""The generic effective-dated table: loading with validation, lookups, chaining, vectorised lookup."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nofx.domain.errors import ConfigError
from nofx.markets.tables import (
    OPEN_END,
    ChainedTables,
    RuleNotFoundError,
    load_table,
    one_of,
    parse_decimal,
    parse_flag,
    parse_table,
)

KEYS = {"board": one_of("main", "star"), "is_st": parse_flag}
VALUES = {"pct": parse_decimal}

GOOD = """# a comment line
board,is_st,valid_from,valid_to,pct,note
main,0,2000-01-01,2020-08-23,0.10,old
# another comment between rows
main,0,2020-08-24,,0.20,new
star,1,2019-07-22,,0.20,
"""


def _table(text: str = GOOD, source: str = "limits.csv"):
    return parse_table(text, source=source, name="test limit", key_columns=KEYS, value_columns=VALUES)


def test_lookup_switches_on_the_change_date():
    t = _table()
    assert t.lookup("main", False, on=date(2020, 8, 23))["pct"] == parse_decimal("0.10")
    assert t.lookup("main", False, on=date(2020, 8, 24))["pct"] == parse_decimal("0.20")
    assert t.lookup("main", False, on=date(2099, 1, 1))["pct"] == parse_decimal("0.20")  # open-ended
    row = t.lookup("main", False, on=date(2021, 1, 1))
    assert row.valid_to == OPEN_END and row.note == "new" and row.line == 5  # real file line, comments counted


def test_lookup_error_names_table_key_and_date():
    t = _table()
    assert t.find("star", True, on=date(2019, 7, 21)) is None
    with pytest.raises(RuleNotFoundError) as exc:
        t.lookup("star", True, on=date(2019, 7, 21))
    text = str(exc.value)
    assert "board=star" in text and "2019-07-21" in text and "limits.csv" in text
    assert exc.value.code == "MARKET_RULE_NOT_FOUND" and isinstance(exc.value, ConfigError)


@pytest.mark.parametrize(
    ("bad_line", "column"),
    [
        ("main,0,2021-01-01,,ten,", "pct"),
        ("main,0,2021-13-01,,0.1,", "valid_from"),
        ("main,maybe,2021-01-01,,0.1,", "is_st"),
        ("gem,0,2021-01-01,,0.1,", "board"),
        ("main,0,2021-01-01,2020-01-01,0.1,", "valid_to"),
    ],
)
def test_bad_cell_raises_config_error_with_file_line_and_column(bad_line, column):
    text = "board,is_st,valid_from,valid_to,pct,note\nmain,1,2000-01-01,,0.05,\n" + bad_line + "\n"
    with pytest.raises(ConfigError) as exc:
        _table(text, source="bad.csv")
    assert exc.value.context["file"] == "bad.csv"
    assert exc.value.context["line"] == 3
    assert exc.value.context["column"] == column


def test_overlapping_rows_are_rejected_with_both_lines():
    text = "board,is_st,valid_from,valid_to,pct,note\nmain,0,2000-01-01,2020-12-31,0.1,\nmain,0,2020-06-01,,0.2,\n"
    with pytest.raises(ConfigError, match="overlap") as exc:
        _table(text)
    assert exc.value.context["line"] == 3 and "line 2" in exc.value.message


def test_structural_errors():
    with pytest.raises(ConfigError, match="lacks column"):
        _table("board,valid_from,valid_to,pct\nmain,2000-01-01,,0.1\n")
    with pytest.raises(ConfigError, match="unknown column"):
        _table("board,is_st,valid_from,valid_to,pct,colour\nmain,0,2000-01-01,,0.1,red\n")
    with pytest.raises(ConfigError, match="expected 6 cells") as exc:
        _table("board,is_st,valid_from,valid_to,pct,note\nmain,0,2000-01-01,,0.1\n")
    assert exc.value.context["line"] == 2
    with pytest.raises(ConfigError, match="valid_from is required"):
        _table("board,is_st,valid_from,valid_to,pct,note\nmain,0,,,0.1,\n")


def test_load_table_reads_files_and_reports_missing(tmp_path: Path):
    path = tmp_path / "t.csv"
    path.write_text(GOOD, encoding="utf-8")
    t = load_table(path, name="x", key_columns=KEYS, value_columns=VALUES)
    assert len(t) == 3 and t.source == str(path)
    with pytest.raises(ConfigError, match="cannot read") as exc:
        load_table(tmp_path / "missing.csv", name="x", key_columns=KEYS, value_columns=VALUES)
    assert "missing.csv" in exc.value.context["file"]


def test_blank_valid_from_allowed_when_optional():
    t = parse_table("sym,valid_from,valid_to,lot\nA,,,100\n", source="s", name="lots",
                    key_columns={"sym": str}, value_columns={"lot": int}, require_valid_from=False)
    assert t.lookup("A", on=date(1900, 1, 1))["lot"] == 100


def test_chained_tables_prefer_the_first_table():
    user = parse_table("board,is_st,valid_from,valid_to,pct\nmain,0,2021-01-01,2021-12-31,0.5\n", source="user.csv",
                       name="u", key_columns=KEYS, value_columns=VALUES)
    chain = ChainedTables([user, _table()])
    assert chain.find("main", False, on=date(2021, 6, 1))["pct"] == parse_decimal("0.5")
    assert chain.find("main", False, on=date(2022, 6, 1))["pct"] == parse_decimal("0.20")  # falls through
    assert chain.find("star", False, on=date(2022, 6, 1)) is None
    assert chain.sources == ["user.csv", "limits.csv"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.dates(date(1999, 1, 1), date(2030, 12, 31)), min_size=1, max_size=40))
def test_row_index_agrees_with_find(days):
    t = _table()
    arr = np.array(days, dtype="datetime64[D]")
    idx, ok = t.row_index("main", False, dates=arr)
    rows = t.rows("main", False)
    for k, d in enumerate(days):
        row = t.find("main", False, on=d)
        assert ok[k] == (row is not None)
        if row is not None:
            assert rows[idx[k]] is row


def test_rows_on_lists_every_key_in_force():
    t = _table()
    assert {r.key for r in t.rows_on(date(2019, 7, 22))} == {("main", False), ("star", True)}
    assert {r.key for r in t.rows_on(date(2019, 7, 22) - timedelta(days=1))} == {("main", False)}
