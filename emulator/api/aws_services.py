"""The other AWS services a SageMaker user needs (S3, STS, IAM, CloudWatch Logs and metrics),
served on our endpoint by moto's in-process backends.

Routing: the SigV4 credential scope (`emulator.api.sigv4`) names the service a request was
signed for; a presigned URL carries the same scope in its query, and an unsigned JSON request
names itself in `X-Amz-Target`. The service and region pick one of moto's per-service Flask
apps (the same apps `moto_server` runs); the request goes to it as a WSGI call in a worker thread,
because moto is synchronous. Each request's account is decided once, as moto decides it
(`emulator.api.scope`, with our `--account` as the default), and sent to moto in
`x-moto-account-id`, so SageMaker and the other services agree on it.

Bodies are spooled (memory, then disk) rather than read whole, so uploads are not bound by
the SageMaker request-size limit. Run the server with `auto_decompress=False`
(`web.AppRunner(app, auto_decompress=False)`): by default aiohttp un-gzips request bodies, and
an S3 object uploaded with `Content-Encoding: gzip` can then not be stored as sent (refused).
`aws-chunked` bodies are decoded here, their trailing checksum verified and handed to moto as
an ordinary `x-amz-checksum-*` header.

moto keeps its state in process-global backends: every `AwsServices` in a process shares it,
and `reset()` clears it for all of them. With a `data_dir`, S3 objects are also mirrored to
`data_dir/s3/` (other accounts': `data_dir/s3-accounts/<account>/`) after every write and
reloaded on first use, so they survive a `kill -9`.

Failures never leak as HTML: moto's exceptions become a 500 `InternalFailure` (S3:
`InternalError`) and an unroutable service a 400 `UnknownOperationException`, each in the
error shape of the request's protocol (S3 XML, query XML or JSON).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote_to_bytes
from xml.sax.saxutils import escape

from aiohttp import web

from emulator.api import iam_simulation, sigv4
from emulator.api.keys import BODY_KEY
from emulator.api.s3_mirror import S3Mirror
from emulator.api.scope import request_scope
from emulator.ids import Scope, request_id

log = logging.getLogger(__name__)

SPOOL_BYTES = 8 * 1024 * 1024
"""Request bodies up to this size stay in memory; larger ones go to a temporary file."""

_TARGET_PREFIXES = {
    "SageMaker": "sagemaker",
    "Logs_20140328": "logs",
    "GraniteServiceVersion20100801": "monitoring",
}
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "server", "date"}
)
_WRITES = frozenset({"PUT", "POST", "DELETE"})
OTHER_ACCOUNTS = "s3-accounts"
_ACCOUNT_ID = re.compile(r"[0-9]{12}")
_CHECKSUM_HEADER = re.compile(r"x-amz-checksum-(crc32|crc32c|crc64nvme|sha1|sha256)$")


@dataclass
class _Call:
    """One request as the worker thread sees it: plain data, no aiohttp objects."""

    service: str
    region: str
    account: str
    method: str
    raw_path: str
    query_string: str
    scheme: str
    headers: dict[str, str]
    body: IO[bytes]
    size: int


@dataclass
class _Reply:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


class AwsServices:
    """Serves non-SageMaker AWS requests with moto; one per server (moto state is global)."""

    def __init__(self, *, region: str, account: str, data_dir: Path | None = None) -> None:
        self.region = region
        self.account = account
        self._apps: dict[str, Any] = {}
        self._apps_lock = threading.Lock()
        self._s3_lock = threading.Lock()
        self._data_dir = data_dir
        self._mirrors: dict[str, S3Mirror] = {}
        self._restored = False
        # moto's own threads: agents in this process upload to us from the default pool, and
        # sharing it deadlocked once every default thread waited on an S3 request of ours.
        self._executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="moto")
        forced = os.environ.get("MOTO_ACCOUNT_ID")
        if forced and forced != account:
            log.warning("MOTO_ACCOUNT_ID=%s overrides the configured account %s", forced, account)

    @property
    def moto_account(self) -> str:
        """The account moto files our requests under (its env override wins over our header)."""
        return os.environ.get("MOTO_ACCOUNT_ID") or self.account

    def service_of(self, request: web.Request) -> str | None:
        """The AWS service a request is for: signing scope, SigV2 presign, or target prefix."""
        scope = sigv4.credential_scope(request.headers, request.query)
        if scope is not None:
            return scope.service
        if "AWSAccessKeyId" in request.query and "Signature" in request.query:
            return "s3"  # only S3 still accepts SigV2 presigned URLs
        prefix = request.headers.get("X-Amz-Target", "").split(".", 1)[0]
        return _TARGET_PREFIXES.get(prefix)

    async def handle(self, request: web.Request, service: str) -> web.StreamResponse:
        """Serve `request` (body not yet read) with moto's backend for `service`."""
        call = await _call_of(request, service, Scope(account=self.account, region=self.region))
        try:
            loop = asyncio.get_running_loop()
            reply = await loop.run_in_executor(self._executor, self._serve, call)
        except Exception as error:
            log.exception("moto failed serving %s %s %s", service, call.method, call.raw_path)
            reply = _internal_failure(call, error)
        finally:
            call.body.close()
        return _response(reply, head=call.method == "HEAD")

    def reset(self) -> None:
        """Forget every moto resource in this process, and the S3 mirror on disk."""
        from moto.moto_api._internal.models import moto_api_backend  # noqa: PLC0415 - moto is slow to import (about 1 s): loaded on first use

        with self._s3_lock:
            moto_api_backend.reset()
            if self._data_dir is not None:  # every account's folder goes, restored or not
                self._mirror_of(self.moto_account)
                self._other_accounts_mirrors()
            for mirror in self._mirrors.values():
                mirror.clear()
            if self._data_dir is not None:
                shutil.rmtree(self._data_dir / OTHER_ACCOUNTS, ignore_errors=True)
            self._restored = True

    def restore_s3(self) -> None:
        """Load the S3 mirror from `data_dir` into moto, once. The first S3 request does it
        anyway; call it at startup (in a thread) to keep that request fast."""
        if self._restored or self._data_dir is None:
            return
        with self._s3_lock:
            if not self._restored:
                default = self._mirror_of(self.moto_account)
                for mirror in [default, *self._other_accounts_mirrors()]:
                    if mirror is not None and mirror.holds_buckets():
                        mirror.restore(self._s3_backend(mirror.account), self.region)
                self._restored = True

    def _mirror_of(self, account: str) -> S3Mirror | None:
        """The disk copy of an account's buckets: the server's account in `data_dir/s3`, any
        other (12 digits: a safe folder name) in `data_dir/s3-accounts/<account>`. Called
        holding the S3 lock."""
        if self._data_dir is None:
            return None
        if account not in self._mirrors:
            if account == self.moto_account:
                root = self._data_dir / "s3"
            elif _ACCOUNT_ID.fullmatch(account):
                root = self._data_dir / OTHER_ACCOUNTS / account
            else:
                return None
            self._mirrors[account] = S3Mirror(root, account)
        return self._mirrors[account]

    def _other_accounts_mirrors(self) -> list[S3Mirror]:
        assert self._data_dir is not None
        folder = self._data_dir / OTHER_ACCOUNTS
        accounts = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
        return [m for a in accounts if (m := self._mirror_of(a)) is not None]

    def _where(self, scope: Scope | None) -> tuple[str, str]:
        if scope is None:
            return self.moto_account, self.region
        return os.environ.get("MOTO_ACCOUNT_ID") or scope.account, scope.region

    def logs_backend(self, scope: Scope | None = None) -> Any:
        """moto's CloudWatch Logs backend for an account and region (default: the server's),
        for in-process writes."""
        from moto.logs.models import logs_backends  # noqa: PLC0415 - moto is slow to import (about 1 s): loaded on first use

        account, region = self._where(scope)
        return logs_backends[account][region]

    def cloudwatch_backend(self, scope: Scope | None = None) -> Any:
        """moto's CloudWatch (metrics) backend for an account and region (default: the
        server's).

        `put_metric_data(namespace, [{"MetricName", "Dimensions", "Value", "Timestamp"}])` takes
        timestamps as naive UTC datetimes, as moto's own request parser produces them.
        """
        from moto.cloudwatch.models import cloudwatch_backends  # noqa: PLC0415 - moto is slow to import (about 1 s): loaded on first use

        account, region = self._where(scope)
        return cloudwatch_backends[account][region]

    def _s3_backend(self, account: str) -> Any:
        from moto.s3.models import s3_backends  # noqa: PLC0415 - moto is slow to import (about 1 s): loaded on first use
        from moto.utilities.utils import get_partition  # noqa: PLC0415 - moto is slow to import (about 1 s): loaded on first use

        return s3_backends[account][get_partition(self.region)]

    # -- worker thread -------------------------------------------------------------------

    def _serve(self, call: _Call) -> _Reply:
        app = self._app_for(call.service, call.region)
        if app is None:
            return aws_error(
                _protocol(call),
                400,
                "UnknownOperationException",
                f"The service {call.service!r} is not served by this endpoint.",
            )
        problem = _settle_gzip(call) or (_prepare_s3_body(call) if call.service == "s3" else None)
        if problem is not None:
            return problem
        if call.service == "s3":
            return self._serve_s3(app, call)
        if call.service == "iam":
            answered = self._iam_of_our_own(call)
            if answered is not None:
                return answered
        return self._call_moto(app, call)

    def _iam_of_our_own(self, call: _Call) -> _Reply | None:
        """The IAM operations moto lacks and SDKs call (`iam_simulation`); None: moto's."""
        params = iam_simulation.form_of(call.query_string, call.body.read())
        call.body.seek(0)
        if params.get("Action") != ["SimulatePrincipalPolicy"]:
            return None
        from moto.iam.models import iam_backends  # noqa: PLC0415 - moto is slow to import (about 1 s): loaded on first use
        from moto.utilities.utils import get_partition  # noqa: PLC0415 - moto is slow to import (about 1 s): loaded on first use

        backend = iam_backends[call.account][get_partition(call.region)]
        try:
            body = iam_simulation.simulate_principal_policy(
                params, iam_simulation.principal_arns(backend), request_id()
            )
        except iam_simulation.SimulationError as error:
            return aws_error("query", error.status, error.code, error.message)
        return _Reply(200, [("Content-Type", "text/xml")], body)

    def _serve_s3(self, app: Any, call: _Call) -> _Reply:
        """S3 writes are serialised with the mirror's sync, so the disk copy keeps up."""
        self.restore_s3()
        if self._data_dir is None or call.method not in _WRITES:
            return self._call_moto(app, call)
        with self._s3_lock:
            reply = self._call_moto(app, call)
            mirror = self._mirror_of(call.account)
            if reply.status < 300 and mirror is not None:
                mirror.sync(self._s3_backend(call.account))
        return reply

    def _call_moto(self, app: Any, call: _Call) -> _Reply:
        return _fix_html(call, _wsgi(app, _environ(call)))

    def _app_for(self, service: str, region: str) -> Any:
        """moto's Flask app for a signing name, built once; None if moto has no such service."""
        from moto import backend_index  # noqa: PLC0415 - moto is slow to import (about 1 s): loaded on first use

        host = f"http://{service}.{region}.amazonaws.com"
        name: Any = next((n for n, p in backend_index.backend_url_patterns if p.match(host)), None)
        if name is None:
            return None
        with self._apps_lock:
            if name not in self._apps:
                from moto.moto_server.werkzeug_app import create_backend_app  # noqa: PLC0415 - moto is slow to import (about 1 s): loaded on first use

                self._apps[name] = create_backend_app(name)
            return self._apps[name]


