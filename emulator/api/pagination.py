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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from emulator.errors import ValidationException
from emulator.ids import Scope
from emulator.store.sqlite import PageQuery, PageRow, Store
from emulator.store.text import page_body


@dataclass(frozen=True)
class Listing:
    """How one List operation maps onto a table and its response."""

    table: str
    sort_columns: Mapping[str, str]
    """SortBy → the store's sort key (`store.sqlite.SORT_COLUMNS`)."""
    default_sort: str
    result_key: str
    filtered_after_page: frozenset[str] = frozenset()
    """Filters applied to the `MaxResults` jobs taken, not before taking them."""


def list_page(
    store: Store,
    listing: Listing,
    params: Mapping[str, Any],
    scope: Scope,
    *,
    nothing: bool = False,
) -> bytes:
    """One page of a List operation in the request's account and region, filtered, sorted and
    paged by the store, and answered from the summaries stored with each job without parsing
    one. `nothing`: a filter no job passes."""
    before = {k: v for k, v in params.items() if k not in listing.filtered_after_page}
    offset, limit = page_bounds(params)
    query = PageQuery(
        account=scope.account,
        region=scope.region,
        sort=listing.sort_columns[params.get("SortBy", listing.default_sort)],
        descending=params.get("SortOrder") == "Descending",
        limit=limit + 1,
        offset=offset,
        nothing=nothing,
        **common_filters(before),
    )
    rows = store.page(listing.table, query)
    texts = [row.summary for row in rows[:limit] if _kept(row, params, listing)]
    return page_body(
        listing.result_key, texts, next_token(params, offset, limit, len(rows) > limit)
    )


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


def common_filters(params: Mapping[str, Any]) -> dict[str, Any]:
    """The time, name and status filters shared by the List operations, as `PageQuery` fields."""
    filters: dict[str, Any] = {}
    for key, field in (
        ("CreationTimeAfter", "created_after"),
        ("CreationTimeBefore", "created_before"),
        ("LastModifiedTimeAfter", "modified_after"),
        ("LastModifiedTimeBefore", "modified_before"),
    ):
        if key in params:
            filters[field] = float(params[key])
    if params.get("NameContains"):
        filters["name_contains"] = str(params["NameContains"])
    if params.get("StatusEquals"):
        filters["status"] = params["StatusEquals"]
    return filters


def _kept(row: PageRow, params: Mapping[str, Any], listing: Listing) -> bool:
    """Whether a job taken for the page passes the filters applied after taking it."""
    after = listing.filtered_after_page
    status, name = params.get("StatusEquals"), params.get("NameContains")
    if "StatusEquals" in after and status and row.status != status:
        return False
    return not ("NameContains" in after and name and str(name).lower() not in row.name_key)


def page_bounds(params: Mapping[str, Any], default: int = 10) -> tuple[int, int]:
    """(offset, limit) for a request."""
    limit = int(params.get("MaxResults", default))
    return decode_token(params.get("NextToken"), fingerprint(params)), limit


def next_token(params: Mapping[str, Any], offset: int, limit: int, more: bool) -> str | None:
    return encode_token(offset + limit, fingerprint(params)) if more else None
