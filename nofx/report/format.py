"""Human formatting of metric values, shared by the console table and the HTML report.

Keys are those of ``nofx.backtest.metrics.compute_metrics``; unknown keys (a factor report's own
metrics, say) still format sensibly: floats with four significant digits, the label from the key.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from numbers import Integral, Real

# Fractions shown as percentages.
PERCENT_KEYS = frozenset({
    "total_return", "annual_return", "annual_volatility", "max_drawdown", "win_rate",
    "benchmark_return", "excess_return", "alpha", "tracking_error",
})
# Dimensionless ratios shown with two decimals.
RATIO_KEYS = frozenset({"sharpe", "sortino", "calmar", "beta", "information_ratio", "turnover"})
# Amounts of money, with thousands separators and cents.
MONEY_KEYS = frozenset({"fees_paid", "final_equity"})
# Keys whose sign is good news when positive (coloured in the console); max_drawdown is always <= 0.
SIGNED_KEYS = frozenset({
    "total_return", "annual_return", "sharpe", "sortino", "calmar", "excess_return", "alpha",
    "information_ratio", "benchmark_return",
})

METRIC_LABELS: dict[str, str] = {
    "total_return": "Total return",
    "annual_return": "Annual return (CAGR)",
    "annual_volatility": "Annual volatility",
    "sharpe": "Sharpe ratio",
    "sortino": "Sortino ratio",
    "max_drawdown": "Max drawdown",
    "max_drawdown_start": "Max drawdown: peak",
    "max_drawdown_trough": "Max drawdown: trough",
    "max_drawdown_end": "Max drawdown: recovered",
    "calmar": "Calmar ratio",
    "win_rate": "Win rate (closing sells)",
    "n_trades": "Fills",
    "turnover": "Turnover (per year, x equity)",
    "fees_paid": "Fees paid",
    "final_equity": "Final equity",
    "periods_per_year": "Periods per year (annualisation)",
    "benchmark_return": "Benchmark return",
    "excess_return": "Excess annual return",
    "alpha": "Alpha (annualised)",
    "beta": "Beta",
    "information_ratio": "Information ratio",
    "tracking_error": "Tracking error",
}

MISSING = "n/a"
NOT_RECOVERED = "not recovered"


def metric_label(key: str, lang: str = "en") -> str:
    if lang == "zh":
        from nofx.report.i18n import metric_label_zh

        zh = metric_label_zh(key)
        if zh is not None:
            return zh
    return METRIC_LABELS.get(key, key.replace("_", " ").capitalize())


def format_metric(key: str, value: object) -> str:
    """One metric value as text: 12.34%, 1.23, 1,234,567.89, an ISO date, or ``n/a``."""
    if value is None:
        return MISSING
    if isinstance(value, bool) or not isinstance(value, Real):
        return str(value)
    if isinstance(value, Integral):
        return f"{int(value):,d}"
    number = float(value)
    if not math.isfinite(number):
        return MISSING
    if key in PERCENT_KEYS:
        return f"{number * 100:.2f}%"
    if key in RATIO_KEYS:
        return f"{number:.2f}"
    if key in MONEY_KEYS:
        return f"{number:,.2f}"
    return f"{number:.4g}"


def metric_text(metrics: Mapping[str, object], key: str, lang: str = "en") -> str:
    """``metrics[key]`` as text, read in the context of the other metrics: a drawdown with a peak but no
    recovery date reads "not recovered" rather than "n/a". Every table (console, HTML, comparisons)
    formats through here so that one figure reads the same everywhere."""
    value = metrics.get(key)
    if key == "max_drawdown_end" and value is None and metrics.get("max_drawdown_start") is not None:
        if lang == "zh":
            from nofx.report.i18n import NOT_RECOVERED_ZH

            return NOT_RECOVERED_ZH
        return NOT_RECOVERED
    return format_metric(key, value)


def formatted_metrics(metrics: Mapping[str, object], lang: str = "en") -> list[tuple[str, str, str]]:
    """(key, label, text) for each metric in order (see :func:`metric_text`), labels in ``lang``."""
    return [(key, metric_label(key, lang), metric_text(metrics, key, lang)) for key in metrics]


def money_text(value: object) -> str:
    """An amount as the reports show money everywhere: thousands separators, two decimals (exact for
    Decimal; a negative sign, never parentheses)."""
    if value is None:
        return MISSING
    from decimal import ROUND_HALF_EVEN, Decimal

    if isinstance(value, Decimal):
        return f"{value.quantize(Decimal('0.01'), rounding=ROUND_HALF_EVEN):,.2f}"
    number = float(value)  # type: ignore[arg-type]
    return f"{number:,.2f}" if math.isfinite(number) else MISSING


def percent_text(value: object, places: int = 2) -> str:
    """A fraction as a percentage with ``places`` decimals (0.1234 -> 12.34%)."""
    if value is None:
        return MISSING
    number = float(value)  # type: ignore[arg-type]
    if not math.isfinite(number):
        return MISSING
    text = f"{number * 100:.{places}f}"
    return ("0." + "0" * places if places else "0") + "%" if float(text) == 0 else text + "%"  # never "-0.00%"
