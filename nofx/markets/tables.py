"""Effective-dated rule tables: rows keyed by e.g. ``(board, is_st)`` that hold between ``valid_from``
and ``valid_to`` (both inclusive; a blank ``valid_to`` means "still in force", a blank ``valid_from``
"since forever"). Rules live in CSV files under ``nofx/markets/tables/`` so a rule change is a new
row, not a code change, and a 2019 backtest reads 2019's row.

CSV conventions: the first non-comment line is the header; lines starting with ``#`` are comments
(kept out of the data but counted, so error messages give the real line number of the file); a
``note`` column, if present, is free text. Every other column is either a key column or a value
column parsed by the table's schema. A bad value, a duplicate or overlapping date range, or a missing
column raises :class:`ConfigError` naming the file and line.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from nofx.domain.errors import ConfigError
from nofx.markets.memo import DayMemo

# Open-ended bounds. ``date.max`` is fine for comparisons and never needs to be printed.
OPEN_START = date.min
OPEN_END = date.max

Parser = Callable[[str], Any]


class RuleNotFoundError(ConfigError):
    """No row of a rule table covers the requested key and date."""

    code = "MARKET_RULE_NOT_FOUND"


# --- value parsers (each raises ValueError with a short reason) --------------------------------------
def parse_decimal(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not a decimal number: {text!r}") from None
    if not value.is_finite():
        raise ValueError(f"not a finite number: {text!r}")
    return value


def parse_nonneg_decimal(text: str) -> Decimal:
    value = parse_decimal(text)
    if value < 0:
        raise ValueError(f"must not be negative: {text!r}")
    return value


def parse_optional_decimal(text: str) -> Decimal | None:
    return None if text == "" else parse_decimal(text)


def parse_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"not an integer: {text!r}") from None


def parse_positive_int(text: str) -> int:
    value = parse_int(text)
    if value <= 0:
        raise ValueError(f"must be a positive integer: {text!r}")
    return value


def parse_nonneg_int(text: str) -> int:
    value = parse_int(text)
    if value < 0:
        raise ValueError(f"must not be negative: {text!r}")
    return value


def parse_flag(text: str) -> bool:
    if text in ("1", "true", "True", "yes"):
        return True
    if text in ("0", "false", "False", "no"):
        return False
    raise ValueError(f"not a flag (0/1): {text!r}")


def one_of(*choices: str) -> Parser:
    def parse(text: str) -> str:
        if text not in choices:
            raise ValueError(f"{text!r} is not one of {', '.join(choices)}")
        return text

    return parse


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an ISO date (YYYY-MM-DD): {text!r}") from None


# --- rows and tables ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TableRow:
    key: tuple[Any, ...]
    valid_from: date
    valid_to: date  # inclusive; OPEN_END when still in force
    values: Mapping[str, Any]
    line: int  # line in the source file, for messages
    note: str = ""

    def covers(self, on: date) -> bool:
        return self.valid_from <= on <= self.valid_to

    def __getitem__(self, column: str) -> Any:
        return self.values[column]


def _fmt_key(columns: Sequence[str], key: tuple[Any, ...]) -> str:
    return ", ".join(f"{c}={k}" for c, k in zip(columns, key))


class EffectiveDatedTable:
    """Immutable rows plus per-(key, date) lookup caches. Rows of one key must not overlap in time.

    ``find`` returns ``None`` when nothing covers the date (membership tables: "is it marginable?");
    ``lookup`` raises :class:`RuleNotFoundError` saying which file to extend (rule tables).
    """

    def __init__(
        self,
        name: str,
        key_columns: Sequence[str],
        rows: Iterable[TableRow],
        source: str = "<memory>",
    ) -> None:
        self.name = name
        self.key_columns = tuple(key_columns)
        self.source = source
        by_key: dict[tuple[Any, ...], list[TableRow]] = {}
        for row in rows:
            if len(row.key) != len(self.key_columns):
                raise ConfigError("row key has the wrong number of columns", file=source, line=row.line)
            by_key.setdefault(row.key, []).append(row)
        for key, group in by_key.items():
            group.sort(key=lambda r: r.valid_from)
            for prev, nxt in zip(group, group[1:]):
                if nxt.valid_from <= prev.valid_to:
                    raise ConfigError(
                        f"rows overlap in time for {_fmt_key(self.key_columns, key)} "
                        f"(line {prev.line} runs to {prev.valid_to}, line {nxt.line} starts {nxt.valid_from})",
                        file=source, line=nxt.line,
                    )
        self._by_key: dict[tuple[Any, ...], tuple[TableRow, ...]] = {k: tuple(v) for k, v in by_key.items()}
        # Per-instance memos: fees and quantity checks run on every order, and the answer for a
        # (key, date) never changes because the rows are immutable. Kept for the last few days only,
        # so a long run's memory does not grow with its length (issue 9).
        self._find_cached: DayMemo[TableRow | None] = DayMemo(self._find_uncached)
        self._rows_on_cached: DayMemo[tuple[TableRow, ...]] = DayMemo(self._rows_on_uncached)

    # -- queries ----------------------------------------------------------------------------------
    def __len__(self) -> int:
        return sum(len(v) for v in self._by_key.values())

    def keys(self) -> list[tuple[Any, ...]]:
        return list(self._by_key)

    def rows(self, *key: Any) -> tuple[TableRow, ...]:
        """All rows of ``key`` in date order (empty if the key is unknown)."""
        return self._by_key.get(tuple(key), ())

    def find(self, *key: Any, on: date) -> TableRow | None:
        return self._find_cached((key,), on)

    def lookup(self, *key: Any, on: date) -> TableRow:
        row = self._find_cached((key,), on)
        if row is None:
            raise RuleNotFoundError(
                f"no row of the {self.name} table covers {_fmt_key(self.key_columns, tuple(key))} on {on}; "
                f"add a row to the table file",
                file=self.source, on=on.isoformat(),
            )
        return row

    def rows_on(self, on: date) -> tuple[TableRow, ...]:
        """Every row (of any key) in force on ``on``."""
        return self._rows_on_cached((), on)

    def row_index(self, *key: Any, dates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Vectorised :meth:`find` for ``key`` over ``dates`` (datetime64[D]): returns ``(index, covered)``
        where ``index`` indexes :meth:`rows` and ``covered`` says whether a row applies (where it does
        not, ``index`` is 0 and meaningless). Callers raise for uncovered dates via :meth:`lookup`."""
        rows = self.rows(*key)
        if not rows:
            return np.zeros(len(dates), dtype=np.int64), np.zeros(len(dates), dtype=bool)
        starts = np.array([_to_d64(r.valid_from) for r in rows], dtype="datetime64[D]")
        ends = np.array([_to_d64(r.valid_to) for r in rows], dtype="datetime64[D]")
        idx = np.searchsorted(starts, dates, side="right") - 1
        ok = idx >= 0
        safe = np.where(ok, idx, 0)
        ok &= dates <= ends[safe]
        return safe, ok

    # -- internals --------------------------------------------------------------------------------
    def _find_uncached(self, key: tuple[Any, ...], on: date) -> TableRow | None:
        for row in self._by_key.get(key, ()):
            if row.valid_from > on:
                break
            if on <= row.valid_to:
                return row
        return None

    def _rows_on_uncached(self, on: date) -> tuple[TableRow, ...]:
        return tuple(r for group in self._by_key.values() for r in group if r.covers(on))


