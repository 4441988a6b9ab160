"""Fixtures of the API tests: one live server per module (``server``), fresh ones where a test needs
its own settings (``live_server``)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("api_live_server", Path(__file__).with_name("live_server.py"))
assert _spec is not None and _spec.loader is not None
_mod = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("api_live_server", _mod)
_spec.loader.exec_module(_mod)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_mod.LiveServer]:
    with _mod.live_server(tmp_path_factory.mktemp("api")) as s:
        yield s
