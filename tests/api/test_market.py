"""Market data endpoints: bare codes resolved by the exchanges' code ranges (the data decides between
overlapping ranges; ambiguous or unknown codes are a 422 naming them), quotes cached briefly, bars by
date range; on the bundled slice and on a ``--data`` file."""

from __future__ import annotations

from pathlib import Path

import pytest
from api_live_server import assert_error, live_server

from nofx.data.bundled import load_bundled


@pytest.fixture(scope="module")
def c(server):  # type: ignore[no-untyped-def]
    return server.user_client("viewer")


@pytest.mark.parametrize("given, resolved", [("600519", "600519.SH"), ("600519.sh", "600519.SH"),
                                             ("000001", "000001.SZ"), ("300750", "300750.SZ"),
                                             ("688981", "688981.SH"), ("000300.SH", "000300.SH")])
def test_symbols_resolve_and_echo(c, given: str, resolved: str) -> None:  # type: ignore[no-untyped-def]
    r = c.get(f"/api/v1/market/{given}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["symbol"] == resolved and body["quote"] == body["bars"][-1] and len(body["bars"]) == 20
    assert isinstance(body["quote"]["close"], str) and body["quote"]["ts"].startswith("2021-12-31")


@pytest.mark.parametrize("given, code", [("999999", "UNKNOWN_SYMBOL"), ("12345", "UNKNOWN_SYMBOL"),
                                         ("ABCDEF", "UNKNOWN_SYMBOL"), ("700000.SH", "UNKNOWN_SYMBOL")])
def test_unknown_symbols_are_422_naming_them(c, given: str, code: str) -> None:  # type: ignore[no-untyped-def]
    err = assert_error(c.get(f"/api/v1/market/{given}"), 422, code)
    assert given in err["message"] and err["details"]["field"] == "symbol"


def test_symbol_without_data_is_404(c) -> None:  # type: ignore[no-untyped-def]
    assert_error(c.get("/api/v1/market/600000.SH"), 404, "NOT_FOUND")


def test_bars_by_range(c) -> None:  # type: ignore[no-untyped-def]
    r = c.get("/api/v1/market/600519/bars", params={"start": "2020-03-02", "end": "2020-03-06"})
    bars = r.json()["bars"]
    assert r.json()["symbol"] == "600519.SH" and [b["ts"][:10] for b in bars] == \
        ["2020-03-02", "2020-03-03", "2020-03-04", "2020-03-05", "2020-03-06"]
    assert len(c.get("/api/v1/market/600519/bars", params={"limit": 7}).json()["bars"]) == 7
    # a date pandas cannot hold (found by schemathesis: a 500 before) is a 422 naming the field
    far = assert_error(c.get("/api/v1/market/600519/bars", params={"end": "0258-04-25"}), 422)
    assert far["details"][0]["field"] == "end"
    err = assert_error(c.get("/api/v1/market/600519/bars", params={"start": "2020-03-06", "end": "2020-03-02"}), 422)
    assert err["details"][0]["field"] == "start"
    err = assert_error(c.get("/api/v1/market/600519/bars", params={"limit": 0}), 422)
    assert err["details"][0]["field"] == "limit"


def test_quotes_are_cached_with_a_short_ttl(server, c) -> None:  # type: ignore[no-untyped-def]
    c.get("/api/v1/market/600036.SH")
    assert server.svc.state.cache_get("quote:600036.SH") is not None


def test_overlapping_code_ranges_are_ambiguous_when_data_holds_both(tmp_path: Path) -> None:
    bars = load_bundled(["000001.SZ", "000300.SH"])
    bars.loc[bars["symbol"] == "000300.SH", "symbol"] = "000001.SH"  # the SSE Composite's code
    path = tmp_path / "both.parquet"
    bars.reset_index(drop=True).to_parquet(path)
    with live_server(tmp_path, data_path=str(path)) as s:
        c = s.user_client("u")
        err = assert_error(c.get("/api/v1/market/000001"), 422, "AMBIGUOUS_SYMBOL")
        assert "000001.SH" in err["message"] and "000001.SZ" in err["message"]
        assert err["details"]["candidates"] == ["000001.SH", "000001.SZ"]
        assert c.get("/api/v1/market/000001.SH").json()["symbol"] == "000001.SH"
        assert_error(c.get("/api/v1/market/600519"), 404)  # in the code ranges, not in this file
