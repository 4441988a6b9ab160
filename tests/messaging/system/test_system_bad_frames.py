"""Garbage frames, unknown message types and an old schema version sent to the running market-data,
engine and strategy processes: each rejects and counts them (its health report says how many, by
reason), none dies, and the replay still gives the backtest's trades."""

from __future__ import annotations

import time

import msgspec
import pytest
import zmq

from nofx.messaging.messages import Envelope, SliceRequest, encode
from tests.messaging.system.helpers import backtest_json, run_config, system_json

GARBAGE = b"\x00\xff not msgpack"
UNKNOWN = msgspec.msgpack.encode(Envelope(1, "slice_request_v9", "forger/1/x", 1, 0, msgspec.Raw(b"\xc0")))
OLD_SCHEMA = encode(SliceRequest("replay", 0, 0), "forger/1/x", 1, schema=0)
TOPICS = {"md": "sys.want", "engine": "md.slice.replay", "strategy-backtest": "sys.ready.backtest"}
REASONS = ("garbage", "unknown_type", "schema")


@pytest.mark.slow
@pytest.mark.xfail(strict=False, reason="open defect (issue 14), intermittent: in 2 of 3 runs on main at 8185c31 the "
                   "engine process reported no rejected frames within 60 s while market data and strategy did; "
                   "cause not yet found")
def test_processes_reject_and_count_bad_frames_and_live_on(cn_15min_path, tmp_path):
    cfg = run_config(cn_15min_path, ["000001.SZ", "600000.SH"], end="2025-02-07", params={"fast": 3, "slow": 8})
    expected = backtest_json(cfg, tmp_path)
    seen: dict[str, dict] = {}
    restarts: list = []

    def during(sup) -> None:
        if seen or sup.procs["engine"].health.get("index", -1) < 5:
            return
        ctx = zmq.Context.instance()
        pub = ctx.socket(zmq.PUB)
        pub.connect(sup.spec.broker.pub_endpoint)
        deadline = time.monotonic() + 60
        try:
            while time.monotonic() < deadline:
                for topic in TOPICS.values():  # a PUB drops until the broker's subscriptions reach it: repeat
                    for frame in (GARBAGE, UNKNOWN, OLD_SCHEMA):
                        pub.send_multipart([topic.encode(), frame])
                    pub.send_multipart([topic.encode(), b"a", b"third frame"])  # not [topic, envelope]
                time.sleep(0.3)
                sup.collect_health()
                rej = {name: sup.procs[name].health.get("rejected", {}) for name in TOPICS}
                if all(rej[n].get(r, 0) > 0 for n in TOPICS for r in REASONS):
                    seen.update(rej)
                    return
        finally:
            pub.close(linger=0)
        raise AssertionError(f"rejections never reported: {rej}")

    got, codes = system_json(cfg, tmp_path / "sys", during=during, restarts=restarts)
    assert seen, "the replay ended before the frames were sent"
    for name in TOPICS:
        assert seen[name]["garbage"] >= 2  # the undecodable frame and the three-frame message
    assert restarts == []  # nobody died
    assert got["trades"] == expected["trades"] and got["equity"] == expected["equity"]
