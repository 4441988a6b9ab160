"""The market-data service as a real process on a real broker: a tick replay publishes every trade and
the session-aware bars built from them (equal to the file's 15-minute bars the ticks came from), and
the latest-quote snapshot answers over request/reply."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pandas as pd
import zmq
import zmq.asyncio

from nofx.messaging.messages import QuoteRequest, SliceRequest, decode, encode
from nofx.messaging.pubsub import Publisher, Subscriber
from nofx.messaging.system.spec import SystemSpec, TraderSpec
from tests.messaging.bus_helpers import REPO, start, stop
from tests.messaging.system.helpers import run_config
from tests.messaging.system.test_bar_builder import ticks_of


def test_tick_replay_publishes_ticks_and_synthesised_bars_and_serves_quotes(ipc_config, broker_proc, cn_15min_path,
                                                                             tmp_path):
    bars = pd.read_parquet(cn_15min_path, filters=[("symbol", "in", ["600000.SH", "000001.SZ"])])
    bars = bars[(bars["datetime"] < "2025-01-03") & (bars["volume"] >= 4) & (bars["low"] > 0)]
    ticks = ticks_of(bars.sort_values(["datetime", "symbol"]))
    pd.DataFrame({"datetime": [t.ts for t in ticks], "symbol": [t.symbol for t in ticks],
                  "price": [float(t.price) for t in ticks], "size": [t.size for t in ticks]}).to_parquet(
        tmp_path / "ticks.parquet")
    quote_ep = f"ipc://{tmp_path}/quote.sock"
    spec = SystemSpec(broker=ipc_config, run=run_config(cn_15min_path, ["600000.SH"], end="2025-01-02"),
                      traders=[TraderSpec(id="t", strategy={"name": "dual_ma"})], ledger="sqlite://",
                      tick_file=str(tmp_path / "ticks.parquet"), quote_endpoint=quote_ep, bar_freqs=["15min", "1D"])
    spec.write(tmp_path / "spec.json")
    md = start("-m", "nofx.messaging.system.proc", "market_data", "--spec", str(tmp_path / "spec.json"))

    async def run():
        ctx = zmq.asyncio.Context()
        sub = Subscriber(ipc_config.sub_endpoint, ["md.bar15m.", "md.tick.", "md.end."], ctx=ctx)
        pub = Publisher(ipc_config.pub_endpoint, "test")
        got_bars, n_ticks = [], 0
        try:
            async with asyncio.timeout(60):
                while True:  # the replay starts on request: ask until it answers (slow joiner)
                    pub.publish_on("sys.want", SliceRequest("replay", 0, 0))
                    msgs = await sub.receive(0.1)
                    if msgs:
                        break
                while True:
                    for topic, msg in msgs:
                        if topic.startswith("md.end."):
                            return got_bars, n_ticks, sub.counters
                        if topic.startswith("md.bar15m."):
                            got_bars.append(msg.payload)
                        else:
                            n_ticks += 1
                    msgs = await sub.receive(1.0)
        finally:
            sub.close()
            pub.close()
            ctx.term()

    try:
        got_bars, n_ticks, counters = asyncio.run(run())
        assert n_ticks == len(ticks) and counters.lost == 0
        got = sorted((b.symbol, pd.Timestamp(b.ts), float(b.open), float(b.high), float(b.low), float(b.close),
                      b.volume) for b in got_bars)
        want = sorted((r.symbol, r.datetime, r.open, r.high, r.low, r.close, int(r.volume))
                      for r in bars.itertuples(index=False))
        assert got == want and len(got) == 32

        req = zmq.Context.instance().socket(zmq.DEALER)
        req.connect(quote_ep)
        req.send(encode(QuoteRequest(["600000.SH", "688981.SH"]), "test/1/x", 1))
        assert req.poll(10_000)
        snap = decode(req.recv()).payload
        req.close(linger=0)
        last = bars[bars["symbol"] == "600000.SH"].iloc[-1]
        assert [b.symbol for b in snap.bars] == ["600000.SH"]  # an unseen symbol is left out
        assert float(snap.bars[0].close) == last["close"] and float(snap.ticks[0].price) == last["close"]
        assert snap.request_seq == 1
    finally:
        stop(md)


def test_bad_spec_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "spec.json").write_text('{"traders": []}')
    p = subprocess.run([sys.executable, "-m", "nofx.messaging.system.proc", "engine", "--spec",
                        str(tmp_path / "spec.json")], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert p.returncode == 2
    assert p.stderr.startswith("error: ") and len(p.stderr.strip().splitlines()) == 1
