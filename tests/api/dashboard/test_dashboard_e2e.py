"""The dashboard in a real browser against a real ``nofx serve`` process (temp SQLite ledger, the
bundled bars): log in, create and start a paper trader, watch its equity change without a reload,
send an order that the risk engine refuses and one that rests, cancel it, open the market chart, run a
backtest with its progress bar and open its report, find the trader on the leaderboard. Any browser
console error or uncaught exception fails the test, as does a request to any host but the server (the
dashboard must work offline). Screenshots of each page at 1280x800 and 390x844 go to out/screenshots;
on the phone size no page may scroll sideways."""

from __future__ import annotations

import json
import re
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from api_live_server import CLI_PASSWORD, Served, cli_env, nofx_cli

from nofx.persistence.decisions import DecisionLog, DecisionRow
from nofx.persistence.store import SqlLedgerStore

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
# 000001.SZ in the bundled slice: 2019-01-03 closed at 9.28, so the 2019-01-04 band is [8.35, 10.21] and
# its low 9.22; a buy at 8.50 rests unfilled, a buy at 5.00 is outside the band (RISK_PRICE_LIMIT).
RESTING, OUTSIDE_BAND = "8.50", "5.00"
# 6 x real time... per day: a daily bar every 86400/14400 = 6 s, so a DAY order lives for one 6 s slice
SPEED = 14400
ACCESS_TTL_S = 30
SESSION = "JSON.parse(sessionStorage.getItem('nofx.session'))"


class Watch:
    """Collects what must never happen in a page: console errors, uncaught exceptions, and requests
    to any host other than the server."""

    def __init__(self, page: Any, host: str) -> None:
        self.problems: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.problems.append(f"console error: {m.text}"))
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("request", lambda r: urlparse(r.url).scheme in ("http", "https", "ws", "wss")
                and urlparse(r.url).netloc != host and self.problems.append(f"off-server request: {r.url}"))


def log_decision(db_url: str, trader_id: str) -> None:
    """One AI decision cycle in the trader's decision log, written as an AI trader writes it (strategy
    traders make none; an AI trader would need a model endpoint): a buy the position limit refused."""
    store = SqlLedgerStore(db_url, migrate=False)
    try:
        DecisionLog(store).record(DecisionRow(
            trader_id, 1, 1, datetime(2019, 1, 2), "ok", "live", None, "mock-model",
            decisions=[{"symbol": "600519.SH", "action": "buy", "size": 0.2, "confidence": 0.8,
                        "reasoning": "MA5 crossed above MA20 on rising volume"}],
            outcomes=[{"index": 0, "symbol": "600519.SH", "action": "buy", "status": "refused",
                       "reason": "max_position_value 100000 would be exceeded", "order": None}],
            calls=[{"role": "trader", "purpose": "decide", "prompt_hash": "ab12cd34ef567890", "prompt_tokens": 1234,
                    "completion_tokens": 56, "latency_ms": 12.5, "cached": False, "reply": "{}"}],
            latency_ms=12.5, prompt_tokens=1234, completion_tokens=56, cost=Decimal("0.0012"), memory=""), {})
    finally:
        store.close()


def shoot(page: Any, folder: Path, name: str) -> None:
    """Whole-page screenshots at desktop and phone width; on the phone the page must not scroll sideways."""
    for size in (DESKTOP, PHONE):
        page.set_viewport_size(size)
        page.evaluate("window.scrollTo(0, 0)")
        page.wait_for_timeout(500)  # charts resize on the window's resize event
        page.screenshot(path=str(folder / f"{name}-{size['width']}x{size['height']}.png"), full_page=True)
    width, inner = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
    assert width <= inner, f"{name}: the phone layout scrolls sideways ({width} > {inner} px)"
    page.set_viewport_size(DESKTOP)


@pytest.mark.slow
def test_dashboard_end_to_end(tmp_path: Path, chromium: Any, screenshots: Path) -> None:
    assert nofx_cli(tmp_path, "user", "create", "alice").returncode == 0
    # 30 s access tokens: the page must renew its session (rotating refresh tokens) several times on the way
    srv = Served(tmp_path, env={"NOFX_API_SETTINGS": json.dumps({"access_ttl_s": ACCESS_TTL_S})})
    page = chromium.new_page()
    watch = Watch(page, urlparse(srv.url).netloc)
    page.set_default_timeout(30_000)
    try:
        _flow(page, srv, watch, screenshots, cli_env(tmp_path)["NOFX_DB_URL"])
    except Exception:
        page.screenshot(path=str(screenshots / "failure.png"), full_page=True)
        print("browser problems:", watch.problems)
        raise
    finally:
        page.close()
        assert srv.stop()


