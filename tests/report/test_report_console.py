"""Console metrics table and value formatting."""

from __future__ import annotations

import numpy as np
from rich.console import Console

from nofx.report.console import metrics_table, print_metrics
from nofx.report.format import format_metric, formatted_metrics


def test_format_metric_by_kind():
    assert format_metric("annual_return", 0.123456) == "12.35%"
    assert format_metric("max_drawdown", -0.2) == "-20.00%"
    assert format_metric("sharpe", 1.23456) == "1.23"
    assert format_metric("final_equity", 1234567.891) == "1,234,567.89"
    assert format_metric("n_trades", 12345) == "12,345"
    assert format_metric("max_drawdown_start", "2021-02-10") == "2021-02-10"
    assert format_metric("sharpe", None) == "n/a"
    assert format_metric("sharpe", float("nan")) == "n/a"
    assert format_metric("sharpe", np.float64(0.5)) == "0.50"
    assert format_metric("ic_mean", 0.0123456) == "0.01235"  # unknown key: 4 significant digits


def test_unrecovered_drawdown_reads_not_recovered_only_when_there_is_one():
    rows = dict((k, t) for k, _, t in formatted_metrics(
        {"max_drawdown_start": "2021-01-04", "max_drawdown_end": None}))
    assert rows["max_drawdown_end"] == "not recovered"
    rows = dict((k, t) for k, _, t in formatted_metrics({"max_drawdown_start": None, "max_drawdown_end": None}))
    assert rows["max_drawdown_end"] == "n/a"


def test_metrics_table_renders_labels_values_and_colours():
    metrics = {"total_return": 0.5, "max_drawdown": -0.25, "sharpe": -0.4, "n_trades": 3}
    table = metrics_table(metrics, title="Run 7")
    console = Console(record=True, width=80, color_system="truecolor")
    console.print(table)
    text = console.export_text()
    assert "Run 7" in text and "Total return" in text and "50.00%" in text and "-25.00%" in text
    assert table.row_count == 4
    cells = list(table.columns[1].cells)
    assert cells[0].style == "green" and cells[1].style == "red" and cells[2].style == "red"
    assert cells[3].style == ""


def test_print_metrics_writes_to_the_given_console():
    console = Console(record=True, width=80)
    print_metrics({"win_rate": 0.6}, console=console)
    text = console.export_text()  # exporting clears the record buffer: read it once
    assert "Win rate" in text and "60.00%" in text
