from __future__ import annotations

import pytest

from nofx.domain.errors import InvalidSymbolError
from nofx.domain.instruments import Board, Exchange, Market, parse_symbol, parse_symbols


@pytest.mark.parametrize("sym,exchange,board", [
    ("600519.SH", Exchange.SSE, Board.SSE_MAIN),
    ("000001.SZ", Exchange.SZSE, Board.SZSE_MAIN),
    ("300750.SZ", Exchange.SZSE, Board.CHINEXT),
    ("688981.SH", Exchange.SSE, Board.STAR),
    ("430047.BJ", Exchange.BSE, Board.BSE),
    ("0700.HK", Exchange.HKEX, Board.HK_MAIN),
    ("000300.SH", Exchange.SSE, Board.INDEX),
    ("399006.SZ", Exchange.SZSE, Board.INDEX),
])
def test_parse_symbol(sym, exchange, board):
    inst = parse_symbol(sym)
    assert (inst.exchange, inst.board) == (exchange, board)
    assert inst.market is (Market.HK if exchange is Exchange.HKEX else Market.CN)
    assert inst.is_index is (board is Board.INDEX)


@pytest.mark.parametrize("bad", ["600519", "600519.SS", "60051.SH", "ABCDEF.SZ", "700.HK", "123456.SZ", ""])
def test_bad_symbols_say_why(bad):
    with pytest.raises(InvalidSymbolError) as e:
        parse_symbol(bad)
    assert e.value.code == "INVALID_SYMBOL" and bad in str(e.value)


def test_symbol_lists_reject_duplicates():
    assert [i.symbol for i in parse_symbols("600519.SH, 0700.HK")] == ["600519.SH", "0700.HK"]
    with pytest.raises(InvalidSymbolError, match="duplicate"):
        parse_symbols("600519.SH,600519.SH")
