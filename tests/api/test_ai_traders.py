"""AI traders over HTTP: created with ``nofx ai paper``'s trader model, run in the supervised worker
against a real local mock model server (the app ``nofx ai serve-mock`` serves), decision log at
``GET /traders/{id}/decisions``; the endpoint must be one the server allows, the key is named by the
server's setting for it, and the key itself never appears in a response or a log line."""

from __future__ import annotations

import logging
import time

import pytest
from api_live_server import assert_error, live_server

from nofx.ai.mock_server import MockServer, MockState

KEY_ENV = "NOFX_TEST_AI_KEY"
KEY = "sk-test-5ecret-never-shown-0123456789"


@pytest.fixture(scope="module")
def mock_llm():  # type: ignore[no-untyped-def]
    # the first two calls answer with an error that echoes the Authorization header (as some providers do)
    with MockServer(state=MockState(script=["echo_key", "echo_key"])) as srv:
        yield srv


@pytest.fixture()
def ai_server(tmp_path, mock_llm, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv(KEY_ENV, KEY)
    with live_server(tmp_path, ai_endpoints={mock_llm.url: KEY_ENV}) as s:
        yield s


def _ai_body(url: str, **trader: object) -> dict:
    return {"name": "ai one", "kind": "ai", "config": {
        "symbols": ["600519.SH", "000001.SZ", "601318.SH"], "start": "2020-02-03", "end": "2020-03-31",
        "cash": "1000000", "speed": 0,
        "trader": {"base_url": url, "model": "mock-momentum", "decision_every": 5, "max_retries": 1,
                   "backoff_s": 0.01, "timeout_s": 10, "style": "momentum", "limits": {"max_positions": 2},
                   **trader}}}


def test_ai_trader_runs_against_the_mock_and_shows_its_decisions(ai_server, mock_llm, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    c = ai_server.user_client("ai-user")
    r = c.post("/api/v1/traders", json=_ai_body(mock_llm.url))
    assert r.status_code == 201, r.text
    tr = r.json()
    assert tr["kind"] == "ai" and tr["config"]["trader"]["api_key_env"] == KEY_ENV  # the NAME, from the server
    tid = tr["trader_id"]
    requests_before = mock_llm.state.requests
    assert c.post(f"/api/v1/traders/{tid}/start").status_code == 200
    deadline = time.monotonic() + 120
    while c.get(f"/api/v1/traders/{tid}").json()["state"] not in ("finished", "failed"):
        assert time.monotonic() < deadline, "AI trader did not finish"
        time.sleep(0.2)
    state = c.get(f"/api/v1/traders/{tid}").json()
    assert state["state"] == "finished", state
    assert mock_llm.state.requests > requests_before  # it called the model over HTTP
    d = c.get(f"/api/v1/traders/{tid}/decisions?limit=1000")
    assert d.status_code == 200
    rows = d.json()
    assert len(rows) >= 5 and all(row["model"] == "mock-momentum" for row in rows)
    assert any(row["status"] != "ok" for row in rows)  # the cycle whose calls failed is in the log
    assert any(row["decisions"] for row in rows)  # and the model's decisions of the others
    orders = c.get(f"/api/v1/orders?trader_id={tid}").json()["items"]
    assert orders, "the AI trader's decisions became orders on the one order path"
    # the key was sent to the mock (which echoed it back in an error), but nothing shows or logs it
    for text in (r.text, state and str(state), d.text, c.get("/api/v1/traders").text,
                 c.get(f"/api/v1/traders/{tid}").text, caplog.text):
        assert KEY not in text
    # another user sees neither the trader nor its decisions
    other = ai_server.user_client("ai-other")
    assert_error(other.get(f"/api/v1/traders/{tid}/decisions"), 404)


def test_ai_endpoint_and_key_name_come_from_the_server(ai_server, mock_llm) -> None:  # type: ignore[no-untyped-def]
    c = ai_server.user_client("ai-user2")
    err = assert_error(c.post("/api/v1/traders", json=_ai_body("http://203.0.113.7/v1")), 422,
                       "AI_ENDPOINT_NOT_ALLOWED")
    assert err["details"]["field"] == "config.trader.base_url"
    # a user cannot send the allowed endpoint another variable (e.g. the server's JWT secret)
    err = assert_error(c.post("/api/v1/traders", json=_ai_body(mock_llm.url, api_key_env="NOFX_JWT_SECRET")), 422)
    assert err["details"]["field"] == "config.trader.api_key_env"
    for field, value in (("prompt_template", "/etc/passwd"), ("news", "/etc/hosts"), ("cache_dir", "/tmp/x")):
        err = assert_error(c.post("/api/v1/traders", json=_ai_body(mock_llm.url, **{field: value})), 422)
        assert err["details"]["field"] == f"config.trader.{field}"
    err = assert_error(c.post("/api/v1/traders", json={**_ai_body(mock_llm.url), "kind": "robot"}), 422)
    assert_error(c.post("/api/v1/traders", json=_ai_body(mock_llm.url, temperature=9)), 422)
