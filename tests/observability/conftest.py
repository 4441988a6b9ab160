"""The API tests' live-server helpers (tests/api/live_server.py) as module ``api_live_server``."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

if "api_live_server" not in sys.modules:
    _spec = importlib.util.spec_from_file_location("api_live_server",
                                                   Path(__file__).parents[1] / "api" / "live_server.py")
    assert _spec is not None and _spec.loader is not None
    _mod = importlib.util.module_from_spec(_spec)
    sys.modules["api_live_server"] = _mod
    _spec.loader.exec_module(_mod)
