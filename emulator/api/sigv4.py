"""The parts of AWS Signature Version 4 the emulator reads but never verifies.

*Credential scope.* Every SigV4 request names the service it was signed for —
`Credential=<key>/<yyyymmdd>/<region>/<service>/aws4_request`, in the `Authorization` header or,
for a presigned URL, in the `X-Amz-Credential` query parameter. With one endpoint serving every
service, that scope is how a request finds its backend.

*aws-chunked payloads* (`Content-Encoding: aws-chunked`, see "SigV4 streaming" in the S3 docs):
the body is a series of `<hex size>[;chunk-signature=<sig>]\\r\\n<data>\\r\\n` chunks ending with a
zero-size chunk, optionally followed by trailer headers such as `x-amz-checksum-crc32:<base64>`.
SDKs send it for PutObject/UploadPart with flexible checksums. `decode_aws_chunked` turns it back
into the plain payload and the trailers, so the backend behind us sees an ordinary request.
"""

from __future__ import annotations

import base64
import hashlib
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")
_COPY_BLOCK = 1024 * 1024


@dataclass(frozen=True)
class CredentialScope:
    access_key: str
    date: str
    region: str
    service: str


def credential_scope(
    headers: Mapping[str, str], query: Mapping[str, str]
) -> CredentialScope | None:
    """The scope a request was signed with (header or presigned URL); None when unsigned."""
    credential = query.get("X-Amz-Credential")
    text = f"Credential={credential}" if credential else headers.get("Authorization", "")
    match = _CREDENTIAL.search(text)
    if match is None:
        return None
    access_key, date, region, service = match.groups()
    return CredentialScope(access_key, date, region, service.lower())


class MalformedChunkedBody(ValueError):
    """The body claims aws-chunked but does not follow the framing."""


def decode_aws_chunked(source: IO[bytes], sink: IO[bytes]) -> dict[str, str]:
    """Copy the payload of an aws-chunked body from `source` to `sink`; return its trailers.

    Reads chunk by chunk, so a large upload never has to be in memory at once.
    """
    while True:
        size = _chunk_size(source.readline())
        if size == 0:
            break
        _copy_exactly(source, sink, size)
        if source.read(2) != b"\r\n":
            raise MalformedChunkedBody("a chunk is not followed by CRLF")
    trailers: dict[str, str] = {}
    for raw in source:
        line = raw.strip()
        if not line:
            continue
        name, sep, value = line.decode("utf-8", "replace").partition(":")
        if not sep:
            raise MalformedChunkedBody(f"malformed trailer line {line[:80]!r}")
        if name.strip().lower() == "x-amz-trailer-signature":
            continue
        trailers[name.strip().lower()] = value.strip()
    return trailers


def _chunk_size(line: bytes) -> int:
    head = line.split(b";", 1)[0].strip()
    try:
        return int(head, 16)
    except ValueError:
        raise MalformedChunkedBody(f"bad chunk header {line[:80]!r}") from None


def _copy_exactly(source: IO[bytes], sink: IO[bytes], size: int) -> None:
    while size > 0:
        block = source.read(min(size, _COPY_BLOCK))
        if not block:
            raise MalformedChunkedBody("the body ends inside a chunk")
        sink.write(block)
        size -= len(block)


_HASHES = {"sha1": hashlib.sha1, "sha256": hashlib.sha256}


def checksum(algorithm: str, stream: IO[bytes]) -> str | None:
    """The base64 flexible checksum of `stream` (read to its end), as S3 writes it in
    `x-amz-checksum-<algorithm>`; None for an algorithm this process cannot compute
    (CRC32C and CRC64NVME need awscrt)."""
    algorithm = algorithm.lower()
    if algorithm == "crc32":
        crc = 0
        for block in iter(lambda: stream.read(_COPY_BLOCK), b""):
            crc = zlib.crc32(block, crc)
        return base64.b64encode(crc.to_bytes(4, "big")).decode()
    factory = _HASHES.get(algorithm)
    if factory is None:
        return None
    digest = factory()
    for block in iter(lambda: stream.read(_COPY_BLOCK), b""):
        digest.update(block)
    return base64.b64encode(digest.digest()).decode()
