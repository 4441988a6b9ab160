"""Who owns a trader, without a query per request.

A trader's owner never changes, so ``trader id -> owner id`` is cached once read (bounded). A trader
running in this process answers from its runtime. Deleting a trader (or its owner) forgets it here; with
several worker processes another worker may keep a deleted trader's entry until the cache is cleared,
which only lets its former owner read that trader's ledger rows (404 for everyone else, as before).
"""

from __future__ import annotations

import threading
from typing import Any

MAX_ENTRIES = 100_000


class Owners:
    def __init__(self, repo: Any, traders: Any, max_entries: int = MAX_ENTRIES) -> None:
        self._repo = repo
        self._traders = traders
        self._max = max_entries
        self._owner: dict[str, str] = {}
        self._lock = threading.Lock()  # sync routes run in threads

    def owns(self, user_id: str, trader_id: str) -> bool:
        owner = self._traders.owner_if_running(trader_id) or self._owner.get(trader_id)
        if owner is None:
            row = self._repo.trader(None, trader_id)
            if row is None:
                return False  # not cached: a trader created later under this id is found then
            owner = row.owner_id
            with self._lock:
                if len(self._owner) >= self._max:
                    self._owner.clear()
                self._owner[trader_id] = owner
        return owner == user_id

    def forget(self, trader_id: str) -> None:
        with self._lock:
            self._owner.pop(trader_id, None)
