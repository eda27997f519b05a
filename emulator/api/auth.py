"""Access control: AWS Signature Version 4 verified against configured access keys.

With `amt serve --auth sigv4 --credentials FILE` every request must be signed (AWS4-HMAC-SHA256)
with one of the keys in FILE, an INI file shaped like `~/.aws/credentials`: one section per key,
`aws_access_key_id` and `aws_secret_access_key` (plus `aws_session_token`, which the request's
`X-Amz-Security-Token` must then equal). Pointing it at your own `~/.aws/credentials` works.

The check is AWS's: rebuild the canonical request (method, canonical URI, sorted query,
the signed headers, the payload hash), the string to sign (`AWS4-HMAC-SHA256`, the request
time, the credential scope, the canonical request's SHA-256) and the signing key (HMAC chain
over date, region, service, `aws4_request`), then compare signatures in constant time. Both
signing styles are accepted: the `Authorization` header and presigned URLs (`X-Amz-*` query).

    verify(...) raises AuthError(kind, detail)
        kind: missing | incomplete | unknown_key | mismatch | expired | payload

`reject` turns a kind into the answer the request's protocol expects (AWS JSON for SageMaker,
CloudWatch Logs and metrics; S3 XML; query XML for STS and IAM), with AWS's codes and wording.

Payloads. SageMaker requests are read whole (they are small and bounded), so their payload
hash is computed here. S3 requests are streamed to moto and never read here: their signature
covers the `x-amz-content-sha256` header value the client signed (a hex digest,
`UNSIGNED-PAYLOAD`, or a `STREAMING-*` mode), so the headers, path and query are authenticated
but an S3 body is not compared with its claimed digest, and aws-chunked chunk signatures are not
checked. Other services' bodies are read here only when the client sent no
`x-amz-content-sha256`; the bytes are left in `request[BODY_KEY]` for the handler that follows.
"""

from __future__ import annotations

import base64
import configparser
import hashlib
import hmac
import re
from calendar import timegm
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from time import gmtime, strftime, strptime
from urllib.parse import quote, unquote

from aiohttp import web
from aiohttp.typedefs import Middleware

from emulator.api import sigv4
from emulator.api.aws_services import aws_error
from emulator.api.keys import BODY_KEY
from emulator.clock import Clock

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW_SECONDS = 15 * 60
"""AWS refuses a request dated more than 15 minutes from its own clock, either way."""
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED = "UNSIGNED-PAYLOAD"
"""Where the middleware leaves a body it had to read, for the handler after it."""
OPEN_PATHS = frozenset({"/health", "/_emulator/health"})
"""Answered without a signature: liveness checks (`amt agents`, load balancers)."""

_AUTH_FIELD = re.compile(r"(Credential|SignedHeaders|Signature)=([^,\s]*)")
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")
_SIGNATURE_TEXT = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)
_TOKEN_TEXT = "The security token included in the request is invalid."


@dataclass(frozen=True)
class Key:
    secret: str
    session_token: str | None = None


Credentials = Mapping[str, Key]
"""Access key id -> its secret (and session token, if the key is a temporary one)."""


