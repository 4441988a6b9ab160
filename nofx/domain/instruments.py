"""Instruments parsed from exchange codes (``600519.SH``, ``0700.HK``) with their exchange and board."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache

from nofx.domain.errors import InvalidSymbolError


class Market(str, Enum):
    CN = "cn"  # mainland A-shares
    HK = "hk"


class Exchange(str, Enum):
    SSE = "SSE"
    SZSE = "SZSE"
    BSE = "BSE"
    HKEX = "HKEX"

    @property
    def market(self) -> Market:
        return Market.HK if self is Exchange.HKEX else Market.CN


class Board(str, Enum):
    SSE_MAIN = "sse_main"
    SZSE_MAIN = "szse_main"
    CHINEXT = "chinext"
    STAR = "star"
    BSE = "bse"
    FUND = "fund"  # exchange-traded funds (ETFs, LOFs, closed-end funds) on SSE/SZSE: their own rule rows
    HK_MAIN = "hk_main"
    INDEX = "index"


class SecurityType(str, Enum):
    STOCK = "stock"
    FUND = "fund"
    INDEX = "index"


@dataclass(frozen=True, slots=True)
class Instrument:
    symbol: str  # canonical form, e.g. "600519.SH"
    code: str  # "600519"
    exchange: Exchange
    board: Board
    security_type: SecurityType
    # derived from the exchange, stored because it is read on every order (rules and fees by market)
    market: Market = field(init=False)
    is_index: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "market", self.exchange.market)
        object.__setattr__(self, "is_index", self.security_type is SecurityType.INDEX)


_SYMBOL_RE = re.compile(r"^(\d{4,6})\.(SH|SZ|BJ|HK)$")

# Index codes that appear in A-share data; their numeric ranges overlap stock codes on SSE
# ("000001.SH" is the SSE Composite while "000001.SZ" is Ping An Bank), so they are listed.
_SSE_INDEX_PREFIXES = ("000",)
_SZSE_INDEX_PREFIXES = ("399",)
# Exchange-traded funds: SSE 50x closed-end/LOF, 51x/56x/58x ETFs; SZSE 15x ETFs/LOFs, 16x LOFs,
# 18x closed-end funds (SSE and SZSE code allocation rules).
_SSE_FUND_PREFIXES = ("50", "51", "56", "58")
_SZSE_FUND_PREFIXES = ("15", "16", "18")


@lru_cache(maxsize=65536)
def parse_symbol(symbol: str) -> Instrument:
    """Parse a symbol like ``600519.SH``; raises :class:`InvalidSymbolError` saying why."""
    if not isinstance(symbol, str):
        raise InvalidSymbolError(f"symbol must be a string, got {type(symbol).__name__}", symbol=symbol)
    s = symbol.strip().upper()
    m = _SYMBOL_RE.match(s)
    if not m:
        raise InvalidSymbolError(
            "unknown symbol format: expected CODE.SH, CODE.SZ, CODE.BJ (6 digits) or CODE.HK (4-5 digits)",
            symbol=symbol,
        )
    code, suffix = m.groups()
    if suffix == "HK":
        if len(code) not in (4, 5):
            raise InvalidSymbolError("HK codes have 4 or 5 digits", symbol=symbol)
        return Instrument(s, code, Exchange.HKEX, Board.HK_MAIN, SecurityType.STOCK)
    if len(code) != 6:
        raise InvalidSymbolError("A-share codes have 6 digits", symbol=symbol)
    if suffix == "SH":
        if code.startswith(_SSE_INDEX_PREFIXES):
            return Instrument(s, code, Exchange.SSE, Board.INDEX, SecurityType.INDEX)
        if code.startswith("688") or code.startswith("689"):
            return Instrument(s, code, Exchange.SSE, Board.STAR, SecurityType.STOCK)
        if code.startswith(("600", "601", "603", "605")):
            return Instrument(s, code, Exchange.SSE, Board.SSE_MAIN, SecurityType.STOCK)
        if code.startswith(_SSE_FUND_PREFIXES):
            return Instrument(s, code, Exchange.SSE, Board.FUND, SecurityType.FUND)
        raise InvalidSymbolError("not a known Shanghai stock, fund or index code range", symbol=symbol)
    if suffix == "SZ":
        if code.startswith(_SZSE_INDEX_PREFIXES):
            return Instrument(s, code, Exchange.SZSE, Board.INDEX, SecurityType.INDEX)
        if code.startswith(("300", "301")):
            return Instrument(s, code, Exchange.SZSE, Board.CHINEXT, SecurityType.STOCK)
        if code.startswith(("000", "001", "002", "003")):
            return Instrument(s, code, Exchange.SZSE, Board.SZSE_MAIN, SecurityType.STOCK)
        if code.startswith(_SZSE_FUND_PREFIXES):
            return Instrument(s, code, Exchange.SZSE, Board.FUND, SecurityType.FUND)
        raise InvalidSymbolError("not a known Shenzhen stock, fund or index code range", symbol=symbol)
    # BJ: Beijing Stock Exchange (codes 43x, 83x, 87x, 88x, 92x)
    if code.startswith(("43", "83", "87", "88", "92")):
        return Instrument(s, code, Exchange.BSE, Board.BSE, SecurityType.STOCK)
    raise InvalidSymbolError("not a known Beijing stock code range", symbol=symbol)


def parse_symbols(text: str) -> list[Instrument]:
    """Parse a comma-separated list, rejecting duplicates."""
    out: list[Instrument] = []
    seen: set[str] = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        inst = parse_symbol(part)
        if inst.symbol in seen:
            raise InvalidSymbolError("duplicate symbol in list", symbol=part)
        seen.add(inst.symbol)
        out.append(inst)
    if not out:
        raise InvalidSymbolError("empty symbol list", symbols=text)
    return out


def symbols_for_code(code: str) -> list[Instrument]:
    """Every symbol a bare 6-digit code can name by the exchanges' code ranges, e.g. ``600519`` ->
    [600519.SH]; ``000001`` -> [000001.SH (SSE Composite index), 000001.SZ (Ping An Bank)]. Empty if the
    code is in no range. The caller decides between several (e.g. by the symbols its data holds)."""
    code = code.strip()
    if len(code) != 6 or not code.isdigit():
        return []
    out = []
    for suffix in ("SH", "SZ", "BJ"):
        try:
            out.append(parse_symbol(f"{code}.{suffix}"))
        except InvalidSymbolError:
            continue
    return out
