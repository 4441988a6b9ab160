"""Commands to an engine process through the broker: timeouts, retries that never create a second
order (idempotent by client_order_id), bad command frames rejected with the engine alive, and the
channel surviving a broker restart."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from decimal import Decimal

import pytest
import zmq
import zmq.asyncio

from nofx.domain.enums import OrderStatus, Side
from nofx.domain.errors import OrderError
from nofx.domain.orders import OrderRequest, OrderType
from nofx.messaging.commands import CommandClient, CommandTimeout
from nofx.messaging.messages import decode, encode
from tests.messaging.bus_helpers import PROCS, start, start_broker, stop
from tests.messaging.bus_procs import bar

BUY = OrderRequest("600519.SH", Side.BUY, 100, OrderType.LIMIT, Decimal("1990"), client_order_id="s1-1")


@pytest.fixture
def engine_proc(ipc_config, broker_proc):
    p = start(str(PROCS), "engine", ipc_config.engine_endpoint)
    yield p
    stop(p)


def _final_counts(p) -> dict:
    return json.loads(stop(p).splitlines()[-1])


def test_a_retry_after_a_timeout_returns_the_first_order_never_a_second(ipc_config, engine_proc):
    async def run():
        client = CommandClient(ipc_config.command_endpoint, "s1", timeout=0.4, retries=8)
        assert not (await client.query(order_id="t-O1")).ok  # the channel works; nothing there yet
        os.kill(engine_proc.pid, signal.SIGSTOP)  # the engine stalls: the first attempts time out
        try:
            pending = asyncio.ensure_future(client.submit(BUY))
            await asyncio.sleep(1.3)
        finally:
            os.kill(engine_proc.pid, signal.SIGCONT)
        first = await pending
        attempts = client.attempts - 1
        again = await client.submit(BUY)  # a client that resubmits after a crash: same id, same order
        other = await client.submit(OrderRequest("600519.SH", Side.BUY, 100, OrderType.LIMIT, Decimal("1990"),
                                                 client_order_id="s1-2"))
        return first, attempts, again, other

    first, attempts, again, other = asyncio.run(run())
    assert attempts >= 3  # the stalled engine got the same submission at least three times
    assert first.ok and first.order.order_id == "t-O1" and first.order.status is OrderStatus.ACCEPTED
    assert again.order.order_id == "t-O1"
    assert other.order.order_id == "t-O2"  # the retries took no order id: exactly one order each
    counts = _final_counts(engine_proc)
    assert counts["orders"] == 2
    assert counts["received"] >= attempts + 3


def test_a_command_times_out_after_its_retries_when_no_engine_answers(ipc_config, broker_proc):
    async def run():
        client = CommandClient(ipc_config.command_endpoint, "s1", timeout=0.2, retries=2)
        with pytest.raises(CommandTimeout, match="3 attempts"):
            await client.query(order_id="t-O1")
        return client.attempts

    assert asyncio.run(run()) == 3


def test_an_order_without_client_order_id_is_refused_before_sending(ipc_config):
    async def run():
        client = CommandClient(ipc_config.command_endpoint, "s1", timeout=0.2, retries=0)
        with pytest.raises(OrderError, match="client_order_id"):
            await client.submit(OrderRequest("600519.SH", Side.BUY, 100))
        return client.attempts

    assert asyncio.run(run()) == 0


def test_bad_command_frames_are_rejected_and_the_engine_serves_on(ipc_config, engine_proc):
    async def run():
        ctx = zmq.asyncio.Context.instance()
        raw = ctx.socket(zmq.DEALER)
        raw.connect(ipc_config.command_endpoint)
        await raw.send(b"\x00garbage")
        await raw.send(encode(bar("600519.SH", 1), "odd/1/x", 1))  # a valid message, but not a command
        reply = await asyncio.wait_for(raw.recv(), 5)
        raw.close(0)
        client = CommandClient(ipc_config.command_endpoint, "s1", timeout=2, retries=0)
        return reply, await client.submit(BUY), await client.cancel("t-O1"), await client.query(client_order_id="s1-1")

    reply, submitted, cancelled, queried = asyncio.run(run())
    assert decode(reply).payload.code == "BUS_REJECTED"
    assert submitted.ok and cancelled.order.status is OrderStatus.CANCELLED
    assert queried.order.status is OrderStatus.CANCELLED
    counts = _final_counts(engine_proc)
    assert counts["rejected"] == {"garbage": 1, "not_a_command": 1}
    assert counts["orders"] == 1


def test_commands_flow_again_after_the_broker_restarts(ipc_config, broker_proc):
    engine = start(str(PROCS), "engine", ipc_config.engine_endpoint)
    broker = broker_proc
    try:
        async def run():
            nonlocal broker
            client = CommandClient(ipc_config.command_endpoint, "s1", timeout=0.5, retries=20)
            before = await client.submit(BUY)
            os.kill(broker.pid, signal.SIGKILL)
            broker.wait()
            broker = start_broker(ipc_config)
            after = await client.query(client_order_id="s1-1")
            return before, after

        before, after = asyncio.run(run())
        assert before.ok and after.ok and after.order.order_id == before.order.order_id == "t-O1"
        assert _final_counts(engine)["orders"] == 1
    finally:
        stop(broker)
        stop(engine)
