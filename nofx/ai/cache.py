"""Reply cache: a reproducible AI backtest. Replies are stored by (model, prompt hash, temperature, seed)
so a second run of the same backtest makes no model call and gives identical results, and a competition
can be re-scored from its cache (``cache = "read_only"`` fails a cycle on a miss instead of calling).

One JSON file per reply under ``cache_dir/<2 hex>/<key>.json``, written atomically (temp file + rename),
so concurrent traders and processes share a cache safely. Failed calls are not cached: they are
properties of the moment, not of the prompt.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any, Sequence

from nofx.strategies.ai.cycle import ModelReply


def prompt_hash(messages: Sequence[dict[str, str]]) -> str:
    canon = json.dumps(list(messages), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canon.encode("utf-8")).hexdigest()


def cache_key(model: str, phash: str, temperature: float, seed: int | None) -> str:
    return hashlib.sha256(f"{model}\x00{phash}\x00{temperature!r}\x00{seed!r}".encode()).hexdigest()


class ReplyCache:
    def __init__(self, directory: str | Path, mode: str = "read_write") -> None:
        self.dir = Path(directory)
        self.mode = mode
        self.hits = 0
        self.misses = 0

    def _path(self, key: str) -> Path:
        return self.dir / key[:2] / f"{key}.json"

    def get(self, key: str) -> ModelReply | None:
        if self.mode == "off":
            return None
        p = self._path(key)
        try:
            d: dict[str, Any] = json.loads(p.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            self.misses += 1
            return None
        self.hits += 1
        return ModelReply(d["text"], None, d.get("prompt_tokens", 0), d.get("completion_tokens", 0), 0.0,
                          Decimal(0), True, 0, d.get("finish_reason"))

    def put(self, key: str, reply: ModelReply, model: str) -> None:
        if self.mode != "read_write" or reply.error is not None or reply.text is None:
            return
        p = self._path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        d = {"model": model, "text": reply.text, "prompt_tokens": reply.prompt_tokens,
             "completion_tokens": reply.completion_tokens, "finish_reason": reply.finish_reason,
             "cost": str(reply.cost)}
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=".tmp-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(d, fh, ensure_ascii=False)
        os.replace(tmp, p)