AWS = web.AppKey("aws", AwsServices)
"""Where the app holds its one `AwsServices`."""


# -- request in, reply out ---------------------------------------------------------------


async def _call_of(request: web.Request, service: str, default: Scope) -> _Call:
    scope = request_scope(request.headers, request.query, default)
    body: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - handle() closes it
    size = 0
    read = request.get(BODY_KEY)  # the signature check had to read it already
    if read is not None:
        body.write(read)
        size = len(read)
    else:
        async for block in request.content.iter_chunked(1024 * 1024):
            body.write(block)
            size += len(block)
    body.seek(0)
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        key = name.lower()
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    return _Call(
        service=service,
        region=scope.region,
        account=scope.account,
        method=request.method,
        raw_path=request.raw_path.split("?", 1)[0],
        query_string=request.query_string,
        scheme=request.scheme,
        headers=headers,
        body=body,
        size=size,
    )


def _environ(call: _Call) -> dict[str, Any]:
    """A PEP 3333 environ for moto's Flask app."""
    host = call.headers.get("host", "localhost")
    server, _, port = host.rpartition(":") if host.count(":") == 1 else (host, "", "")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": call.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(call.raw_path).decode("latin-1"),
        "QUERY_STRING": call.query_string,
        "RAW_URI": f"{call.raw_path}?{call.query_string}" if call.query_string else call.raw_path,
        "SERVER_NAME": server or host,
        "SERVER_PORT": port or "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_LENGTH": str(call.size),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": call.scheme,
        "wsgi.input": call.body,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    environ["REQUEST_URI"] = environ["RAW_URI"]
    for name, value in call.headers.items():
        if name == "content-type":
            environ["CONTENT_TYPE"] = value
        elif name != "content-length":
            environ["HTTP_" + name.upper().replace("-", "_")] = value
    environ["HTTP_X_MOTO_ACCOUNT_ID"] = call.account
    call.body.seek(0)
    return environ


