"""The bus's wire format: every event type encodes to the JSON of its fields plus its kind,
and decodes back to an equal event, nested data included (agents and workers of another
release read and write the same bytes)."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from emulator.domain.events import (
    EVENT_TYPES,
    AgentHeartbeat,
    Assignment,
    Event,
    SuggestionAnswered,
    SuggestionRequested,
    decode,
    encode,
)

NESTED: list[Event] = [
    AgentHeartbeat(ts=1.0, agent="a", gpus=({"index": 0, "name": "H100"},), running=("j1",)),
    Assignment(ts=2.0, agent="a", job="j", spec={"a": [1, [2, 3]], "b": {"c": None}}),
    SuggestionRequested(
        ts=3.0,
        tuning_job="t",
        request={"history": {"observations": [{"config": {"x": "1"}, "value": 0.5}]}},
        reply_to="r",
    ),
    SuggestionAnswered(ts=4.0, tuning_job="t", answer={"configs": [{"x": "2"}]}),
]


def as_json(event: Event) -> object:
    """What the encoding must say: the fields (tuples as lists) and the kind."""
    return json.loads(json.dumps({**asdict(event), "kind": event.kind}))


EVENTS = [cls(ts=5.0) for cls in EVENT_TYPES.values()] + NESTED


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.kind)
def test_an_event_is_the_json_of_its_fields_and_its_kind_and_decodes_back(event):
    assert json.loads(encode(event)) == as_json(event)
    assert decode(encode(event)) == event
