"""LLM client for any OpenAI-compatible chat-completions endpoint (DeepSeek, Qwen, GLM, Kimi, vLLM,
Ollama, ``nofx ai serve-mock``): httpx async, timeouts, retries with exponential backoff and jitter on
429/5xx/transport errors honouring ``Retry-After`` (tenacity), a circuit breaker and a concurrency limit
per endpoint (an :class:`EndpointPool` shared by every trader that calls it), token and cost accounting.

The API key is read from the environment variable the config NAMES, only when a request is sent, and
:func:`redact` removes it from every error text this module produces.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from nofx.ai.config import EndpointConfig
from nofx.strategies.ai.cycle import ChatRequest, ModelReply

_MTOK = Decimal(1_000_000)


class RetryableStatus(Exception):
    def __init__(self, status: int, retry_after: float | None, body: str) -> None:
        super().__init__(f"HTTP {status}: {body[:200]}")
        self.status, self.retry_after = status, retry_after


class CallFailed(Exception):
    """A call that must not be retried (4xx other than 429, unusable response)."""


class SchemaRefused(CallFailed):
    """HTTP 400 naming response_format: the server does not support structured output."""


def redact(text: str, *secrets: str | None) -> str:
    for s in secrets:
        if s and len(s) >= 4 and s in text:
            text = text.replace(s, "***")
    return text


def api_key(cfg: EndpointConfig) -> str | None:
    return os.environ.get(cfg.api_key_env) if cfg.api_key_env else None


@dataclass
class Breaker:
    """Opens after ``threshold`` failed calls in a row; lets one call through after ``cooldown`` s."""

    threshold: int
    cooldown: float
    failures: int = 0
    opened_at: float | None = None

    def allow(self, now: float) -> bool:
        return self.opened_at is None or now - self.opened_at >= self.cooldown

    def success(self) -> None:
        self.failures, self.opened_at = 0, None

    def failure(self, now: float) -> None:
        self.failures += 1
        if self.failures >= self.threshold:
            self.opened_at = now


@dataclass
class EndpointPool:
    """Per-endpoint shared state: the concurrency semaphore and the circuit breaker. One pool per
    event loop; an arena of traders shares it so N traders never exceed one endpoint's limit."""

    semaphores: dict[str, asyncio.Semaphore] = field(default_factory=dict)
    breakers: dict[str, Breaker] = field(default_factory=dict)

    def semaphore(self, cfg: EndpointConfig) -> asyncio.Semaphore:
        sem = self.semaphores.get(cfg.base_url)
        if sem is None:
            sem = self.semaphores[cfg.base_url] = asyncio.Semaphore(cfg.concurrency)
        return sem

    def breaker(self, cfg: EndpointConfig) -> Breaker:
        b = self.breakers.get(cfg.base_url)
        if b is None:
            b = self.breakers[cfg.base_url] = Breaker(cfg.breaker_failures, cfg.breaker_cooldown_s)
        return b