def _wsgi(app: Any, environ: dict[str, Any]) -> _Reply:
    reply = _Reply(status=500)

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        reply.status = int(status.split(maxsplit=1)[0])
        reply.headers = list(headers)
        return lambda data: None

    chunks: Iterable[bytes] = app(environ, start_response)
    try:
        reply.body = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    return reply


def _response(reply: _Reply, *, head: bool) -> web.Response:
    response = web.Response(status=reply.status, body=None if head else reply.body)
    for name, value in reply.headers:
        lower = name.lower()
        if lower not in _HOP_BY_HOP or (head and lower == "content-length"):
            response.headers.add(name, value)
    return response


def _settle_gzip(call: _Call) -> _Reply | None:
    """Hand moto plain bodies, except S3 objects, which are stored exactly as sent.

    aiohttp un-gzips `Content-Encoding: gzip` bodies unless the server runs with
    `auto_decompress=False`; moto's server mode would then un-gzip again and fail. So a gzip
    body that is still compressed is inflated here, and the header dropped either way. An S3
    body the server inflated cannot be restored byte for byte: that is refused.
    """
    if call.size == 0 or call.headers.get("content-encoding", "").strip().lower() != "gzip":
        return None
    compressed = call.body.read(2) == b"\x1f\x8b"
    call.body.seek(0)
    if call.service == "s3":
        if compressed:
            return None
        return aws_error(
            "rest-xml",
            500,
            "InternalError",
            "The server decompressed this gzip-encoded body; it must run with "
            "auto_decompress=False to store S3 objects as sent.",
        )
    if compressed:
        plain: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - replaces call.body
        with gzip.GzipFile(fileobj=call.body, mode="rb") as stream:
            shutil.copyfileobj(stream, plain)
        _replace_body(call, plain)
    del call.headers["content-encoding"]
    return None


