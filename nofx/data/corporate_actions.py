"""Corporate actions derived from the data.

A-shares: the exchange's ``preclose`` on an ex-date already reflects dividends and bonus shares, so a gap
``close[t-1] != preclose[t]`` reveals an action. One number cannot say how it splits into cash and shares;
we take the largest bonus ratio in steps of 0.1 share per share (the way A-share bonus issues are quoted,
"10 for N") that does not exceed the gap, and book the rest as a cash dividend:
``preclose = (close_prev - cash) / ratio``. Gaps below 10% are cash dividends only.
HK data carries ``dividends`` and ``splits`` columns, used as given.

Only raw prices get actions booked: :func:`plan_actions` asks :mod:`nofx.data.price_basis` whether the
file's prices are raw or already adjusted, and refuses columns the price path contradicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from typing import Any, Mapping

import numpy as np
import pandas as pd

from nofx.data.price_basis import PriceDeclaration, action_mismatches, resolve_prices
from nofx.domain.corporate_actions import CorporateAction
from nofx.domain.errors import DataError

_PURE_CASH_BELOW = 1.10  # gap ratio under which an action is read as a cash dividend only


def actions_from_preclose(bars: pd.DataFrame) -> list[CorporateAction]:
    if "preclose" not in bars.columns or bars.empty:
        return []
    df = bars[["symbol", "datetime", "close", "preclose"]].sort_values(["symbol", "datetime"])
    prev = df.groupby("symbol", sort=False)["close"].shift()
    gap = (prev - df["preclose"]) > 0.005
    out: list[CorporateAction] = []
    for sym, ts, p, pc in zip(df["symbol"][gap], df["datetime"][gap], prev[gap], df["preclose"][gap]):
        if not (np.isfinite(p) and np.isfinite(pc) and pc > 0):
            continue
        prev_c, pre = Decimal(repr(float(p))), Decimal(repr(float(pc)))
        r = prev_c / pre
        ratio = Decimal(1)
        if r >= Decimal(repr(_PURE_CASH_BELOW)):
            ratio = (r * 10).to_integral_value(rounding=ROUND_FLOOR) / 10
        cash = (prev_c - pre * ratio).quantize(Decimal("0.0001"))
        if cash < 0:
            cash = Decimal(0)
        out.append(CorporateAction(str(sym), pd.Timestamp(ts).date(), cash, ratio))
    return out


def actions_from_columns(bars: pd.DataFrame) -> list[CorporateAction]:
    """From explicit ``dividends`` (cash per share) and ``splits`` (ratio, 0 = none) columns."""
    have_div = "dividends" in bars.columns
    have_split = "splits" in bars.columns
    if not (have_div or have_split):
        return []
    div = bars["dividends"].fillna(0) if have_div else pd.Series(0.0, index=bars.index)
    spl = bars["splits"].fillna(0) if have_split else pd.Series(0.0, index=bars.index)
    rows = bars[(div > 0) | (spl > 0)]
    return [
        CorporateAction(str(s), pd.Timestamp(t).date(), Decimal(repr(float(d))).quantize(Decimal("0.0001")),
                        Decimal(repr(float(x))) if x > 0 else Decimal(1))
        for s, t, d, x in zip(rows["symbol"], rows["datetime"], div[rows.index], spl[rows.index])
    ]


def corporate_actions(bars: pd.DataFrame) -> list[CorporateAction]:
    """Every action the bars reveal: explicit columns when present, else preclose gaps."""
    explicit = actions_from_columns(bars)
    return explicit if explicit else actions_from_preclose(bars)


@dataclass(frozen=True)
class ActionPlan:
    """What a run books: the price basis it uses, the actions (none on adjusted prices) and notes for
    the report (the basis and where it came from, non-fatal mismatches between columns and prices)."""

    prices: PriceDeclaration
    actions: list[CorporateAction] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def plan_actions(bars: pd.DataFrame, attrs: Mapping[str, Any], setting: str = "auto",
                 book: bool = True) -> ActionPlan:
    """Actions to book on ``bars`` (the run's universe; ``attrs``: the file's, for row locations and its
    price declaration). Raises :class:`DataError` naming the row when ``book`` and a dividend/split
    column contradicts raw prices (booking it would pay cash or shares that never existed)."""
    view = bars.copy(deep=False)
    view.attrs = dict(attrs)
    decl = resolve_prices(view, setting)
    mismatches = action_mismatches(view, decl.basis)
    fatal = [m for m in mismatches if m.fatal]
    if fatal and book:
        more = f" (and {len(fatal) - 1} more)" if len(fatal) > 1 else ""
        raise DataError(f"{fatal[0]}{more}")
    if not book:
        notes = [f"prices: {decl.basis} ({decl.source}); corporate actions not booked in this run"]
    elif decl.basis == "adjusted":
        notes = [f"prices: adjusted ({decl.source}); dividends and splits are in the prices, none booked"]
    else:
        notes = [f"prices: raw ({decl.source}); dividends and splits booked on holdings"]
    notes += [f"warning: {m}" for m in mismatches if not (m.fatal and book)]
    actions = corporate_actions(view) if book and decl.basis == "raw" else []
    return ActionPlan(decl, actions, notes)