def _to_d64(d: date) -> np.datetime64:
    # numpy's datetime64[D] spans far wider than date.min..date.max, so open bounds convert exactly.
    return np.datetime64(d.isoformat(), "D")


class ChainedTables:
    """Several tables asked in order: the first that has a row for the key and date answers.
    User tables come first so they can override or extend the bundled defaults."""

    def __init__(self, tables: Sequence[EffectiveDatedTable]) -> None:
        # an empty chain is allowed: it answers None for every key (e.g. no marginable securities)
        self.tables = tuple(tables)
        self._find_cached: DayMemo[TableRow | None] = DayMemo(self._find_uncached)

    @property
    def sources(self) -> list[str]:
        return [t.source for t in self.tables]

    def find(self, *key: Any, on: date) -> TableRow | None:
        return self._find_cached((key,), on)

    def _find_uncached(self, key: tuple[Any, ...], on: date) -> TableRow | None:
        for table in self.tables:
            row = table.find(*key, on=on)
            if row is not None:
                return row
        return None


# --- loading -----------------------------------------------------------------------------------------
def load_table(
    path: str | Path,
    *,
    name: str,
    key_columns: Mapping[str, Parser],
    value_columns: Mapping[str, Parser],
    require_valid_from: bool = True,
) -> EffectiveDatedTable:
    """Read one CSV rule table, validating every cell. ``key_columns``/``value_columns`` map a column
    name to a parser; a parser's ``ValueError`` becomes a :class:`ConfigError` with file, line, column."""
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read rule table: {exc.strerror or exc}", file=source) from exc
    return parse_table(text, source=source, name=name, key_columns=key_columns, value_columns=value_columns,
                       require_valid_from=require_valid_from)