def _replace_body(call: _Call, body: IO[bytes]) -> None:
    call.body.close()
    call.size = body.tell()
    body.seek(0)
    call.body = body


# -- S3 request bodies -------------------------------------------------------------------


def _prepare_s3_body(call: _Call) -> _Reply | None:
    """Decode aws-chunked and check flexible checksums; a reply only when the body is bad."""
    if "aws-chunked" in call.headers.get("content-encoding", "") or call.headers.get(
        "x-amz-content-sha256", ""
    ).startswith("STREAMING-"):
        problem = _unchunk(call)
        if problem is not None:
            return problem
    for name, claimed in list(call.headers.items()):
        match = _CHECKSUM_HEADER.match(name)
        if match is None or not _checksum_covers_body(call):
            continue
        actual = sigv4.checksum(match.group(1), call.body)
        call.body.seek(0)
        if actual is not None and actual != claimed:
            algorithm = match.group(1).upper()
            return aws_error(
                "rest-xml",
                400,
                "BadDigest",
                f"The {algorithm} you specified did not match the calculated checksum.",
            )
    return None


def _checksum_covers_body(call: _Call) -> bool:
    """False where `x-amz-checksum-*` describes an object, not this request's body
    (CompleteMultipartUpload, CopyObject)."""
    if call.method == "POST":
        return "uploadId" not in call.query_string
    return call.method == "PUT" and "x-amz-copy-source" not in call.headers


