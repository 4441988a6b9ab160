"""The bundled rule tables load, and each rule has no gap in time from its first row on."""

from __future__ import annotations

from datetime import timedelta

import pytest

from nofx.markets import cn, hk
from nofx.markets.tables import OPEN_END, bundled_table_path


@pytest.mark.parametrize(
    ("module", "filename"),
    [(cn, "cn_lots.csv"), (cn, "cn_price_limits.csv"), (cn, "cn_listing_limits.csv"), (cn, "cn_fees.csv"),
     (cn, "cn_marginable.csv"), (hk, "hk_board_lots.csv"), (hk, "hk_fees.csv"), (hk, "hk_spread_table.csv"),
     (hk, "hk_shortable.csv")],
)
def test_table_loads_and_is_contiguous(module, filename):
    table = module._bundled(filename)
    assert table.source == str(bundled_table_path(filename))
    assert len(table) > 0
    if filename in ("cn_marginable.csv", "hk_shortable.csv", "hk_board_lots.csv"):
        return  # membership tables may have gaps on purpose
    for key in table.keys():
        rows = table.rows(*key)
        for prev, nxt in zip(rows, rows[1:]):
            assert nxt.valid_from == prev.valid_to + timedelta(days=1), (filename, key, prev.line)
        assert rows[-1].valid_to == OPEN_END, (filename, key)

