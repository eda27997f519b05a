"""List operations: the filters, sort orders and NextToken paging AWS documents for them."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from emulator.errors import ValidationException
from emulator.store.sqlite import Store


@dataclass(frozen=True)
class Listing:
    """How one List operation maps onto a table and its response."""

    table: str
    sort_columns: Mapping[str, str]
    default_sort: str
    result_key: str


def list_page(
    store: Store, listing: Listing, params: Mapping[str, Any], extra_where: Sequence[str] = ()
) -> bytes:
    """One page of a List operation, filtered, sorted and paged in SQL, and answered from the
    summaries stored with each job without parsing a document."""
    where, args = common_filters(params)
    where += list(extra_where)
    offset, limit = page_bounds(params)
    order = order_clause(listing, params)
    texts = store.page(listing.table, where, args, order, limit + 1, offset)
    body = f'{{"{listing.result_key}":[' + ",".join(texts[:limit]) + "]"
    token = next_token(params, offset, limit, len(texts) > limit)
    if token:
        body += f',"NextToken":"{token}"'
    return (body + "}").encode()


def encode_token(offset: int, fingerprint: str) -> str:
    raw = json.dumps({"o": offset, "f": fingerprint}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_token(token: str | None, fingerprint: str) -> int:
    """Offset carried by a NextToken; a token from another query is rejected as AWS does."""
    if not token:
        return 0
    try:
        body = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset = int(body["o"])
        same_query = body["f"] == fingerprint
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise ValidationException("Invalid pagination token: the NextToken is malformed.") from exc
    if offset < 0 or not same_query:
        raise ValidationException(
            "Invalid pagination token: the NextToken does not belong to this request."
        )
    return offset


def fingerprint(params: Mapping[str, Any]) -> str:
    """Identifies a query (everything but the paging fields), so a token is not reused elsewhere."""
    rest = {k: v for k, v in params.items() if k not in ("NextToken", "MaxResults")}
    return hashlib.sha1(json.dumps(rest, sort_keys=True, default=str).encode()).hexdigest()[:12]


def common_filters(params: Mapping[str, Any]) -> tuple[list[str], list[Any]]:
    """SQL conditions for the time, name and status filters shared by the List operations."""
    where: list[str] = []
    args: list[Any] = []
    for key, clause in (
        ("CreationTimeAfter", "creation_time > ?"),
        ("CreationTimeBefore", "creation_time < ?"),
        ("LastModifiedTimeAfter", "last_modified > ?"),
        ("LastModifiedTimeBefore", "last_modified < ?"),
    ):
        if key in params:
            where.append(clause)
            args.append(float(params[key]))
    if params.get("NameContains"):
        where.append("instr(name_key, ?) > 0")
        args.append(str(params["NameContains"]).lower())
    if params.get("StatusEquals"):
        where.append("status = ?")
        args.append(params["StatusEquals"])
    return where, args


def order_clause(listing: Listing, params: Mapping[str, Any]) -> str:
    column = listing.sort_columns[params.get("SortBy", listing.default_sort)]
    direction = "DESC" if params.get("SortOrder") == "Descending" else "ASC"
    return f"{column} {direction}, name {direction}"


def page_bounds(params: Mapping[str, Any], default: int = 10) -> tuple[int, int]:
    """(offset, limit) for a request."""
    limit = int(params.get("MaxResults", default))
    return decode_token(params.get("NextToken"), fingerprint(params)), limit


def next_token(params: Mapping[str, Any], offset: int, limit: int, more: bool) -> str | None:
    return encode_token(offset + limit, fingerprint(params)) if more else None
