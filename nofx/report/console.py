"""Metrics as a rich table for the terminal (used by the CLI)."""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Real

from rich.console import Console
from rich.table import Table
from rich.text import Text

from nofx.report.format import SIGNED_KEYS, formatted_metrics


def metrics_table(metrics: Mapping[str, object], title: str = "Backtest metrics", lang: str = "en") -> Table:
    """Two columns (metric, value), values right-aligned and formatted (percentages, ratios, money);
    signed performance figures are green when positive and red when negative."""
    table = Table(title=title, show_header=True, header_style="bold")
    table.add_column("Metric" if lang == "en" else "指标")
    table.add_column("Value" if lang == "en" else "数值", justify="right")
    for key, label, text in formatted_metrics(metrics, lang):
        value = metrics[key]
        style = None
        if key in SIGNED_KEYS and isinstance(value, Real) and value:
            style = "green" if value > 0 else "red"
        elif key == "max_drawdown" and isinstance(value, Real) and value < 0:
            style = "red"
        table.add_row(label, Text(text, style=style or ""))
    return table


def print_metrics(
    metrics: Mapping[str, object], title: str = "Backtest metrics", console: Console | None = None,
    lang: str = "en",
) -> None:
    """Print ``metrics_table(metrics, title, lang)`` to ``console`` (a new stdout console by default)."""
    (console or Console()).print(metrics_table(metrics, title, lang))
