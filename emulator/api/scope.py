"""The account and region a request acts in, found the way AWS and moto find them.

Region: the SigV4 credential scope the request was signed with (`Credential=<key>/<date>/
<region>/<service>/aws4_request`); an unsigned request gets the server's `--region`.
Account: as moto decides it, so that SageMaker and the moto-served services agree — the
`MOTO_ACCOUNT_ID` environment variable, else an `x-moto-account-id` request header, else the
account whose IAM (or STS-assumed) credentials signed the request, else the server's
`--account` (moto's own default is 123456789012, as ours).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from emulator.api import sigv4
from emulator.ids import Scope


def request_scope(headers: Mapping[str, str], query: Mapping[str, str], default: Scope) -> Scope:
    credential = sigv4.credential_scope(headers, query)
    region = credential.region if credential is not None else default.region
    access_key = credential.access_key if credential is not None else query.get("AWSAccessKeyId")
    return Scope(account=account_of(headers, access_key, default.account), region=region)


def account_of(headers: Mapping[str, str], access_key: str | None, default: str) -> str:
    """`headers` look names up case-insensitively (aiohttp's do)."""
    forced = os.environ.get("MOTO_ACCOUNT_ID") or headers.get("x-moto-account-id")
    if forced:
        return forced
    if access_key:
        from moto.core import DEFAULT_ACCOUNT_ID  # noqa: PLC0415 - moto is slow to import (about 1 s): loaded on first use
        from moto.iam.models import get_account_id_from  # noqa: PLC0415 - moto is slow to import (about 1 s): loaded on first use

        found = get_account_id_from(access_key)
        if found != DEFAULT_ACCOUNT_ID:
            return found
    return default
