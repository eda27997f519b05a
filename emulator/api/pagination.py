"""List operations: the filters, sort orders and NextToken paging AWS documents for them.

Where a filter is applied matters. botocore's documentation of ListTrainingJobs says that with
`StatusEquals` and `MaxResults` together, the service first takes `MaxResults` jobs ignoring the
status and then filters those, and real AWS answers do the same with `NameContains` (an empty
page with a `NextToken`, boto/boto3#2838 and #3347). So a page of ListTrainingJobs can be short,
or empty, while a NextToken says there is more; paginators still see every matching job.
The other List operations document no such order: their filters apply before the page is taken.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from emulator.errors import ValidationException
from emulator.ids import Scope
from emulator.store.sqlite import PageRow, Store


@dataclass(frozen=True)
class Listing:
    """How one List operation maps onto a table and its response."""

    table: str
    sort_columns: Mapping[str, str]
    default_sort: str
    result_key: str
    filtered_after_page: frozenset[str] = frozenset()
    """Filters applied to the `MaxResults` jobs taken, not before taking them."""


def list_page(
    store: Store,
    listing: Listing,
    params: Mapping[str, Any],
    scope: Scope,
    extra_where: Sequence[str] = (),
) -> bytes:
    """One page of a List operation in the request's account and region, filtered, sorted and
    paged in SQL, and answered from the summaries stored with each job without parsing one."""
    before = {k: v for k, v in params.items() if k not in listing.filtered_after_page}
    where, args = common_filters(before)
    where += ["account = ?", "region = ?", *extra_where]
    args += [scope.account, scope.region]
    offset, limit = page_bounds(params)
    order = order_clause(listing, params)
    rows = store.page(listing.table, where, args, order, limit + 1, offset)
    texts = [row.summary for row in rows[:limit] if _kept(row, params, listing)]
    body = f'{{"{listing.result_key}":[' + ",".join(texts) + "]"
    token = next_token(params, offset, limit, len(rows) > limit)
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


def _kept(row: PageRow, params: Mapping[str, Any], listing: Listing) -> bool:
    """Whether a job taken for the page passes the filters applied after taking it."""
    after = listing.filtered_after_page
    status, name = params.get("StatusEquals"), params.get("NameContains")
    if "StatusEquals" in after and status and row.status != status:
        return False
    return not ("NameContains" in after and name and str(name).lower() not in row.name_key)


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
