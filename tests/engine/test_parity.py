"""Parity guard for the speed work on the order path (issue 15): the engine must decide exactly what it
decided before it was optimised. The fingerprints in ``parity_fingerprints.json`` (every fill with its
id, price and fee, every refusal with its code and reason, final cash, fees) were computed by the engine
as it was before that work; a faster path that changes any of them is a behaviour change, not a speed-up.

If a change is *meant* to alter behaviour, regenerate them (``python -m tests.engine.parity --write``)
and say why in the commit."""

from __future__ import annotations

import json

import pytest

from tests.engine import parity

STORED = json.loads(parity.FINGERPRINTS.read_text())


def test_paper_stream_matches_stored_fingerprint():
    assert parity.paper_stream() == STORED["paper_stream"]


def test_dual_ma_bundled_matches_stored_fingerprint():
    assert parity.dual_ma_bundled() == STORED["dual_ma_bundled"]


def test_dual_ma_on_50_real_stocks_matches_stored_fingerprint(cn_daily_path):
    assert parity.dual_ma_subset(cn_daily_path) == STORED["dual_ma_subset"]


@pytest.mark.parametrize("fill", ["next_open", "close"])
def test_daily_rebalance_matches_stored_fingerprint(cn_daily_path, fill):
    assert parity.rebalance_subset(cn_daily_path, fill) == STORED[f"rebalance_{fill}"]
