"""One decision cycle as a sans-I/O state machine: the cycle says which chat request to send next, a
driver (sync or async, one trader or an arena of many) sends it and feeds the reply back. Strategies do
no I/O; this keeps the LLM call outside them while the cycle's logic (roles, one repair request,
holding on failure) stays here, testable without a network.

Roles run in order (e.g. analyst -> trader -> risk reviewer). A role that decides must answer with valid
decisions; an invalid reply gets ONE repair request quoting the validation error; if that fails too, or
the call itself fails, the cycle holds (no orders) and the failure is logged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from nofx.strategies.ai.parse import ParsedReply, parse_reply
from nofx.strategies.ai.schema import Decision


@dataclass(frozen=True, slots=True)
class ChatRequest:
    role: str
    purpose: str  # decide | repair | notes
    messages: tuple[dict[str, str], ...]
    json_schema: dict[str, Any] | None  # for response_format where the server supports it


@dataclass(frozen=True, slots=True)
class ModelReply:
    """What a driver got back: the text, or why there is none (timeout, HTTP error, circuit open)."""

    text: str | None
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0
    cost: Decimal = Decimal(0)
    cached: bool = False
    attempts: int = 1
    finish_reason: str | None = None


@dataclass(frozen=True, slots=True)
class RoleStep:
    name: str
    system: str
    decides: bool


def _quote(text: str) -> str:
    return text.replace("<", "\\u003c").replace(">", "\\u003e")


@dataclass
class Cycle:
    number: int
    index: int  # clock slice
    steps: tuple[RoleStep, ...]
    user: str  # rendered context
    schema: dict[str, Any]
    exchanges: list[tuple[ChatRequest, ModelReply]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    decisions: tuple[Decision, ...] | None = None
    error: str | None = None
    repaired: bool = False
    mode: str = "normal"  # the trader's mode when the cycle began (normal | reduce_only | paused_daily_loss)
    context_tokens: int = 0  # estimated size of the rendered context
    guard: Any = None  # the ContaminationGuard the context was built with, to map decisions back
    _step: int = 0
    _pending: ChatRequest | None = None
    _repairs_used: bool = False
    _done: bool = False

    def __post_init__(self) -> None:
        self._pending = self._ask(0)

    @property
    def done(self) -> bool:
        return self._done

    @property
    def failed(self) -> bool:
        return self._done and self.decisions is None

    def next_request(self) -> ChatRequest | None:
        return None if self._done else self._pending

    def _ask(self, k: int) -> ChatRequest:
        step = self.steps[k]
        user = self.user
        if self.notes:
            user += "\n<analyst_notes>\n" + _quote("\n".join(self.notes)) + "\n</analyst_notes>"
        if self.decisions is not None:
            proposed = json.dumps([d.model_dump(mode="json", exclude_none=True) for d in self.decisions],
                                  ensure_ascii=False)
            user += "\n<proposed_decisions>\n" + _quote(proposed) + "\n</proposed_decisions>"
        msgs = ({"role": "system", "content": step.system}, {"role": "user", "content": user})
        return ChatRequest(step.name, "decide" if step.decides else "notes", msgs,
                           self.schema if step.decides else None)

    def feed(self, reply: ModelReply) -> None:
        req = self._pending
        assert req is not None and not self._done, "feed() without a pending request"
        self.exchanges.append((req, reply))
        step = self.steps[self._step]
        if reply.error is not None:
            if not step.decides:  # an analyst that cannot answer leaves the trader without notes
                self.notes.append(f"({step.name} unavailable: {reply.error})")
                self._advance()
                return
            self._fail(f"{step.name}: model call failed: {reply.error}")
            return
        if not step.decides:
            self.notes.append(f"{step.name}: {(reply.text or '').strip()[:4000]}")
            self._advance()
            return
        parsed: ParsedReply = parse_reply(reply.text)
        if parsed.ok and reply.finish_reason == "length":  # cut at max_tokens: possibly partial
            parsed = ParsedReply(None, "the reply was cut at the token limit (finish_reason length)")
        if parsed.ok:
            self.decisions = parsed.decisions
            self.repaired = self.repaired or req.purpose == "repair"
            self._advance()
            return
        if req.purpose != "repair":
            fix = (f"Your reply could not be used: {parsed.error}. Reply again with JSON only, "
                   '{"decisions": [...]}, every decision matching the schema. An empty list is valid.')
            self._pending = ChatRequest(step.name, "repair", req.messages + (
                {"role": "assistant", "content": reply.text or ""}, {"role": "user", "content": fix}),
                req.json_schema)
            return
        self._fail(f"{step.name}: invalid reply after one repair request: {parsed.error}")

    def _advance(self) -> None:
        self._step += 1
        if self._step >= len(self.steps):
            self._done = True
            self._pending = None
        else:
            self._pending = self._ask(self._step)

    def _fail(self, why: str) -> None:
        self.decisions = None
        self.error = why
        self._done = True
        self._pending = None
