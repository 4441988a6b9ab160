"""What the dashboard's forms and screens read besides the core API: the strategies with their
parameters, the symbols of the bars file, each bar's price-limit band, and positions with what is
sellable today (T+1) and their mark."""

from __future__ import annotations

import time
from decimal import Decimal

from api_live_server import assert_error


def test_strategies_and_symbols(server) -> None:  # type: ignore[no-untyped-def]
    c = server.user_client("catalog1")
    s = {x["name"]: x for x in c.get("/api/v1/strategies").json()}
    assert {"buy_and_hold", "dual_ma"} <= set(s)
    assert s["dual_ma"]["params"]["fast"]["default"] == 5 and s["dual_ma"]["params"]["slow"]["default"] == 20
    assert "moving average" in s["dual_ma"]["summary"]
    syms = {x["symbol"]: x for x in c.get("/api/v1/symbols").json()}
    assert len(syms) == 33  # the bundled slice
    assert syms["600519.SH"]["first"] == "2019-01-02T00:00:00+08:00" and syms["600519.SH"]["last"].startswith("2021-12-31")
    assert syms["000300.SH"]["is_index"] and not syms["600519.SH"]["is_index"]
    with server.client() as anon:
        assert_error(anon.get("/api/v1/strategies"), 401)
        assert_error(anon.get("/api/v1/symbols"), 401)


def test_bars_carry_the_price_limit_band(server) -> None:  # type: ignore[no-untyped-def]
    c = server.user_client("catalog2")
    bars = {b["ts"][:10]: b for b in c.get("/api/v1/market/300750.SZ/bars",
                                          params={"start": "2020-01-20", "end": "2020-09-30", "limit": 5000}).json()["bars"]}
    day = bars["2020-01-22"]  # ChiNext, 10% band before the 2020-08-24 reform; CATL closed limit up
    assert (day["preclose"], day["limit_up"], day["limit_down"], day["close"]) == ("121.65", "133.82", "109.49", "133.82")
    later = bars["2020-09-01"]  # after the reform: 20%
    assert abs(Decimal(later["limit_up"]) / Decimal(later["preclose"]) - Decimal("1.2")) < Decimal("0.0005")
    index = c.get("/api/v1/market/000300.SH/bars", params={"limit": 3}).json()["bars"]
    assert all(b["limit_up"] is None and b["limit_down"] is None for b in index)  # an index has no band


def test_positions_show_sellable_today_and_their_mark(server) -> None:  # type: ignore[no-untyped-def]
    c = server.user_client("catalog3")
    # buy_and_hold decides on 2019-01-02 and fills at the 2019-01-03 open, the run's last day: all of it
    # was bought "today", so none of it may be sold yet (T+1)
    body = {"name": "t1", "config": {"strategy": "buy_and_hold", "symbols": ["600519.SH", "000001.SZ"],
                                     "start": "2019-01-02", "end": "2019-01-03"}}
    tid = c.post("/api/v1/traders", json=body).json()["trader_id"]
    assert c.post(f"/api/v1/traders/{tid}/start").status_code == 200
    deadline = time.monotonic() + 60
    while c.get(f"/api/v1/traders/{tid}").json()["state"] != "finished":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    positions = {p["symbol"]: p for p in c.get("/api/v1/positions", params={"trader_id": tid}).json()}
    assert set(positions) == {"600519.SH", "000001.SZ"}
    closes = {"600519.SH": Decimal("590"), "000001.SZ": Decimal("9.28")}  # 2019-01-03 closes
    for sym, p in positions.items():
        qty, avg = p["quantity"], Decimal(p["avg_cost"])
        assert qty > 0 and p["sellable"] == 0, p
        assert Decimal(p["last_price"]) == closes[sym]
        assert Decimal(p["market_value"]) == closes[sym] * qty
        assert Decimal(p["unrealised_pnl"]) == ((closes[sym] - avg) * qty).quantize(Decimal("0.01"))
    # the same buys seen from a later day are sellable
    body["config"]["end"] = "2019-01-04"
    tid2 = c.post("/api/v1/traders", json={**body, "name": "t2"}).json()["trader_id"]
    assert c.post(f"/api/v1/traders/{tid2}/start").status_code == 200
    while c.get(f"/api/v1/traders/{tid2}").json()["state"] != "finished":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    later = c.get("/api/v1/positions", params={"trader_id": tid2}).json()
    assert later and all(p["sellable"] == p["quantity"] for p in later)
