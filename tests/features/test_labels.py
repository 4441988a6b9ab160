"""Labels look forward by design; check exactly which rows they read."""

from __future__ import annotations

import numpy as np
import pytest

from nofx.features.labels import DOWN, FLAT, UP, direction, forward_max_drawdown, forward_return, realized_volatility


def _close() -> np.ndarray:
    return np.array([10.0, 11.0, 12.1, 10.89, 11.5, 12.0, 13.0])[:, None]


def test_forward_return_is_qlibs_label():
    c = _close()
    r = forward_return(c)  # close[t+2] / close[t+1] - 1
    assert r[0, 0] == pytest.approx(12.1 / 11.0 - 1)
    assert r[4, 0] == pytest.approx(13.0 / 12.0 - 1)
    assert np.isnan(r[5:]).all()
    r3 = forward_return(c, horizon=3, delay=0)
    assert r3[1, 0] == pytest.approx(11.5 / 11.0 - 1) and np.isnan(r3[4:]).all()


def test_direction_three_classes_with_threshold():
    d = direction(np.array([-0.02, -0.004, 0.0, 0.004, 0.02, np.nan]), threshold=0.005)
    assert d[:5].tolist() == [DOWN, FLAT, FLAT, FLAT, UP] and np.isnan(d[5])


def test_realized_volatility_reads_the_next_days():
    c = _close()
    v = realized_volatility(c, horizon=3, delay=1)
    rets = c[2:5, 0] / c[1:4, 0] - 1  # returns of days 2, 3, 4 for row 0
    assert v[0, 0] == pytest.approx(rets.std())
    assert np.isnan(v[-4:]).all()


def test_forward_max_drawdown():
    c = _close()
    m = forward_max_drawdown(c, horizon=3, delay=1)
    # closes 11.0, 12.1, 10.89, 11.5: peak 12.1 then 10.89 -> 10% drawdown
    assert m[0, 0] == pytest.approx(1 - 10.89 / 12.1)
    assert m[2, 0] == pytest.approx(0.0)  # 10.89, 11.5, 12.0, 13.0 only rise
    assert np.isnan(m[3:]).all()  # row 3 would need close[7]
