"""Answers built from the JSON text the store keeps, without parsing it.

Each job's Describe document and List summary is stored as JSON; the hot read paths send them
as they are, adding fields or wrapping summaries in a page here, so the text stays the store's
business and no handler splices JSON by hand."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any


def with_fields(document: str, fields: Mapping[str, Any]) -> str:
    """A stored JSON object's text with `fields` added at its end."""
    if not fields:
        return document
    extra = "".join(f",{json.dumps(key)}:{json.dumps(value)}" for key, value in fields.items())
    return document[:-1] + extra + "}"


def page_body(result_key: str, summaries: Iterable[str], next_token: str | None) -> bytes:
    """A List operation's answer: the stored summaries under `result_key`, then the token."""
    body = f'{{"{result_key}":[' + ",".join(summaries) + "]"
    if next_token:
        body += f',"NextToken":"{next_token}"'
    return (body + "}").encode()
