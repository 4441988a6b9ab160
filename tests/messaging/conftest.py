"""Fixtures of the bus tests: ipc endpoints in a temporary directory and a broker process on them."""

from __future__ import annotations

import pytest

from nofx.messaging.broker import BrokerConfig
from tests.messaging.bus_helpers import start_broker, stop


@pytest.fixture
def ipc_config(tmp_path) -> BrokerConfig:
    return BrokerConfig(**{f"{k}_endpoint": f"ipc://{tmp_path}/{k}.sock" for k in ("pub", "sub", "command", "engine")})


@pytest.fixture
def broker_proc(ipc_config):
    p = start_broker(ipc_config)
    yield p
    stop(p)
