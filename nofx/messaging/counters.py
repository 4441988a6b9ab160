"""What a bus endpoint counts: rejected frames by reason, gaps and lost messages, duplicates.

Rejections are logged too, but at most ``log_every``-th of a flood per reason, so a sender spraying
garbage cannot fill the disk; the counts are exact."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

from nofx.messaging.messages import Rejected

log = logging.getLogger("nofx.messaging")


@dataclass(slots=True)
class BusCounters:
    received: int = 0  # valid messages delivered to the handler
    rejected: Counter[str] = field(default_factory=Counter)  # reason -> frames rejected
    gaps: int = 0  # times a (publisher, topic) stream skipped ahead
    lost: int = 0  # messages missing in those gaps (dropped at a high-water mark, or during a restart)
    stale: int = 0  # duplicates / out-of-order messages discarded
    log_every: int = 1000

    def reject(self, err: Rejected, where: str) -> None:
        n = self.rejected[err.reason] + 1
        self.rejected[err.reason] = n
        if n == 1 or n % self.log_every == 0:
            log.warning("%s rejected a frame (%s, %d so far): %s", where, err.reason, n, err.detail)

    def as_dict(self) -> dict[str, object]:
        return {"received": self.received, "rejected": dict(self.rejected), "gaps": self.gaps,
                "lost": self.lost, "stale": self.stale}
