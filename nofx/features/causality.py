"""A look-ahead detector: change the future, and the past outputs must not move.

``assert_causal(fn, data)`` runs ``fn`` on the data, then on copies whose rows after a random cut point
are perturbed, and requires every output row up to the cut to be identical. A feature or signal that
peeks at later bars (a centred window, a full-sample normalisation, ``shift(-1)``, a qfq adjustment
using later ex-dates...) fails with a message naming the cut and the first output cell that moved.

Data can be a numpy array (T,) / (T, N), a tuple/list/dict of such arrays (e.g. high, low, close), a
:class:`~nofx.data.panel.BarPanel`, or a wide DataFrame/Series whose rows are time. Perturbation
multiplies each later cell by a random factor in [0.5, 1.5]; the same factor is applied to every
price-like field of a (time, symbol) cell so that high >= low still holds, and 0/1 flags of a panel
are left alone. Outputs can be an array, a tuple/list/dict of arrays, or a DataFrame/Series, each
with time on axis 0.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable

import numpy as np
import pandas as pd

from nofx.data.panel import BarPanel

# panel fields scaled together (so high >= low etc. still hold after perturbation); flags stay 0/1
_PRICE_LIKE = ("open", "high", "low", "close", "preclose", "volume", "amount")


def _length(data: Any) -> int:
    if isinstance(data, BarPanel):
        return len(data.timestamps)
    if isinstance(data, (pd.DataFrame, pd.Series)):
        return len(data)
    if isinstance(data, dict):
        return _length(next(iter(data.values())))
    if isinstance(data, (tuple, list)):
        return _length(data[0])
    return np.asarray(data).shape[0]


def _perturb_array(arr: np.ndarray, cut: int, factor: np.ndarray) -> np.ndarray:
    """Rows after ``cut`` multiplied by ``factor`` (one factor per cell)."""
    out = np.array(arr, dtype="float64", copy=True)
    tail = out[cut + 1:]
    f = factor[: tail.shape[0]]
    if tail.ndim == 2:
        f = f[:, : tail.shape[1]]
    else:
        f = f[:, 0]
    out[cut + 1:] = tail * f
    return out


def _perturb(data: Any, cut: int, rng: np.random.Generator) -> Any:
    t_len = _length(data)
    width = _width(data)
    factor = rng.uniform(0.5, 1.5, size=(t_len, width))
    if isinstance(data, BarPanel):
        fields = {
            name: _perturb_array(values, cut, factor) if name in _PRICE_LIKE else values.copy()
            for name, values in data.fields.items()
        }
        return replace(data, fields=fields)
    if isinstance(data, pd.DataFrame):
        out = data.copy()
        numeric = out.select_dtypes("number").columns
        f = factor[: t_len - cut - 1, :1]  # one factor per row: keeps OHLC relations within a row
        out.iloc[cut + 1:, [out.columns.get_loc(c) for c in numeric]] = (
            out.iloc[cut + 1:][numeric].to_numpy(dtype="float64") * f
        )
        return out
    if isinstance(data, pd.Series):
        out = data.astype("float64").copy()
        out.iloc[cut + 1:] = out.iloc[cut + 1:].to_numpy() * factor[: t_len - cut - 1, 0]
        return out
    if isinstance(data, dict):
        return {k: _perturb_array(v, cut, factor) for k, v in data.items()}
    if isinstance(data, (tuple, list)):
        return type(data)(_perturb_array(v, cut, factor) for v in data)
    return _perturb_array(np.asarray(data), cut, factor)


def _width(data: Any) -> int:
    if isinstance(data, BarPanel):
        return max(1, len(data.symbols))
    if isinstance(data, (pd.DataFrame, pd.Series)):
        return 1
    if isinstance(data, dict):
        return _width(next(iter(data.values())))
    if isinstance(data, (tuple, list)):
        return _width(data[0])
    arr = np.asarray(data)
    return arr.shape[1] if arr.ndim == 2 else 1


def _outputs(result: Any) -> list[tuple[str, np.ndarray]]:
    """Named float arrays (time on axis 0) from whatever ``fn`` returned."""
    if isinstance(result, dict):
        return [(f"[{k!r}]", _to_array(v)) for k, v in result.items()]
    if isinstance(result, (tuple, list)):
        return [(f"[{i}]", _to_array(v)) for i, v in enumerate(result)]
    return [("", _to_array(result))]


def _to_array(value: Any) -> np.ndarray:
    if isinstance(value, (pd.DataFrame, pd.Series)):
        return value.to_numpy(dtype="float64")
    return np.asarray(value, dtype="float64")


def assert_causal(
    fn: Callable[[Any], Any],
    panel_or_array: Any,
    n_checks: int = 5,
    *,
    seed: int = 0,
    atol: float = 0.0,
    min_cut: int | None = None,
) -> None:
    """Assert that rows up to t of ``fn(panel_or_array)`` do not depend on input rows after t.

    ``n_checks`` cut points are drawn between ``min_cut`` (default T // 4, past typical warm-ups) and
    T - 2. Outputs must match exactly by default (NaN equals NaN); pass ``atol`` for functions whose
    floating-point summation order depends on the length of the input. Raises ``AssertionError``
    naming the cut and the first output cell that changed.
    """
    data = panel_or_array
    t_len = _length(data)
    if t_len < 3:
        raise AssertionError(f"need at least 3 time rows to test causality, got {t_len}")
    rng = np.random.default_rng(seed)
    base = _outputs(fn(data))
    lo = t_len // 4 if min_cut is None else min_cut
    lo = min(max(lo, 0), t_len - 2)
    cuts = np.unique(rng.integers(lo, t_len - 1, size=n_checks))
    for cut in cuts:
        perturbed = _outputs(fn(_perturb(data, int(cut), rng)))
        for (name, before), (_, after) in zip(base, perturbed):
            if before.shape[0] != t_len or after.shape[0] != t_len:
                raise AssertionError(
                    f"output{name} has {before.shape[0]} rows for {t_len} input rows: cannot align it in time"
                )
            a, b = before[: cut + 1], after[: cut + 1]
            same = np.isclose(a, b, rtol=0.0, atol=atol, equal_nan=True) if atol else (
                (a == b) | (np.isnan(a) & np.isnan(b))
            )
            if not same.all():
                cell = tuple(int(i) for i in np.argwhere(~same)[0])
                raise AssertionError(
                    f"not causal: output{name} at row {cell[0]}{_column_label(data, cell)} changed from "
                    f"{float(a[cell])!r} to {float(b[cell])!r} when only rows after {int(cut)} were perturbed"
                )


def _column_label(data: Any, cell: tuple[int, ...]) -> str:
    if len(cell) < 2:
        return ""
    label = f", column {cell[1]}"
    if isinstance(data, BarPanel) and cell[1] < len(data.symbols):
        label += f" ({data.symbols[cell[1]]})"
    return label