class AuthError(Exception):
    """A request that does not prove it comes from a configured key."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.detail = detail


@dataclass(frozen=True)
class _Signed:
    """What the client claims: who, when, for what scope, which headers, which signature."""

    access_key: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str
    presigned: bool
    expires: int | None = None

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


# --- credentials ------------------------------------------------------------------------------


def load_credentials(path: Path) -> dict[str, Key]:
    """Read an INI credentials file (sections of `aws_access_key_id`/`aws_secret_access_key`)."""
    parser = configparser.ConfigParser(interpolation=None)
    with path.open(encoding="utf-8") as fh:
        parser.read_file(fh)
    keys: dict[str, Key] = {}
    for section in parser.sections():
        entry = parser[section]
        key_id, secret = entry.get("aws_access_key_id"), entry.get("aws_secret_access_key")
        if not key_id or not secret:
            raise ValueError(
                f"{path}: [{section}] needs aws_access_key_id and aws_secret_access_key"
            )
        keys[key_id.strip()] = Key(secret.strip(), (entry.get("aws_session_token") or None))
    if not keys:
        raise ValueError(f"{path}: no access keys (expected [profile] sections)")
    return keys


# --- the verifier -----------------------------------------------------------------------------


def verify(
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    headers: Iterable[tuple[str, str]],
    body: bytes | None,
    credentials: Credentials,
    now: float,
) -> None:
    """Raise AuthError unless the request carries a valid SigV4 signature of a known key.

    `path` and `query` are as sent on the wire (percent-encoded, query pairs undecoded);
    `headers` are (name, value) pairs, a name may repeat; `body` is None when it was not read,
    and the signed `x-amz-content-sha256` then stands for it.
    """
    pairs = list(query)
    lower = canonical_headers(headers)
    if _first(pairs, "AWSAccessKeyId") is not None and _first(pairs, "Signature") is not None:
        verify_s3_v2_presigned(method, path, pairs, lower, credentials, now)
        return
    signed = _claim(pairs, lower)
    key = credentials.get(signed.access_key)
    if key is None:
        raise AuthError("unknown_key", f"unknown access key {signed.access_key}")
    token = _first(pairs, "X-Amz-Security-Token") or lower.get("x-amz-security-token")
    if key.session_token is not None and token != key.session_token:
        raise AuthError("unknown_key", "the session token does not match the access key")
    _check_time(signed, now)
    payload = _payload_hash(signed, lower, body)
    canonical = canonical_request(method, path, pairs, lower, signed, payload)
    expected = signature(key.secret, signed, canonical)
    if not hmac.compare_digest(expected, signed.signature):
        raise AuthError("mismatch", "signature differs")


def _first(pairs: list[tuple[str, str]], name: str) -> str | None:
    return next((unquote(v) for k, v in pairs if unquote(k) == name), None)


def _claim(pairs: list[tuple[str, str]], headers: Mapping[str, str]) -> _Signed:
    """Parse the signature the client sent: presigned query, else the Authorization header."""
    if _first(pairs, "X-Amz-Signature") is not None or _first(pairs, "X-Amz-Credential"):
        return _claim_from_query(pairs)
    authorization = headers.get("authorization")
    if not authorization:
        raise AuthError("missing", "no Authorization header and no presigned query")
    algorithm, _, rest = authorization.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise AuthError("incomplete", f"unsupported algorithm {algorithm[:40]!r}")
    fields = dict(_AUTH_FIELD.findall(rest))
    missing = [f for f in ("Credential", "SignedHeaders", "Signature") if not fields.get(f)]
    if missing:
        raise AuthError(
            "incomplete",
            "Authorization header requires "
            + ", ".join(f"'{f}'" for f in missing)
            + " parameter(s).",
        )
    amz_date = headers.get("x-amz-date") or ""
    return _signed(fields["Credential"], fields["SignedHeaders"], fields["Signature"], amz_date)


def _claim_from_query(pairs: list[tuple[str, str]]) -> _Signed:
    values = {name: _first(pairs, name) for name in _QUERY_FIELDS}
    absent = [name for name, value in values.items() if not value]
    if absent:
        raise AuthError("incomplete", f"presigned URL lacks {', '.join(absent)}")
    if values["X-Amz-Algorithm"] != ALGORITHM:
        raise AuthError("incomplete", f"unsupported algorithm {values['X-Amz-Algorithm']!r}")
    expires = values["X-Amz-Expires"] or ""
    if not expires.isdigit():
        raise AuthError("incomplete", "X-Amz-Expires must be a number of seconds")
    signed = _signed(
        values["X-Amz-Credential"] or "",
        values["X-Amz-SignedHeaders"] or "",
        values["X-Amz-Signature"] or "",
        values["X-Amz-Date"] or "",
        presigned=True,
    )
    return replace(signed, expires=int(expires))


_QUERY_FIELDS = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
)


def _signed(
    credential: str, signed_headers: str, sig: str, amz_date: str, *, presigned: bool = False
) -> _Signed:
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not all(parts):
        raise AuthError("incomplete", f"malformed Credential {credential[:120]!r}")
    if not amz_date:
        raise AuthError("incomplete", "the request has no X-Amz-Date")
    headers = tuple(signed_headers.lower().split(";"))
    if "host" not in headers:
        raise AuthError("incomplete", "SignedHeaders must include host")
    return _Signed(parts[0], parts[1], parts[2], parts[3], headers, sig, amz_date, presigned)


def _check_time(signed: _Signed, now: float) -> None:
    try:
        when = float(timegm(strptime(signed.amz_date, "%Y%m%dT%H%M%SZ")))
    except ValueError:
        raise AuthError("incomplete", f"malformed X-Amz-Date {signed.amz_date[:40]!r}") from None
    if signed.amz_date[:8] != signed.date:
        raise AuthError("mismatch", "the credential scope's date is not the request's date")
    if signed.presigned and signed.expires is not None:
        if now > when + signed.expires:
            raise AuthError("expired", f"the presigned URL expired at {signed.expires}s")
        if when - now > MAX_SKEW_SECONDS:
            raise AuthError("expired", "the presigned URL is dated in the future")
        return
    if abs(now - when) > MAX_SKEW_SECONDS:
        raise AuthError(
            "expired",
            f"Signature expired: {signed.amz_date} is now earlier than "
            f"{_amz_date(now - MAX_SKEW_SECONDS)} ({_amz_date(now)} - 15 min.)"
            if when < now
            else f"Signature not yet current: {signed.amz_date} is still later than "
            f"{_amz_date(now + MAX_SKEW_SECONDS)} ({_amz_date(now)} + 15 min.)",
        )


def _amz_date(epoch: float) -> str:
    return strftime("%Y%m%dT%H%M%SZ", gmtime(epoch))


def _payload_hash(signed: _Signed, headers: Mapping[str, str], body: bytes | None) -> str:
    """The payload hash the signature covers; a body we hold must match a hex claim."""
    claimed = headers.get("x-amz-content-sha256")
    if signed.presigned and signed.service == "s3":
        return claimed or UNSIGNED
    if claimed is None:
        if body is None:
            raise AuthError("payload", "the body was not read and no payload hash was signed")
        return hashlib.sha256(body).hexdigest()
    digest = hashlib.sha256(body).hexdigest() if body is not None else claimed
    if _HEX_DIGEST.fullmatch(claimed) and digest != claimed:
        raise AuthError("payload", "x-amz-content-sha256 does not match the body")
    return claimed


def canonical_request(
    method: str,
    path: str,
    query: list[tuple[str, str]],
    headers: Mapping[str, str],
    signed: _Signed,
    payload_hash: str,
) -> str:
    """SigV4's canonical request, as the client built it before signing."""
    missing = [name for name in signed.signed_headers if name not in headers]
    if missing:
        raise AuthError("mismatch", f"signed header(s) not in the request: {', '.join(missing)}")
    lines = [f"{name}:{headers[name]}" for name in signed.signed_headers]
    return "\n".join(
        [
            method.upper(),
            canonical_uri(path, signed.service),
            canonical_query(query, drop_signature=signed.presigned),
            "\n".join(lines) + "\n",
            ";".join(signed.signed_headers),
            payload_hash,
        ]
    )


