"""``nofx data``: look at a bars file (``info``) and list its bad rows (``check``).

Bad input raises :class:`nofx.domain.errors.NofxError`; the main CLI turns that into one line and exit 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from nofx.cli.bars_options import DATE_FORMAT_HELP, DROP_BAD_ROWS_HELP, report_dropped
from nofx.cli.terminal import output_console

app = typer.Typer(help="Inspect and validate bars files (Parquet or CSV).", no_args_is_help=True)


def _day(ts) -> str:
    """A date when the bar is daily (00:00), the full timestamp otherwise."""
    return str(ts.date()) if ts == ts.normalize() else str(ts)


@app.command()
def info(
    file: Path = typer.Argument(..., help="bars file (.parquet or .csv)"),
    symbol: Optional[list[str]] = typer.Option(None, "--symbol", "-s", help="only this symbol (repeatable)"),
    start: Optional[str] = typer.Option(None, help="first date/time to include"),
    end: Optional[str] = typer.Option(None, help="last date/time to include"),
    date_format: Optional[str] = typer.Option(None, "--date-format", help=DATE_FORMAT_HELP),
    drop_bad_rows: bool = typer.Option(False, "--drop-bad-rows", help=DROP_BAD_ROWS_HELP),
) -> None:
    """Summary of a bars file: span, symbols, suspended/ST days, missing trading days per symbol."""
    from nofx.data.bars import TIME_COLUMN_ATTR, read_bars
    from nofx.data.describe import describe_bars

    df = read_bars(file, symbols=symbol or None, start=start, end=end, date_format=date_format,
                   drop_bad_rows=drop_bad_rows)
    report_dropped(df)
    summary = describe_bars(df)
    console = output_console(markup=False)  # file names and symbols are printed as is

    head = Table(title=f"{file}", show_header=False)
    head.add_column("what", style="bold")
    head.add_column("value")
    head.add_row("rows", f"{summary.rows:,}")
    head.add_row("symbols", str(summary.n_symbols))
    head.add_row("span", f"{_day(summary.start)} .. {_day(summary.end)}")
    head.add_row("bars", "intraday" if summary.intraday else "daily")
    head.add_row("suspended days", f"{summary.suspended_days:,}")
    head.add_row("ST days", f"{summary.st_days:,}")
    head.add_row("missing trading days", f"{summary.missing_days:,} (vs {summary.calendar})")
    time_column = df.attrs.get(TIME_COLUMN_ATTR, "datetime")  # named as in the file, not as read
    head.add_row("columns", ", ".join(time_column if c == "datetime" else str(c) for c in df.columns))
    console.print(head)

    table = Table(title="per symbol")
    for name, justify in (("symbol", "left"), ("rows", "right"), ("first", "left"), ("last", "left"),
                          ("susp", "right"), ("ST", "right"), ("gaps", "right"), ("first gap", "left")):
        table.add_column(name, justify=justify, no_wrap=True)
    table.caption = "susp: suspended days; gaps: trading days with no bar between first and last"
    for s in summary.symbols:
        table.add_row(
            s.symbol, f"{s.rows:,}", _day(s.first), _day(s.last), str(s.suspended_days), str(s.st_days),
            str(len(s.missing_days)), _day(s.missing_days[0]) if s.missing_days else "",
        )
    console.print(table)


@app.command()
def check(
    file: Path = typer.Argument(..., help="bars file (.parquet or .csv)"),
    date_format: Optional[str] = typer.Option(None, "--date-format", help=DATE_FORMAT_HELP),
) -> None:
    """List every bad row (location, symbol, time, problem); exit 1 if there is any. Every command that
    reads bars runs these same checks and refuses a file with bad rows (unless --drop-bad-rows)."""
    from nofx.data.bars import SOURCE_ATTR, read_bars
    from nofx.data.checks import check_bars

    df = read_bars(file, validate=False, date_format=date_format)
    issues = check_bars(df)
    console = output_console(highlight=False, soft_wrap=True)  # one line per bad row, greppable
    for issue in issues:
        console.print(f"{df.attrs.get(SOURCE_ATTR)} {issue.line(df.attrs)}", markup=False)
    if issues:
        rows = len({i.row for i in issues})
        console.print(f"{len(issues)} problem(s) on {rows} row(s) of {len(df):,} in {file}", markup=False)
        raise typer.Exit(code=1)
    console.print(f"OK: {len(df):,} rows, {df['symbol'].nunique()} symbols, no bad rows in {file}", markup=False)