def parse_table(
    text: str,
    *,
    source: str,
    name: str,
    key_columns: Mapping[str, Parser],
    value_columns: Mapping[str, Parser],
    require_valid_from: bool = True,
) -> EffectiveDatedTable:
    numbered = [(n, line) for n, line in enumerate(text.splitlines(), start=1)
                if line.strip() and not line.lstrip().startswith("#")]
    if not numbered:
        raise ConfigError("rule table has no header line", file=source)
    header_line, header_text = numbered[0]
    header = [h.strip() for h in next(csv.reader([header_text]))]
    needed = [*key_columns, "valid_from", "valid_to", *value_columns]
    missing = [c for c in needed if c not in header]
    if missing:
        raise ConfigError(f"rule table lacks column(s) {', '.join(missing)}", file=source, line=header_line)
    allowed = set(needed) | {"note"}
    unknown = [c for c in header if c not in allowed]
    if unknown:
        raise ConfigError(f"rule table has unknown column(s) {', '.join(unknown)}", file=source, line=header_line)

    rows: list[TableRow] = []
    for line_no, line in numbered[1:]:
        cells = [c.strip() for c in next(csv.reader([line]))]
        if len(cells) != len(header):
            raise ConfigError(f"expected {len(header)} cells, found {len(cells)}", file=source, line=line_no)
        record = dict(zip(header, cells))

        def cell(column: str, parser: Parser, _record: dict[str, str] = record, _line: int = line_no) -> Any:
            try:
                return parser(_record[column])
            except ValueError as exc:
                raise ConfigError(f"bad value: {exc}", file=source, line=_line, column=column) from None

        key = tuple(cell(c, p) for c, p in key_columns.items())
        if record["valid_from"] == "":
            if require_valid_from:
                raise ConfigError("valid_from is required", file=source, line=line_no, column="valid_from")
            valid_from = OPEN_START
        else:
            valid_from = cell("valid_from", parse_date)
        valid_to = OPEN_END if record["valid_to"] == "" else cell("valid_to", parse_date)
        if valid_to < valid_from:
            raise ConfigError("valid_to is before valid_from", file=source, line=line_no, column="valid_to")
        values = {c: cell(c, p) for c, p in value_columns.items()}
        rows.append(TableRow(key, valid_from, valid_to, values, line_no, record.get("note", "")))
    return EffectiveDatedTable(name, list(key_columns), rows, source)


def bundled_table_path(filename: str) -> Path:
    """Path of a table shipped in ``nofx/markets/tables/``."""
    return Path(str(resources.files("nofx.markets").joinpath("tables", filename)))
