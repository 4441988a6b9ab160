"""The AI trader's logic lives in the strategies layer, which does no I/O: no network, database or
event-loop imports there (the client, cache and mock server are in nofx.ai, a layer up)."""

from __future__ import annotations

from pathlib import Path

import nofx.strategies.ai as pkg

BANNED = ("httpx", "socket", "asyncio", "sqlalchemy", "tenacity", "urllib", "requests", "fastapi", "uvicorn")


def test_strategies_ai_imports_no_io_library() -> None:
    for f in Path(pkg.__file__).parent.rglob("*.py"):
        text = f.read_text(encoding="utf-8")
        for b in BANNED:
            assert f"import {b}" not in text and f"from {b}" not in text, f"{f.name} imports {b}"