def canonical_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Lower-case names; a repeated header's values joined by commas; spaces collapsed."""
    values: dict[str, list[str]] = {}
    for name, value in headers:
        values.setdefault(name.lower(), []).append(" ".join(value.split()))
    return {name: ",".join(parts) for name, parts in values.items()}


def canonical_uri(path: str, service: str) -> str:
    """S3 signs the path as sent; every other service signs it normalised and encoded again."""
    path = path or "/"
    if service == "s3":
        return path
    segments = [s for s in path.split("/") if s not in ("", ".")]
    normal: list[str] = []
    for segment in segments:
        if segment == "..":
            if normal:
                normal.pop()
        else:
            normal.append(segment)
    joined = "/" + "/".join(normal) + ("/" if path.endswith("/") and normal else "")
    return quote(joined, safe="/~")


def canonical_query(pairs: Iterable[tuple[str, str]], *, drop_signature: bool = False) -> str:
    """Every name and value decoded, re-encoded as RFC 3986 says, and sorted."""
    encoded = sorted(
        (_rfc3986(unquote(name)), _rfc3986(unquote(value)))
        for name, value in pairs
        if not (drop_signature and unquote(name) == "X-Amz-Signature")
    )
    return "&".join(f"{name}={value}" for name, value in encoded)


def _rfc3986(text: str) -> str:
    return quote(text, safe="-_.~")


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def signature(secret: str, signed: _Signed, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8", "surrogateescape")).hexdigest()
    to_sign = "\n".join([ALGORITHM, signed.amz_date, signed.scope, digest])
    key = signing_key(secret, signed.date, signed.region, signed.service)
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


# --- S3's legacy presigned URLs (boto3's default for generate_presigned_url on S3) -----------

_S3_SUBRESOURCES = frozenset(
    [
        "acl",
        "cors",
        "delete",
        "lifecycle",
        "location",
        "logging",
        "notification",
        "partNumber",
        "policy",
        "requestPayment",
        "response-cache-control",
        "response-content-disposition",
        "response-content-encoding",
        "response-content-language",
        "response-content-type",
        "response-expires",
        "restore",
        "tagging",
        "torrent",
        "uploadId",
        "uploads",
        "versionId",
        "versioning",
        "versions",
        "website",
    ]
)


def verify_s3_v2_presigned(
    method: str,
    path: str,
    pairs: list[tuple[str, str]],
    headers: Mapping[str, str],
    credentials: Credentials,
    now: float,
) -> None:
    """S3 query-string authentication (Signature Version 2): HMAC-SHA1 over the method, the
    content headers, the expiry, the `x-amz-*` headers and the bucket/key with subresources."""
    key_id, claimed, expires = (
        _first(pairs, name) or "" for name in ("AWSAccessKeyId", "Signature", "Expires")
    )
    key = credentials.get(key_id)
    if key is None:
        raise AuthError("unknown_key", f"unknown access key {key_id}")
    if not expires.isdigit():
        raise AuthError("incomplete", "Expires must be epoch seconds")
    if now > int(expires):
        raise AuthError("expired", "Request has expired")
    amz = sorted((n, v) for n, v in headers.items() if n.startswith("x-amz-"))
    subresources = sorted(
        (unquote(n), unquote(v)) for n, v in pairs if unquote(n) in _S3_SUBRESOURCES
    )
    resource = path + (
        "?" + "&".join(f"{n}={v}" if v else n for n, v in subresources) if subresources else ""
    )
    text = "\n".join(
        [
            method.upper(),
            headers.get("content-md5", ""),
            headers.get("content-type", ""),
            expires,
            *(f"{n}:{v}" for n, v in amz),
            resource,
        ]
    )
    digest = hmac.new(key.secret.encode(), text.encode(), hashlib.sha1).digest()
    if not hmac.compare_digest(base64.b64encode(digest).decode(), claimed):
        raise AuthError("mismatch", "signature differs")


# --- the edge ---------------------------------------------------------------------------------

_ANSWERS: dict[str, dict[str, tuple[int, str, str]]] = {
    "json": {
        "missing": (403, "MissingAuthenticationTokenException", "Missing Authentication Token"),
        "incomplete": (400, "IncompleteSignatureException", ""),
        "unknown_key": (400, "UnrecognizedClientException", _TOKEN_TEXT),
        "mismatch": (400, "InvalidSignatureException", _SIGNATURE_TEXT),
        "expired": (400, "InvalidSignatureException", ""),
        "payload": (400, "InvalidSignatureException", _SIGNATURE_TEXT),
    },
    "query": {
        "missing": (403, "MissingAuthenticationToken", "Request is missing Authentication Token"),
        "incomplete": (400, "IncompleteSignature", ""),
        "unknown_key": (403, "InvalidClientTokenId", _TOKEN_TEXT),
        "mismatch": (403, "SignatureDoesNotMatch", _SIGNATURE_TEXT),
        "expired": (403, "SignatureDoesNotMatch", ""),
        "payload": (403, "SignatureDoesNotMatch", _SIGNATURE_TEXT),
    },
    "rest-xml": {
        "missing": (403, "AccessDenied", "Access Denied"),
        "incomplete": (400, "AuthorizationHeaderMalformed", ""),
        "unknown_key": (
            403,
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
        ),
        "mismatch": (
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method.",
        ),
        "expired": (403, "AccessDenied", "Request has expired"),
        "payload": (
            400,
            "XAmzContentSHA256Mismatch",
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        ),
    },
}


def answer(protocol: str, error: AuthError) -> tuple[int, str, str]:
    """(HTTP status, error code, message) as AWS answers `error` in `protocol`."""
    status, code, text = _ANSWERS.get(protocol, _ANSWERS["json"])[error.kind]
    return status, code, text or error.detail


def protocol_of(request: web.Request) -> str:
    """The error shape the client will parse: S3 XML, query XML, or AWS JSON."""
    if request.headers.get("X-Amz-Target"):
        return "json"
    scope = sigv4.credential_scope(request.headers, request.query)
    if scope is not None and scope.service == "s3":
        return "rest-xml"
    if request.content_type == "application/x-www-form-urlencoded":
        return "query"
    return "json" if scope is not None else "rest-xml"


def reject(request: web.Request, error: AuthError) -> web.Response:
    protocol = protocol_of(request)
    status, code, message = answer(protocol, error)
    reply = aws_error(protocol, status, code, message)
    return web.Response(status=reply.status, body=reply.body, headers=dict(reply.headers))


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def sigv4_middleware(
    credentials: Credentials, clock: Clock, open_paths: frozenset[str] = OPEN_PATHS
) -> Middleware:
    """aiohttp middleware: every request outside `open_paths` must be signed by a known key.
    Place it after the error middleware, so an oversized body still answers 413."""

    @web.middleware
    async def check_signature(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in open_paths and request.method in ("GET", "HEAD"):
            return await handler(request)
        body = await _body_for(request)
        try:
            verify(
                request.method,
                request.raw_path.split("?", 1)[0],
                _raw_query(request.raw_path.partition("?")[2]),
                request.headers.items(),
                body,
                credentials,
                clock.now(),
            )
        except AuthError as error:
            return reject(request, error)
        return await handler(request)

    return check_signature


async def _body_for(request: web.Request) -> bytes | None:
    """The body, when its hash must be computed here (see the module docstring)."""
    if request.headers.get("X-Amz-Target", "").startswith("SageMaker."):
        return await request.read()
    if "x-amz-content-sha256" in request.headers or not request.body_exists:
        return None if request.body_exists else b""
    body = await request.read()
    request[BODY_KEY] = body
    return body


def _raw_query(query_string: str) -> list[tuple[str, str]]:
    """Query pairs exactly as sent (not decoded): the canonical form is rebuilt from them."""
    if not query_string:
        return []
    pairs = []
    for item in query_string.split("&"):
        name, _, value = item.partition("=")
        pairs.append((name, value))
    return pairs
