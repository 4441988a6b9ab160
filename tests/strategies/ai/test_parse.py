"""Tolerant parsing and strict validation of model replies."""

from __future__ import annotations

import json

import pytest

from nofx.strategies.ai.parse import parse_reply
from nofx.strategies.ai.schema import Action, decision_json_schema

BUY = {"symbol": "600519.SH", "action": "buy", "quantity": 100, "confidence": 0.6, "reasoning": "r"}
HOLD = {"symbol": "000001.SZ", "action": "hold", "confidence": 0.5}


@pytest.mark.parametrize("text", [
    json.dumps([BUY, HOLD]),
    json.dumps({"decisions": [BUY, HOLD]}),
    "Here you go:\n```json\n" + json.dumps({"decisions": [BUY, HOLD]}) + "\n```\nGood luck!",
    "<reasoning>closes were [10.2, 10.5, 10.9] and {\"note\": 1}</reasoning>\n" + json.dumps([BUY, HOLD]),
    "<think>maybe [1, 2]</think> I decided: " + json.dumps([BUY, HOLD]) + " -- end",
    "Numbers [3, 4] first, then the answer " + json.dumps({"decisions": [BUY, HOLD]}),
])
def test_tolerant_forms_give_the_same_decisions(text: str) -> None:
    p = parse_reply(text)
    assert p.ok, p.error
    assert [d.symbol for d in p.decisions] == ["600519.SH", "000001.SZ"]
    assert p.decisions[0].action is Action.BUY and p.decisions[0].quantity == 100


def test_single_object_instead_of_a_list() -> None:
    p = parse_reply("Decision: " + json.dumps(BUY))
    assert p.ok and len(p.decisions) == 1 and p.decisions[0].symbol == "600519.SH"


def test_number_arrays_in_reasoning_are_not_decisions() -> None:
    p = parse_reply("<reasoning>RSI path [30, 40, 55]</reasoning> nothing to do []")
    assert p.ok and p.decisions == ()


@pytest.mark.parametrize("bad, needle", [
    ({**BUY, "quantity": None}, "needs quantity or target_weight"),
    ({**BUY, "target_weight": 0.1}, "not both"),
    ({**BUY, "order_type": "limit"}, "limit_price"),
    ({**BUY, "confidence": 1.5}, "confidence"),
    ({**BUY, "action": "short"}, "action"),
    ({**BUY, "leverage": 10}, "leverage"),
    ({**HOLD, "quantity": 100}, "takes no quantity"),
])
def test_strict_validation_names_the_problem(bad: dict, needle: str) -> None:
    p = parse_reply(json.dumps([bad]))
    assert not p.ok and needle in p.error


@pytest.mark.parametrize("text", ["", "   ", "I would rather not trade today.",
                                  '{"decisions": [{"symbol": "600519.SH", "action": "buy", "quan',
                                  '{"decisions": [{"symbol": "600519.SH", quantity: 100,}]'])
def test_unusable_replies_give_an_error_not_an_exception(text: str) -> None:
    p = parse_reply(text)
    assert not p.ok and p.error


def test_schema_is_an_object_with_decisions() -> None:
    s = decision_json_schema()
    assert s["required"] == ["decisions"] and s["properties"]["decisions"]["type"] == "array"
    json.dumps(s)


def test_a_truncated_decisions_list_is_not_traded_in_part() -> None:
    full = ('{"decisions": [{"symbol": "600519.SH", "action": "close", "confidence": 0.7}, '
            '{"symbol": "000001.SZ", "action": "buy", "quantity": 100, "confidence": 0.6}]}')
    cut = full[: full.index("000001") + 3]
    r = parse_reply(cut)
    assert not r.ok and "incomplete" in (r.error or "")
    assert parse_reply(full).ok
