"""The system's pieces without processes: the strategy's growing panel equals the backtest's panel row
for row whatever order the slices come in, and the replay's pacing at speed N."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nofx.data.panel import BarPanel
from nofx.domain.errors import DataError
from nofx.messaging.system.market_data import ReplayFeed
from nofx.messaging.system.strategy_service import GrowingPanel


@pytest.fixture(scope="module")
def panel(cn_15min_path) -> BarPanel:
    df = pd.read_parquet(cn_15min_path, filters=[("symbol", "in", ["600000.SH", "000001.SZ"])])
    return BarPanel.from_frame(df[df["datetime"] < "2025-01-04"])


def test_growing_panel_rebuilds_the_backtest_panel_from_slices_in_any_order(panel):
    feed = ReplayFeed("replay", panel)
    g = GrowingPanel()
    order = [3, 0, 2, 1, *range(4, feed.count)]
    for k, i in enumerate(order[:4]):
        g.add(feed.slice(i))
        if k < 3:
            assert g.first_missing(3) is not None
    assert g.first_missing(3) is None and g.first_missing(4) == 4
    for i in order[4:]:
        g.add(feed.slice(i))
        g.add(feed.slice(i))  # a slice sent again changes nothing
    got, lo = g.prefix(feed.count - 1)
    assert lo == 0 and got.symbols == panel.symbols
    assert np.array_equal(got.timestamps, panel.timestamps)
    for name, arr in panel.fields.items():
        assert np.array_equal(got.fields[name], arr, equal_nan=True), name
    window, lo = g.prefix(10, window=4)
    assert lo == 7 and window.shape == (4, 2)


def test_a_feed_that_changes_its_universe_is_refused(panel):
    feed = ReplayFeed("replay", panel)
    g = GrowingPanel()
    g.add(feed.slice(0))
    s = feed.slice(1)
    with pytest.raises(DataError):
        g.add(type(s)(s.feed, s.index, s.count, s.ts_ns, s.symbols[:1], {k: v[:1] for k, v in s.fields.items()}))


def test_replay_pacing_at_speed_n(panel):
    feed = ReplayFeed("replay", panel)
    assert feed.due_s(1, 0, 0) == 0.0  # speed 0: no waiting, only acknowledgements
    assert feed.due_s(1, 0, 900.0) == pytest.approx(1.0)  # 15 minutes at 900x
    assert feed.due_s(16, 0, 86_400.0) > feed.due_s(15, 0, 86_400.0)  # overnight gap counts too
