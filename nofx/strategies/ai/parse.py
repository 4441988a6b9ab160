"""Tolerant parsing, strict validation of a model's reply.

Tolerant: the JSON may sit in a fenced block or in prose, after a ``<reasoning>``/``<think>`` block, be
a single decision object instead of a list, or an object ``{"decisions": [...]}``. Arrays that are not
decisions (e.g. ``[10.2, 10.5]`` quoted inside the reasoning) are skipped.
Strict: whatever is found must validate against :class:`~nofx.strategies.ai.schema.Decision` exactly;
otherwise the result carries one clear error that a repair request can quote.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, ValidationError

from nofx.strategies.ai.schema import DECISIONS, Decision

_THINK = re.compile(r"<(reasoning|think|thinking)>(.*?)</\1>", re.S | re.I)
_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.S)
_DECODER = json.JSONDecoder()


class _Reply(BaseModel):
    """The well-formed reply, ``{"decisions": [...]}`` and nothing else: validated straight from the
    JSON text by pydantic-core (the fast path; anything else takes the tolerant path)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    decisions: list[Decision]


@dataclass(frozen=True, slots=True)
class ParsedReply:
    """``decisions`` when the reply validated (possibly empty: a valid "do nothing"); else ``error``."""

    decisions: tuple[Decision, ...] | None
    error: str | None
    preamble: str = ""  # the model's free-text reasoning before/around the JSON

    @property
    def ok(self) -> bool:
        return self.decisions is not None


def _looks_like_decisions(value: object) -> bool:
    if isinstance(value, dict):
        return "decisions" in value or "action" in value
    if isinstance(value, list):
        return len(value) == 0 or all(isinstance(v, dict) for v in value)
    return False


def _candidates(text: str) -> list[object]:
    """JSON values in ``text`` that look like decisions, fenced blocks first, then in reading order."""
    found: list[object] = []
    for block in _FENCE.findall(text):
        try:
            value = json.loads(block)
        except json.JSONDecodeError:
            continue
        if _looks_like_decisions(value):
            found.append(value)
    if found:
        return found
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "[{":
            try:
                value, end = _DECODER.raw_decode(text, i)
            except json.JSONDecodeError:
                i += 1
                continue
            if _looks_like_decisions(value):
                found.append(value)
                i = end
                continue
            i = end if isinstance(value, (list, dict)) else i + 1
            continue
        i += 1
    return found


def find_json(text: str) -> tuple[str, str, list[object]]:
    """(reasoning blocks' text, the reply without them, the JSON values in it that look like decisions)."""
    thoughts = " ".join(m.group(2).strip() for m in _THINK.finditer(text))
    body = _THINK.sub(" ", text)
    return thoughts, body, _candidates(body)


def _as_list(value: object) -> object:
    if isinstance(value, dict) and "decisions" in value:
        return value["decisions"]
    if isinstance(value, dict):
        return [value]
    return value


def _validation_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(x) for x in err["loc"])
        parts.append(f"{loc}: {err['msg']}" if loc else err["msg"])
    more = f" (+{exc.error_count() - 5} more)" if exc.error_count() > 5 else ""
    return "; ".join(parts) + more


def parse_reply(text: str | None) -> ParsedReply:
    """Find and validate the decisions in a model reply. Never raises."""
    if not text or not text.strip():
        return ParsedReply(None, "empty reply: expected a JSON list of decisions")
    if text.lstrip().startswith("{"):
        try:
            return ParsedReply(tuple(_Reply.model_validate_json(text).decisions), None)
        except ValidationError:
            pass  # not exactly {"decisions": [...]}: the tolerant path finds it and words the error
    thoughts, body, cands = find_json(text)
    if cands and '"decisions"' in body and not any(isinstance(c, dict) and "decisions" in c for c in cands):
        # a decisions list that never closes (a reply cut at max_tokens): the objects found inside it
        # are only part of the answer, never traded as if they were all of it
        return ParsedReply(None, "the decisions list is incomplete (reply truncated?)", thoughts)
    if not cands:
        return ParsedReply(None, "no JSON list of decisions found in the reply (truncated or malformed JSON?)",
                           thoughts)
    first_error = ""
    for cand in cands:
        try:
            decisions = DECISIONS.validate_python(_as_list(cand))
        except ValidationError as exc:
            first_error = first_error or _validation_error(exc)
            continue
        cut = min((k for k in (body.find("["), body.find("{")) if k >= 0), default=len(body))
        preamble = (thoughts or _FENCE.sub(" ", body[:cut])).strip()[:2000]
        return ParsedReply(tuple(decisions), None, preamble)
    return ParsedReply(None, f"decisions do not match the schema: {first_error}", thoughts)
