"""The LLM client against the real local mock server: per-endpoint concurrency shared by traders, cost
accounting from the price table."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

from nofx.ai.backtest import run_ai_backtest
from nofx.ai.client import EndpointPool, LLMClient
from nofx.ai.config import EndpointConfig
from nofx.ai.mock_server import MockServer, MockState, count_tokens
from nofx.strategies.ai.cycle import ChatRequest
from tests.ai.conftest import ai_config

REQ = ChatRequest("trader", "decide", ({"role": "system", "content": "s"},
                                       {"role": "user", "content": "<market_data>\n{}\n</market_data>"}), None)


def test_one_endpoint_limit_is_shared_by_all_traders() -> None:
    # every request hangs 0.4 s at the server; two traders, four calls, a limit of 2 in flight per endpoint
    with MockServer(state=MockState(timeout_sleep=0.4)) as srv:
        cfg = EndpointConfig(base_url=srv.url, model="mock-momentum+timeout", concurrency=2, timeout_s=5,
                             response_format=False)

        async def run() -> tuple[float, list]:
            pool = EndpointPool()
            a, b = LLMClient(cfg, pool), LLMClient(cfg, pool)
            t0 = time.perf_counter()
            replies = await asyncio.gather(*(c.complete(REQ) for c in (a, b, a, b)))
            took = time.perf_counter() - t0
            await a.aclose()
            await b.aclose()
            return took, replies

        took, replies = asyncio.run(run())
    assert all(r.error is None for r in replies)
    assert took >= 0.8 * 0.98, "four 0.4 s calls with two in flight take at least two rounds"


def test_tokens_and_cost_from_the_price_table(mock_llm, tmp_path) -> None:
    prices = {"mock-momentum": {"input_per_mtok": "2.0", "output_per_mtok": "8.0"}}
    res = run_ai_backtest(ai_config(mock_llm.url, tmp_path, end="2020-03-15", prices=prices))
    u = res.usage
    assert u["prompt_tokens"] > 0 and u["completion_tokens"] > 0
    expected = (Decimal(2) * u["prompt_tokens"] + Decimal(8) * u["completion_tokens"]) / Decimal(1_000_000)
    assert Decimal(u["cost"]) == expected
    assert sum(Decimal(d["cost"]) for d in res.decisions) == expected


def test_usage_is_the_servers_real_token_count(mock_llm) -> None:
    # the client accounts what the server reports; the mock reports DeepSeek-V4 tokenizer counts
    cfg = EndpointConfig(base_url=mock_llm.url, response_format=False)

    async def run():  # type: ignore[no-untyped-def]
        client = LLMClient(cfg)
        reply = await client.complete(REQ)
        await client.aclose()
        return client, reply

    client, reply = asyncio.run(run())
    assert reply.error is None
    assert reply.prompt_tokens == sum(count_tokens(m["content"]) + 4 for m in REQ.messages)
    assert reply.completion_tokens == count_tokens(reply.text)
    assert client.usage.prompt_tokens == reply.prompt_tokens


def test_a_429_waits_what_retry_after_says_not_the_backoff() -> None:
    # backoff would wait 30 s; the server says 0.05 s: the retry comes at once and succeeds
    with MockServer(state=MockState(script=["rate_limit", "ok"], retry_after=0.05)) as srv:
        cfg = EndpointConfig(base_url=srv.url, response_format=False, backoff_s=30, backoff_max_s=60,
                             max_retries=1, timeout_s=5)

        async def run():  # type: ignore[no-untyped-def]
            client = LLMClient(cfg)
            reply = await client.complete(REQ)
            await client.aclose()
            return reply

        reply = asyncio.run(run())
    assert reply.error is None and reply.attempts == 2
    assert reply.latency_ms < 20_000, "the retry waited the backoff, not Retry-After"
