"""The other AWS services a SageMaker user needs (S3, STS, IAM, CloudWatch Logs and metrics),
served on our endpoint by moto's in-process backends.

A request is ours when its `X-Amz-Target` starts with `SageMaker.` or its SigV4 credential scope
names `sagemaker`; anything else goes, unchanged, to moto's WSGI dispatcher, which routes on the
same credential scope. moto is synchronous, so it runs in a worker thread. Its backends are
process-wide: one emulator per process.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import re
import sys
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "server", "date"}
)


class AwsServices:
    def __init__(self, *, region: str, account: str) -> None:
        self.region = region
        self.account = account
        self._app: Any = None

    def _wsgi(self) -> Any:
        if self._app is None:
            os.environ.setdefault("MOTO_ACCOUNT_ID", self.account)
            from moto.moto_server.werkzeug_app import (
                DomainDispatcherApplication,
                create_backend_app,
            )

            self._app = DomainDispatcherApplication(create_backend_app)
        return self._app

    def service_of(self, request: web.Request) -> str | None:
        """The AWS service a request is for, from its signature's scope or its target."""
        credential = request.headers.get("Authorization", "") or request.query.get(
            "X-Amz-Credential", ""
        )
        if "X-Amz-Credential" in request.query:
            credential = "Credential=" + request.query["X-Amz-Credential"]
        match = _SCOPE.search(credential)
        if match:
            return match.group(1).lower()
        target = request.headers.get("X-Amz-Target", "")
        if target.startswith("SageMaker."):
            return "sagemaker"
        if target:
            return target.split(".", 1)[0].lower()
        return None

    async def handle(self, request: web.Request, service: str) -> web.StreamResponse:
        body = await request.read()
        environ = _environ(request, body)
        try:
            status, headers, payload = await asyncio.to_thread(self._call, environ)
        except Exception:
            log.exception("moto failed serving %s %s", service, request.path)
            return web.json_response(
                {"__type": "InternalFailure", "message": f"The {service} emulation failed."},
                status=500,
            )
        head = request.method == "HEAD"
        response = web.Response(status=status, body=None if head else payload)
        for key, value in headers:
            if key.lower() not in _HOP_BY_HOP or (head and key.lower() == "content-length"):
                response.headers.add(key, value)
        return response

    def _call(self, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
        captured: dict[str, Any] = {}

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            captured["status"] = int(status.split(maxsplit=1)[0])
            captured["headers"] = headers
            return lambda data: None

        chunks = self._wsgi()(environ, start_response)
        try:
            payload = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close:
                close()
        return captured["status"], captured["headers"], payload


def _environ(request: web.Request, body: bytes) -> dict[str, Any]:
    host = request.headers.get("Host", request.host)
    server, _, port = host.partition(":")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": request.raw_path.split("?", 1)[0],
        "RAW_URI": request.raw_path,
        "REQUEST_URI": request.raw_path,
        "QUERY_STRING": request.query_string,
        "SERVER_NAME": server,
        "SERVER_PORT": port or "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": request.scheme,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "CONTENT_LENGTH": str(len(body)),
    }
    from urllib.parse import unquote

    environ["PATH_INFO"] = unquote(environ["PATH_INFO"])
    for key, value in request.headers.items():
        name = key.upper().replace("-", "_")
        if name == "CONTENT_TYPE":
            environ["CONTENT_TYPE"] = value
        elif name != "CONTENT_LENGTH":
            environ[f"HTTP_{name}"] = value
    return environ