def _flow(page: Any, srv: Served, watch: Watch, screenshots: Path, db_url: str) -> None:
    if True:

        # ---- login -------------------------------------------------------------------------------------
        page.goto(srv.url + "/")
        page.wait_for_selector("form.login")
        shoot(page, screenshots, "login")
        page.fill("input[name=username]", "alice")
        page.fill("input[name=password]", "wrong password")
        page.click("form.login button[type=submit]")
        page.wait_for_selector("form.login .error:has-text('Invalid')")
        watch.problems = [p for p in watch.problems if "401" not in p]  # the refused login's own 401
        page.fill("input[name=password]", CLI_PASSWORD)
        page.click("form.login button[type=submit]")
        page.wait_for_selector("h1:has-text('Traders')")
        page.evaluate("window.__sameDocument = true")  # gone if anything reloads the page
        first = page.evaluate(SESSION)

        # ---- create and start a paper trader on the bundled data ------------------------------------------
        page.fill("form.form input[name=name]", "e2e dual ma")
        page.fill("form.form input[name=symbols]", "000001.SZ, 600519.SH")
        page.fill("form.form input[name=speed]", str(SPEED))
        page.fill("form.form input[name=start]", "2019-01-02")
        page.fill("form.form input[name=end]", "2019-12-31")
        page.click("form.form button[type=submit]")
        page.wait_for_url(re.compile(r"#/traders/tr_"))
        trader_id = page.url.rsplit("/", 1)[1]
        page.wait_for_selector("#equity-chart")
        page.click("button:has-text('Start')")
        page.wait_for_selector("h1 .state.running")

        # ---- its equity updates over the WebSocket, without a reload --------------------------------------
        page.wait_for_function("document.querySelector('.kpis .asof').textContent.startsWith('2019-01-02')")
        page.wait_for_function("document.querySelector('.kpis .asof').textContent.startsWith('2019-01-03')")
        assert page.evaluate("window.__sameDocument") is True
        assert page.evaluate("document.getElementById('equity-chart').data[0].x.length") >= 2
        assert page.inner_text(".kpis .equity").startswith("¥")

        # ---- an order outside the price band is refused, with its reason ------------------------------------
        ticket = "form.ticket"
        page.select_option(f"{ticket} select[name=symbol]", "000001.SZ")
        page.fill(f"{ticket} input[name=quantity]", "100")
        page.fill(f"{ticket} input[name=limit_price]", OUTSIDE_BAND)
        page.click(f"{ticket} button[type=submit]")
        page.wait_for_selector("#rejections td:has-text('RISK_PRICE_LIMIT')")
        assert "band" in page.inner_text("#rejections")

        # ---- the decision log: prompt summary, reasoning, decisions, what the risk limits did -----------------
        log_decision(db_url, trader_id)
        page.fill(f"{ticket} input[name=limit_price]", OUTSIDE_BAND)
        page.click(f"{ticket} button[type=submit]")  # an order event: the page reads the log again
        page.click("#decisions details summary:has-text('#1')")
        text = page.inner_text("#decisions")
        for part in ("1234 prompt tokens", "MA5 crossed above MA20", "refused", "max_position_value", "mock-model"):
            assert part in text, (part, text)

        # ---- one that rests, cancelled from its row ----------------------------------------------------------
        page.fill(f"{ticket} input[name=limit_price]", RESTING)
        page.click(f"{ticket} button[type=submit]")
        row = page.wait_for_selector("#open-orders tr[data-order]")
        order_id = row.get_attribute("data-order")
        row.query_selector("button[data-cancel]").click()
        page.wait_for_selector(f"#toast :text('Cancelled {order_id.rsplit('-', 1)[1]}')")
        page.wait_for_selector(f"#open-orders tr[data-order='{order_id}']", state="detached")

        # ---- a market buy fills at the next open: live fill, position locked today (T+1), sellable next day ----
        page.select_option(f"{ticket} select[name=order_type]", "market")
        page.click(f"{ticket} button[type=submit]")
        page.wait_for_selector("#fills td:has-text('000001.SZ')")
        pos = "main section:has(h2:text-is('Positions')) tbody tr:has-text('000001.SZ')"
        page.wait_for_selector(pos)
        assert page.inner_text(f"{pos} td >> nth=1") == "100"
        page.wait_for_selector(f"{pos} td:nth-child(3):text-is('0')")  # bought today: none sellable
        page.wait_for_selector(f"{pos} td:nth-child(3):text-is('100')")  # the next trading day
        shoot(page, screenshots, "trader")

        # ---- overview: live numbers and the stop button ----------------------------------------------------
        page.click("nav a[data-page=traders]")
        card = f"article[data-trader='{trader_id}']"
        page.wait_for_selector(f"{card} .equity:has-text('¥')")
        before = page.inner_text(f"{card} .asof")
        page.wait_for_function(f"(b) => document.querySelector(\"{card} .asof\").textContent !== b", arg=before,
                               timeout=40_000)
        shoot(page, screenshots, "traders")

        # ---- market: candles and volume with the trader's buy; limit-up days of another symbol -------------------
        page.click("nav a[data-page=market]")
        page.select_option("main select[name=trader]", trader_id)
        page.select_option("main select[name=symbol]", "000001.SZ")
        page.wait_for_selector("#candles .main-svg")
        page.wait_for_selector("main .card p.muted:has-text('1 buys')")
        assert "buys" in page.evaluate("document.getElementById('candles').data.map(t => t.name).join()")
        info = page.inner_text("main .card p.muted")
        assert "2019-01-02 – 2019-01-0" in info, info  # the chart stops at the trader's clock: no bars from its future
        page.select_option("main select[name=trader]", "")  # no trader: the whole file
        page.wait_for_selector("main .card p.muted:not(:has-text('buys'))")
        page.select_option("main select[name=symbol]", "300750.SZ")
        page.wait_for_selector("main .card h2:text-is('300750.SZ')")
        page.wait_for_selector("#candles .main-svg")
        info = page.inner_text("main .card p.muted")
        assert re.search(r"[1-9]\d* days closed limit up", info), info  # CATL's 2019-2021 has some
        shoot(page, screenshots, "market")

        # ---- backtests: run one with a progress bar, open its report ----------------------------------------------
        page.click("nav a[data-page=backtests]")
        page.wait_for_selector("form.form select[name=strategy]")
        page.select_option("form.form select[name=strategy]", "dual_ma")
        page.fill("form.form input[name=symbols]", "600519.SH, 000001.SZ")
        page.fill("form.form input[name=start]", "2020-01-02")
        page.fill("form.form input[name=end]", "2020-12-31")
        page.click("form.form button[type=submit]")
        page.wait_for_selector("#bt-progress [role=progressbar]")
        page.wait_for_selector("#open-report", timeout=120_000)
        shoot(page, screenshots, "backtests")
        page.click("#open-report")
        frame = page.frame_locator("#report-frame")
        frame.locator(".plotly-graph-div .main-svg").first.wait_for(timeout=60_000)  # plotly ran in the frame
        # ... in a sandbox: the report's scripts cannot read the dashboard's session
        assert page.evaluate("""() => { try { return document.getElementById('report-frame').contentWindow
                                         .sessionStorage.length; } catch (e) { return 'blocked'; } }""") == "blocked"
        shoot(page, screenshots, "report")

        # ---- leaderboard, refreshed live -----------------------------------------------------------------------
        page.click("nav a[data-page=leaderboard]")
        page.wait_for_selector("#board td:has-text('e2e dual ma')")
        stamp = page.inner_text("#board-updated")
        page.wait_for_function("(s) => document.getElementById('board-updated').textContent !== s", arg=stamp)
        shoot(page, screenshots, "leaderboard")

        # ---- colours: red up by default, switchable, kept in the browser --------------------------------------------
        up_colour = "getComputedStyle(document.getElementById('probe')).color"
        page.evaluate("document.body.append(Object.assign(document.createElement('span'), {id: 'probe', className: 'up'}))")
        assert page.evaluate("document.documentElement.dataset.colors") == "cn"
        assert page.evaluate(up_colour) == "rgb(217, 54, 62)"  # red
        page.click("#colors")
        page.wait_for_selector("#board td")  # the page is drawn again in the new colours
        assert page.evaluate("localStorage.getItem('nofx.colors')") == "intl"
        assert page.evaluate(up_colour) == "rgb(23, 163, 74)"  # green
        page.click("#colors")

        # ---- amounts: the market's currency, formatted from the decimal string (no float on the way) --------------
        fmt = page.evaluate("""import('/assets/js/util.js').then((u) => [u.money('9007199254740993.01', 'CNY'),
                                 u.money('1234.5', 'HKD'), u.currencyOf(['0700.HK']), u.currencyOf(['600519.SH'])])""")
        assert fmt == ["¥9,007,199,254,740,993.01", "HK$1,234.50", "HKD", "CNY"], fmt

        assert page.evaluate("window.__sameDocument") is True  # every page so far without a reload
        assert page.evaluate("Date.now()") > first["expires_at"]  # the first token has expired ...
        now = page.evaluate(SESSION)  # ... and the page renewed it (and the rotating refresh token) on its own
        assert now["access_token"] != first["access_token"] and now["refresh_token"] != first["refresh_token"]
        page.click("#logout")
        page.wait_for_selector("form.login")
        assert watch.problems == []