@dataclass
class Usage:
    """Per-trader accounting."""

    calls: int = 0
    cache_hits: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: Decimal = Decimal(0)

    def to_dict(self) -> dict[str, Any]:
        return {"calls": self.calls, "cache_hits": self.cache_hits, "failures": self.failures,
                "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "cost": str(self.cost)}


def cost_of(cfg: EndpointConfig, prompt_tokens: int, completion_tokens: int) -> Decimal:
    price = cfg.prices.get(cfg.model)
    if price is None:
        return Decimal(0)
    return (price.input_per_mtok * prompt_tokens + price.output_per_mtok * completion_tokens) / _MTOK


def _retry_after(headers: httpx.Headers) -> float | None:
    v = headers.get("retry-after")
    if v is None:
        return None
    try:
        return max(0.0, float(v))
    except ValueError:
        return None  # an HTTP date: fall back to the backoff


class LLMClient:
    def __init__(self, cfg: EndpointConfig, pool: EndpointPool | None = None,
                 http: httpx.AsyncClient | None = None) -> None:
        self.cfg = cfg
        self.pool = pool or EndpointPool()
        self._http = http
        self._own_http = http is None
        self.usage = Usage()
        # called with every reply (metrics: nofx.observability); an observer must be quick and never raise
        self.observers: list[Callable[[ModelReply], None]] = []
        self.schema_supported = cfg.response_format  # turned off when the server refuses response_format
        self._backoff = wait_exponential_jitter(multiplier=cfg.backoff_s, max=cfg.backoff_max_s, jitter=cfg.backoff_s)

    async def aclose(self) -> None:
        if self._http is not None and self._own_http:
            await self._http.aclose()
            self._http = None

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=httpx.Timeout(self.cfg.timeout_s))
        return self._http

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RetryableStatus) and exc.retry_after is not None:
            return min(exc.retry_after, self.cfg.backoff_max_s)
        return self._backoff(state)

    def body(self, req: ChatRequest) -> dict[str, Any]:
        c = self.cfg
        body: dict[str, Any] = {"model": c.model, "messages": list(req.messages), "temperature": c.temperature,
                                "max_tokens": c.max_tokens, "stream": c.stream}
        if c.seed is not None:
            body["seed"] = c.seed
        if c.stream:
            body["stream_options"] = {"include_usage": True}
        if req.json_schema is not None and self.schema_supported:
            body["response_format"] = {"type": "json_schema",
                                       "json_schema": {"name": "decisions", "schema": req.json_schema}}
        return body

    async def complete(self, req: ChatRequest) -> ModelReply:
        """Send one chat request; never raises (a failure is a reply with ``error``)."""
        reply = await self._complete(req)
        for observe in self.observers:
            observe(reply)
        return reply

    async def _complete(self, req: ChatRequest) -> ModelReply:
        key = api_key(self.cfg)
        breaker = self.pool.breaker(self.cfg)
        t0 = time.perf_counter()
        attempts = 0
        if not breaker.allow(time.monotonic()):
            self.usage.failures += 1
            return ModelReply(None, f"circuit open for {self.cfg.base_url}: {breaker.failures} failed calls "
                                    "in a row", attempts=0)
        try:
            retrying = AsyncRetrying(stop=stop_after_attempt(self.cfg.max_retries + 1), wait=self._wait,
                                     retry=retry_if_exception(lambda e: isinstance(
                                         e, (RetryableStatus, httpx.TimeoutException, httpx.TransportError))),
                                     reraise=True)
            async for attempt in retrying:
                with attempt:
                    attempts += 1
                    try:
                        text, usage, finish = await self._send(req, key)
                    except SchemaRefused:
                        # a server without structured output: ask again without response_format (the
                        # schema is in the prompt too), and stop sending it to this endpoint
                        self.schema_supported = False
                        text, usage, finish = await self._send(req, key)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a logged, held cycle
            breaker.failure(time.monotonic())
            self.usage.failures += 1
            self.usage.calls += attempts
            kind = type(exc).__name__
            return ModelReply(None, redact(f"{kind}: {exc}" if str(exc) else kind, key), attempts=attempts,
                              latency_ms=(time.perf_counter() - t0) * 1000)
        breaker.success()
        pt, ct = int(usage.get("prompt_tokens", 0) or 0), int(usage.get("completion_tokens", 0) or 0)
        cost = cost_of(self.cfg, pt, ct)
        u = self.usage
        u.calls += attempts
        u.prompt_tokens += pt
        u.completion_tokens += ct
        u.cost += cost
        return ModelReply(text, None, pt, ct, (time.perf_counter() - t0) * 1000, cost, False, attempts, finish)

    async def _send(self, req: ChatRequest, key: str | None) -> tuple[str, dict[str, Any], str | None]:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        url = f"{self.cfg.base_url}/chat/completions"
        async with self.pool.semaphore(self.cfg):
            if self.cfg.stream:
                return await self._stream(url, req, headers, key)
            resp = await self._client().post(url, json=self.body(req), headers=headers)
            self._raise_for(resp, key)
            try:
                data = resp.json()
                choice = data["choices"][0]
                text = choice["message"].get("content") or ""
            except (ValueError, KeyError, IndexError, TypeError) as exc:
                raise CallFailed(redact(f"unusable response body: {exc!r}: {resp.text[:200]}", key)) from None
            return text, data.get("usage") or {}, choice.get("finish_reason")

    async def _stream(self, url: str, req: ChatRequest, headers: dict[str, str],
                      key: str | None) -> tuple[str, dict[str, Any], str | None]:
        parts: list[str] = []
        usage: dict[str, Any] = {}
        finish = None
        async with self._client().stream("POST", url, json=self.body(req), headers=headers) as resp:
            if resp.status_code >= 400:
                await resp.aread()
                self._raise_for(resp, key)
            async for line in resp.aiter_lines():
                if not line.startswith("data:"):
                    continue
                payload = line[5:].strip()
                if payload == "[DONE]":
                    break
                try:
                    chunk = json.loads(payload)
                except json.JSONDecodeError:
                    raise CallFailed(redact(f"malformed stream chunk: {payload[:120]}", key)) from None
                for ch in chunk.get("choices") or ():
                    parts.append((ch.get("delta") or {}).get("content") or "")
                    finish = ch.get("finish_reason") or finish
                if chunk.get("usage"):
                    usage = chunk["usage"]
        return "".join(parts), usage, finish

    @staticmethod
    def _raise_for(resp: httpx.Response, key: str | None) -> None:
        if resp.status_code == 429 or resp.status_code >= 500:
            raise RetryableStatus(resp.status_code, _retry_after(resp.headers), redact(resp.text, key))
        if resp.status_code == 400 and "response_format" in resp.text:
            raise SchemaRefused(redact(f"HTTP 400: {resp.text[:300]}", key))
        if resp.status_code >= 400:
            raise CallFailed(redact(f"HTTP {resp.status_code}: {resp.text[:300]}", key))
