"""The backtest's simulated exchange: orders wait for the next bar (``next_open``) or meet the current
bar's close (``close``), under the shared matching rules (suspension, limit locks, tick grid, fills at a
price limit, volume cap: ``nofx.engine.matching.decide``).

It reads bars from the panel by index; the runner moves the index. DAY orders left unfilled expire at
the end of their trading day; IOC leftovers expire after their first bar; FOK fills all or nothing.
"""

from __future__ import annotations

import numpy as np

from nofx.data.panel import BarPanel
from nofx.domain.enums import TimeInForce
from nofx.domain.orders import Order
from nofx.engine.matching import BarQuote, LimitFillPolicy, decide_for, volume_cap
from nofx.engine.venue import VenueListener
from nofx.markets.instrument_rules import InstrumentRulesCache
from nofx.markets.rulebook import RuleBook


class BarExchange:
    def __init__(self, panel: BarPanel, lower: np.ndarray, upper: np.ndarray, rulebook: RuleBook,
                 participation: float = 0.25, at_limit: LimitFillPolicy | None = None) -> None:
        self.panel = panel
        self.lower, self.upper = lower, upper
        self.rulebook = rulebook  # (sets the per-instrument rules cache)
        self.participation = participation
        self.at_limit = at_limit or LimitFillPolicy()
        self.listener: VenueListener | None = None
        self._pending: dict[str, Order] = {}
        self._col = {s: k for k, s in enumerate(panel.symbols)}
        f = panel.fields
        self._o, self._h, self._l, self._c = f["open"], f["high"], f["low"], f["close"]
        self._v, self._st = f["volume"], f["trade_status"]
        days = panel.timestamps.astype("datetime64[D]")
        # True where bar i is the last of its trading day: DAY orders expire after it
        self._day_end = np.append(days[1:] != days[:-1], True)
        self._day_of = days

    @property
    def rulebook(self) -> RuleBook:
        return self._instruments.rulebook

    @rulebook.setter
    def rulebook(self, rulebook: RuleBook) -> None:
        self._instruments = InstrumentRulesCache(rulebook)

    # ---- Venue -----------------------------------------------------------------------------
    def submit(self, order: Order) -> None:
        self._pending[order.order_id] = order

    def cancel(self, order_id: str) -> bool:
        return self._pending.pop(order_id, None) is not None

    @property
    def has_pending(self) -> bool:
        return bool(self._pending)

    # ---- matching ----------------------------------------------------------------------------
    def quote(self, i: int, col: int) -> BarQuote:
        return BarQuote(self._o[i, col], self._h[i, col], self._l[i, col], self._c[i, col], self._v[i, col],
                        self._st[i, col], self.lower[i, col], self.upper[i, col])

    def match(self, i: int, at_open: bool) -> None:
        """Match every pending order against bar ``i``."""
        if not self._pending:
            return
        listener = self.listener
        assert listener is not None, "exchange not connected to an engine"
        pending = self._pending
        orders = list(pending.values())
        day = self._day_of[i].item()
        rules_of = self._instruments.get
        policy = self.at_limit
        rows = None  # row i of each field, taken once per call
        for order in orders:
            if not order.status.is_open:
                pending.pop(order.order_id, None)
                continue
            symbol = order.symbol
            col = self._col.get(symbol)
            if col is None:
                pending.pop(order.order_id)
                listener.on_venue_reject(order, "VENUE_UNKNOWN_SYMBOL", f"{symbol} has no bars")
                continue
            if rows is None:
                rows = [a[i] for a in (self._o, self._h, self._l, self._c, self._v, self._st, self.lower,
                                       self.upper)]
            o, h, lo, c, v, st, low, up = rows
            bar = BarQuote(o[col], h[col], lo[col], c[col], v[col], st[col], low[col], up[col])
            rules = rules_of(symbol)
            decision = decide_for(rules, order, day, bar, at_open, policy)
            if decision.refused is not None:
                self._pending.pop(order.order_id)
                listener.on_venue_reject(order, *decision.refused)
                continue
            px = decision.price
            leaves = order.quantity - order.filled_qty
            if px is not None:
                cap = volume_cap(bar.volume, min(self.participation, decision.fraction or 1.0))
                qty = min(leaves, cap)
                if qty < leaves:
                    # a capped part must still be a valid lot (an odd lot only if it ends the order)
                    qty = rules.round_buy_quantity(day, qty)
                if order.request.tif is TimeInForce.FOK and qty < leaves:
                    qty = 0
                if qty > 0:
                    listener.on_venue_fill(order, qty, px)
            if not order.status.is_open:
                self._pending.pop(order.order_id, None)
                continue
            tif = order.request.tif
            if tif is not TimeInForce.DAY or self._day_end[i]:
                self._pending.pop(order.order_id)
                if px is None:
                    reason = "limit price not reached"
                elif decision.fraction is not None:
                    reason = f"at the price limit: at most {decision.fraction:.0%} of bar volume"
                elif order.filled_qty:
                    reason = f"volume cap {self.participation:.0%} of bar volume"
                else:
                    reason = "volume cap or fill-or-kill: nothing filled"
                listener.on_venue_expire(order, reason)