def _unchunk(call: _Call) -> _Reply | None:
    decoded: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - replaces call.body
    try:
        trailers = sigv4.decode_aws_chunked(call.body, decoded)
    except sigv4.MalformedChunkedBody as error:
        decoded.close()
        return aws_error("rest-xml", 400, "IncompleteBody", f"Malformed aws-chunked body: {error}")
    _replace_body(call, decoded)
    headers = call.headers
    encodings = [e.strip() for e in headers.pop("content-encoding", "").split(",")]
    if kept := [e for e in encodings if e and e != "aws-chunked"]:
        headers["content-encoding"] = ",".join(kept)
    for name in ("x-amz-decoded-content-length", "x-amz-trailer"):
        headers.pop(name, None)
    headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD"
    for name, value in trailers.items():
        if match := _CHECKSUM_HEADER.match(name):
            headers[name] = value
            headers.setdefault("x-amz-sdk-checksum-algorithm", match.group(1).upper())
    return None


# -- errors ------------------------------------------------------------------------------


def _protocol(call: _Call) -> str:
    if call.service == "s3":
        return "rest-xml"
    if call.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return "query"
    return "json"


def aws_error(protocol: str, status: int, code: str, message: str) -> _Reply:
    """An error body in the shape the client's protocol parser reads (never HTML)."""
    rid = request_id()
    if protocol == "rest-xml":
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{escape(code)}</Code>'
            f"<Message>{escape(message)}</Message><RequestId>{rid}</RequestId></Error>"
        )
        return _Reply(status, [("Content-Type", "application/xml")], body.encode())
    if protocol == "query":
        kind = "Sender" if status < 500 else "Receiver"
        error = (
            f"<Type>{kind}</Type><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
        )
        body = f"<ErrorResponse><Error>{error}</Error><RequestId>{rid}</RequestId></ErrorResponse>"
        return _Reply(status, [("Content-Type", "text/xml")], body.encode())
    payload = json.dumps({"__type": code, "message": message}).encode()
    headers = [
        ("Content-Type", "application/x-amz-json-1.1"),
        ("x-amzn-RequestId", rid),
        ("x-amzn-ErrorType", code),
    ]
    return _Reply(status, headers, payload)


def _internal_failure(call: _Call, error: BaseException) -> _Reply:
    code = "InternalError" if call.service == "s3" else "InternalFailure"
    reason = f"{type(error).__name__}: {error}"
    return aws_error(_protocol(call), 500, code, f"The {call.service} emulation failed ({reason}).")


def _fix_html(call: _Call, reply: _Reply) -> _Reply:
    """moto answers an unknown route with a Flask HTML page; give the client an AWS error."""
    page = reply.body.lstrip()[:20].lower()
    if reply.status < 400 or not page.startswith((b"<!doctype html", b"<html")):
        return reply
    if reply.status >= 500:
        return _internal_failure(call, RuntimeError(f"HTTP {reply.status}"))
    return aws_error(
        _protocol(call),
        400,
        "UnknownOperationException",
        f"The {call.service} emulation has no operation at {call.method} {call.raw_path}.",
    )
