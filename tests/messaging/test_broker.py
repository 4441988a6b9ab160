"""The broker: its statistics count what passed through it; bad settings get one line and exit code 2."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from pydantic import ValidationError

from nofx.messaging.broker import Broker, BrokerConfig
from nofx.messaging.pubsub import Publisher, Subscriber
from tests.messaging.bus_helpers import REPO, warm_up
from tests.messaging.bus_procs import bar, warmup_tick


def test_broker_statistics_count_messages_through_each_proxy(ipc_config):
    with Broker(ipc_config) as broker:
        async def run() -> int:
            sub = Subscriber(ipc_config.sub_endpoint, ["md.bar.", "ctl."])
            pub = Publisher(ipc_config.pub_endpoint, "replay")
            warmups = 0

            def send() -> None:
                nonlocal warmups
                warmups += 1
                pub.publish_on("ctl.warmup", warmup_tick())

            await warm_up(send, [sub])
            for i in range(100):
                pub.publish(bar("600519.SH", i))
            got = 0
            while got < 100:
                got += sum(t.startswith("md.") for t, _ in await sub.receive(timeout=5))
            pub.close()
            sub.close()
            return warmups

        warmups = asyncio.run(run())
        stats = broker.stats()
    # the warm-ups sent before the subscription reached the publisher never left it
    assert 100 < stats["pubsub"].messages_in <= 100 + warmups
    assert stats["pubsub"].messages_out == stats["pubsub"].messages_in
    assert stats["commands"].messages_in == 0


@pytest.mark.parametrize("option,value,expect", [
    ("--pub", "localhost:5550", "pub_endpoint"),
    ("--sub", "tcp://", "sub_endpoint"),
    ("--hwm", "0", "hwm"),
])
def test_bad_broker_settings_get_one_line_and_exit_2(option, value, expect):
    p = subprocess.run([sys.executable, "-m", "nofx.messaging.broker", option, value], capture_output=True,
                       text=True, cwd=REPO, timeout=30)
    assert p.returncode == 2
    assert p.stderr.count("\n") == 1 and expect in p.stderr and "Traceback" not in p.stderr


def test_an_endpoint_that_cannot_be_bound_gets_one_line_and_exit_2():
    p = subprocess.run([sys.executable, "-m", "nofx.messaging.broker", "--pub", "ipc:///nonexistent-dir/x/y"],
                       capture_output=True, text=True, cwd=REPO, timeout=30)
    assert p.returncode == 2 and p.stderr.startswith("error: broker cannot bind") and p.stderr.count("\n") == 1


def test_config_rejects_unknown_settings():
    with pytest.raises(ValidationError):
        BrokerConfig(pub="tcp://127.0.0.1:1")  # type: ignore[call-arg]
