"""Market data for the API: latest quote and bars of one symbol from the server's bars file (the
bundled slice by default, ``nofx serve --data FILE`` otherwise), with a short-TTL cache in the shared
state (so several workers share it too).

Symbols are ``600519.SH``-style. A bare 6-digit code is resolved by the exchanges' code ranges
(:func:`nofx.domain.instruments.symbols_for_code`); where the ranges allow several symbols (SSE index
codes overlap Shenzhen stock codes: ``000001`` is the SSE Composite and Ping An Bank) the symbols held in
the data decide, and if that still leaves several or none the request is refused naming the candidates.
"""

from __future__ import annotations

import json
import math
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from nofx.api.errors import ApiError
from nofx.api.schemas import market_time
from nofx.api.shared_state import SharedState
from nofx.domain.errors import InvalidSymbolError
from nofx.domain.instruments import parse_symbol, symbols_for_code

RECENT_BARS = 20
_FIELDS = ("open", "high", "low", "close", "preclose")


def price_text(x: float) -> str | None:
    """A float price from the bars file as a decimal string (shortest repr: 9.39 -> "9.39")."""
    if x is None or not math.isfinite(x):
        return None
    return repr(round(float(x), 4))


class MarketData:
    def __init__(self, path: str | None, state: SharedState, ttl_s: float) -> None:
        self._path = path
        self._state = state
        self._ttl = ttl_s
        self._lock = threading.Lock()
        self._by_symbol: dict[str, pd.DataFrame] | None = None
        self._bands: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._catalog: list[dict[str, Any]] | None = None
        self._rendered: dict[str, tuple[float, bytes]] = {}  # symbol -> (expiry, response body)

    @property
    def path(self) -> Path:
        from nofx.data.bundled import bundled_bars_path

        return Path(self._path) if self._path else bundled_bars_path()

    def _frames(self) -> dict[str, pd.DataFrame]:
        if self._by_symbol is None:
            with self._lock:
                if self._by_symbol is None:
                    from nofx.data.bars import read_bars

                    bars = read_bars(self.path, columns=[])
                    self._by_symbol = {str(s): g.sort_values("datetime").reset_index(drop=True)
                                       for s, g in bars.groupby("symbol", sort=True)}
        return self._by_symbol

    def symbols(self) -> list[str]:
        return list(self._frames())

    def resolve(self, text: str) -> str:
        """``600519.SH`` as given (upper-cased) or a bare code resolved; 422 naming it otherwise."""
        raw = text.strip()
        if raw.isdigit() and len(raw) == 6:
            candidates = [i.symbol for i in symbols_for_code(raw)]
            if not candidates:
                raise ApiError(422, "UNKNOWN_SYMBOL", f"code {raw!r} is in no exchange's code range",
                               {"field": "symbol", "symbol": raw})
            held = [s for s in candidates if s in self._frames()]
            pick = held or candidates
            if len(pick) > 1:
                raise ApiError(422, "AMBIGUOUS_SYMBOL",
                               f"code {raw!r} is ambiguous: {', '.join(pick)}; give the exchange suffix",
                               {"field": "symbol", "symbol": raw, "candidates": pick})
            return pick[0]
        try:
            return parse_symbol(raw).symbol
        except InvalidSymbolError as exc:
            raise ApiError(422, "UNKNOWN_SYMBOL", f"{exc.message}: {raw!r}", {"field": "symbol", "symbol": raw}) \
                from None

    def catalog(self) -> list[dict[str, Any]]:
        """Every symbol of the bars file with its first and last bar time and whether it is an index."""
        if self._catalog is None:
            self._catalog = [{"symbol": s, "first": _bar_time(df["datetime"].iloc[0]),
                              "last": _bar_time(df["datetime"].iloc[-1]), "bars": len(df),
                              "is_index": parse_symbol(s).is_index} for s, df in self._frames().items()]
        return self._catalog

    def _limit_bands(self, symbol: str) -> tuple[np.ndarray, np.ndarray]:
        """The daily price-limit band of each of ``symbol``'s bars (NaN: none), computed by the engine's own
        market preparation (default rules), so the chart marks exactly the prices the venue refuses."""
        band = self._bands.get(symbol)
        if band is None:
            from nofx.backtest.config import BacktestConfig
            from nofx.engine.market_data import prepare_market

            from nofx.domain.errors import NofxError

            frame = self._frame(symbol)
            try:
                prepared = prepare_market(frame, BacktestConfig())
                band = (prepared.lower[:, 0], prepared.upper[:, 0])
            except NofxError:  # no rules for this symbol: no band to show
                band = (np.full(len(frame), np.nan), np.full(len(frame), np.nan))
            self._bands[symbol] = band
        return band

    def _frame(self, symbol: str) -> pd.DataFrame:
        df = self._frames().get(symbol)
        if df is None:
            raise ApiError(404, "NOT_FOUND", f"no market data for {symbol}", {"symbol": symbol})
        return df

    def quote(self, symbol: str) -> dict[str, Any]:
        """{symbol, quote: latest bar, bars: the last RECENT_BARS bars}; cached for ``ttl_s``."""
        key = f"quote:{symbol}"
        hit = self._state.cache_get(key)
        if hit is not None:
            return json.loads(hit)
        df = self._frame(symbol)
        rows = [_bar(r) for r in df.tail(RECENT_BARS).itertuples(index=False)]
        out = {"symbol": symbol, "quote": rows[-1], "bars": rows}
        self._state.cache_set(key, json.dumps(out).encode(), self._ttl)
        return out

    def close_at(self, symbol: str, ts: Any) -> Decimal | None:
        """The close of ``symbol``'s last bar at or before ``ts`` (None: no data or no bar yet)."""
        df = self._frames().get(symbol)
        if df is None:
            return None
        k = int(np.searchsorted(df["datetime"].to_numpy(), np.datetime64(pd.Timestamp(ts)), "right")) - 1
        if k < 0:
            return None
        text = price_text(float(df["close"].iloc[k]))
        return None if text is None else Decimal(text)
    def quote_json(self, symbol: str, render: Callable[[dict[str, Any]], bytes]) -> bytes:
        """``render(quote(symbol))``, kept in this process for ``ttl_s`` too: a cached quote is answered
        without decoding, validating and encoding it again on every request."""
        now = time.monotonic()
        hit = self._rendered.get(symbol)
        if hit is not None and hit[0] > now:
            return hit[1]
        body = render(self.quote(symbol))
        if self._ttl > 0:
            if len(self._rendered) > 10_000:  # bounded: symbols come from the bars file
                self._rendered.clear()
            self._rendered[symbol] = (now + self._ttl, body)
        return body

    def bars(self, symbol: str, start: Any = None, end: Any = None, limit: int = 500) -> list[dict[str, Any]]:
        df = self._frame(symbol)
        t = df["datetime"].to_numpy()
        lo = 0 if start is None else int(np.searchsorted(t, np.datetime64(pd.Timestamp(start)), "left"))
        hi = len(df) if end is None else int(np.searchsorted(
            t, np.datetime64(pd.Timestamp(end) + pd.Timedelta(days=1)), "left"))
        hi = min(hi, lo + limit)
        lower, upper = self._limit_bands(symbol)
        out = []
        for k, r in enumerate(df.iloc[lo:hi].itertuples(index=False), start=lo):
            row = _bar(r)
            row["limit_down"], row["limit_up"] = price_text(lower[k]), price_text(upper[k])
            out.append(row)
        return out


def _bar_time(ts: Any) -> str:
    return market_time(pd.Timestamp(ts).to_pydatetime()).isoformat()


def _bar(r: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"ts": _bar_time(r.datetime)}
    for f in _FIELDS:
        out[f] = price_text(getattr(r, f, float("nan")))
    vol = getattr(r, "volume", float("nan"))
    out["volume"] = int(vol) if math.isfinite(vol) else None
    out["suspended"] = int(getattr(r, "trade_status", 1)) == 0
    return out
