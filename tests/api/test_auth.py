"""SigV4 access control: the pure verifier against requests signed by botocore's own signers, and
a real server (the app `create_app` builds, with the middleware) called by boto3 clients with
right, wrong, unknown and no credentials."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.request
from calendar import timegm
from collections.abc import Iterator
from pathlib import Path
from time import strptime
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials as BotoCredentials
from botocore.exceptions import ClientError

from emulator.api import auth
from emulator.api.app import create_app
from emulator.api.auth import AuthError, Key, load_credentials, verify
from emulator.clock import SystemClock
from emulator.settings import Settings
from emulator.testing import free_port

KEY_ID, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
CREDENTIALS = {KEY_ID: Key(SECRET), "AKIDTEMP": Key("temp-secret", session_token="tok")}
ENDPOINT = "http://127.0.0.1:8780"
SIGNATURE_TEXT = "The request signature we calculated does not match the signature you provided."


# --- signing with botocore --------------------------------------------------------------------


def sign(
    request: AWSRequest,
    service: str = "sagemaker",
    *,
    key: str = KEY_ID,
    secret: str = SECRET,
    token: str | None = None,
    presign: int | None = None,
) -> AWSRequest:
    credentials = BotoCredentials(key, secret, token)
    if presign is not None:
        signer_cls: Any = S3SigV4QueryAuth if service == "s3" else SigV4QueryAuth
        signer = signer_cls(credentials, service, "us-east-1", expires=presign)
    else:
        signer = (S3SigV4Auth if service == "s3" else SigV4Auth)(credentials, service, "us-east-1")
    signer.add_auth(request)
    return request


def sagemaker_request(body: bytes = b'{"MaxResults": 5}') -> AWSRequest:
    return AWSRequest(
        method="POST",
        url=f"{ENDPOINT}/",
        data=body,
        headers={
            "X-Amz-Target": "SageMaker.ListTrainingJobs",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )


def check(
    request: AWSRequest, *, body: bytes | None = None, now: float | None = None, **edits: Any
) -> None:
    """Run the verifier on a botocore-prepared request, as the server would see it."""
    prepared = request.prepare()
    path, _, query = prepared.url.split("127.0.0.1:8780", 1)[1].partition("?")
    headers = [("Host", "127.0.0.1:8780"), *prepared.headers.items()]
    data = prepared.body if body is None else body
    if isinstance(data, str):
        data = data.encode()
    verify(
        prepared.method,
        edits.get("path", path),
        auth._raw_query(edits.get("query", query)),
        edits.get("headers", headers),
        data if data is not None else b"",
        edits.get("credentials", CREDENTIALS),
        now if now is not None else signed_at(prepared),
    )


def signed_at(prepared: Any) -> float:
    stamp = prepared.headers.get("X-Amz-Date")
    if stamp is None:
        stamp = prepared.url.split("X-Amz-Date=", 1)[1].split("&", 1)[0]
    return float(timegm(strptime(stamp, "%Y%m%dT%H%M%SZ")))


def fails(kind: str, request: AWSRequest, **kwargs: Any) -> AuthError:
    with pytest.raises(AuthError) as exc:
        check(request, **kwargs)
    assert exc.value.kind == kind, exc.value
    return exc.value


# --- the verifier -----------------------------------------------------------------------------


def test_a_request_signed_by_botocore_verifies() -> None:
    check(sign(sagemaker_request()))


def test_a_tampered_body_or_signed_header_is_a_mismatch() -> None:
    request = sign(sagemaker_request())
    fails("mismatch", request, body=b'{"MaxResults": 6}')
    headers = [(k, v) for k, v in request.prepare().headers.items() if k != "X-Amz-Target"]
    headers += [("Host", "127.0.0.1:8780"), ("X-Amz-Target", "SageMaker.DeleteTrainingJob")]
    fails("mismatch", request, headers=headers)


def test_a_wrong_secret_is_a_mismatch_and_an_unknown_key_is_unrecognised() -> None:
    fails("mismatch", sign(sagemaker_request(), secret="not-the-secret"))
    fails("unknown_key", sign(sagemaker_request(), key="AKIDNOBODY"))


def test_unsigned_and_malformed_requests() -> None:
    fails("missing", sagemaker_request(), now=0.0)
    request = sign(sagemaker_request())
    prepared = request.prepare()
    base = [("Host", "127.0.0.1:8780")] + [
        (k, v) for k, v in prepared.headers.items() if k != "Authorization"
    ]
    for authorization in (
        "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/aws4_request, "
        "SignedHeaders=host, Signature=00",
        "AWS AKIDEXAMPLE:c2lnbmF0dXJl",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/sagemaker/aws4_request, "
        "SignedHeaders=content-type, Signature=00",
    ):
        fails("incomplete", request, headers=[*base, ("Authorization", authorization)])


def test_the_request_time_must_be_within_15_minutes() -> None:
    request = sign(sagemaker_request())
    at = signed_at(request.prepare())
    check(request, now=at + 14 * 60)
    error = fails("expired", request, now=at + 16 * 60)
    assert error.detail.startswith("Signature expired: ")
    fails("expired", request, now=at - 16 * 60)


def test_a_session_token_must_match_when_the_key_has_one() -> None:
    check(sign(sagemaker_request(), key="AKIDTEMP", secret="temp-secret", token="tok"))
    fails("unknown_key", sign(sagemaker_request(), key="AKIDTEMP", secret="temp-secret"))
    fails(
        "unknown_key",
        sign(sagemaker_request(), key="AKIDTEMP", secret="temp-secret", token="other"),
    )


def test_s3_paths_and_queries_are_signed_as_sent() -> None:
    url = f"{ENDPOINT}/bucket/a%20dir/%C3%A9t%C3%A9%2Bx.csv?tagging=&versionId=a%2Fb"
    request = AWSRequest(method="GET", url=url, headers={"x-amz-content-sha256": auth.UNSIGNED})
    check(sign(request, "s3"))
    fails("mismatch", sign(request, "s3"), path="/bucket/a%20dir/other.csv")
    fails("mismatch", sign(request, "s3"), query="tagging=&versionId=a%2Fc")


def test_a_hex_payload_hash_must_match_the_body_we_read() -> None:
    request = AWSRequest(method="PUT", url=f"{ENDPOINT}/bucket/key", data=b"payload")
    signed = sign(request, "s3")
    check(signed)
    fails("payload", signed, body=b"other payload")


def test_presigned_urls_verify_until_they_expire() -> None:
    request = sign(AWSRequest(method="GET", url=f"{ENDPOINT}/bucket/key"), "s3", presign=60)
    at = signed_at(request.prepare())
    check(request, now=at + 30)
    fails("expired", request, now=at + 61)
    url = request.prepare().url
    tampered = url.split("?", 1)[1].replace("X-Amz-Expires=60", "X-Amz-Expires=6000")
    fails("mismatch", request, query=tampered, now=at + 30)
    query = sign(AWSRequest(method="GET", url=f"{ENDPOINT}/?Action=GetCallerIdentity"), "sts")
    check(query)


def test_s3_legacy_presigned_urls() -> None:
    s3 = boto3.session.Session().client(
        "s3",
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
    )
    params = {"Bucket": "b", "Key": "k y", "VersionId": "v/1", "ResponseContentType": "t/x"}
    url = s3.generate_presigned_url("get_object", Params=params, ExpiresIn=60)
    path, _, query = url.split("127.0.0.1:8780", 1)[1].partition("?")
    pairs = auth._raw_query(query)
    expires = float(dict(pairs)["Expires"])
    host = [("Host", "127.0.0.1:8780")]
    verify("GET", path, pairs, host, None, CREDENTIALS, expires - 30)
    for kind, args in (
        ("expired", ("GET", path, pairs, host, None, CREDENTIALS, expires + 1)),
        ("mismatch", ("PUT", path, pairs, host, None, CREDENTIALS, expires - 30)),
        ("mismatch", ("GET", path + "x", pairs, host, None, CREDENTIALS, expires - 30)),
        ("unknown_key", ("GET", path, pairs, host, None, {}, expires - 30)),
    ):
        with pytest.raises(AuthError) as exc:
            verify(*args)
        assert exc.value.kind == kind


def test_non_s3_paths_are_normalised_and_encoded_twice() -> None:
    assert auth.canonical_uri("/a/./b/../c%20d/", "sagemaker") == "/a/c%2520d/"
    assert auth.canonical_uri("/a/./b/../c%20d/", "s3") == "/a/./b/../c%20d/"
    assert auth.canonical_query([("b", "2"), ("a", "x%20y"), ("a", "1")]) == "a=1&a=x%20y&b=2"
    headers = auth.canonical_headers([("X-A", "  1   2 "), ("x-a", "3"), ("Host", "h")])
    assert headers == {"x-a": "1 2,3", "host": "h"}


def test_answers_follow_each_protocol() -> None:
    error = AuthError("unknown_key")
    assert auth.answer("json", error) == (
        400,
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    )
    assert auth.answer("query", error)[:2] == (403, "InvalidClientTokenId")
    assert auth.answer("rest-xml", error)[:2] == (403, "InvalidAccessKeyId")
    assert auth.answer("json", AuthError("missing"))[:2] == (
        403,
        "MissingAuthenticationTokenException",
    )
    assert auth.answer("json", AuthError("mismatch"))[2].startswith(SIGNATURE_TEXT)


def test_credentials_file(tmp_path: Path) -> None:
    path = tmp_path / "credentials"
    path.write_text(
        "[default]\naws_access_key_id = AKID1\naws_secret_access_key = s1\n\n"
        "[ci]\naws_access_key_id=AKID2\naws_secret_access_key=s2%x\naws_session_token=t\n"
    )
    assert load_credentials(path) == {"AKID1": Key("s1"), "AKID2": Key("s2%x", "t")}
    path.write_text("[default]\naws_access_key_id = AKID1\n")
    with pytest.raises(ValueError, match="aws_secret_access_key"):
        load_credentials(path)
    path.write_text("# nothing\n")
    with pytest.raises(ValueError, match="no access keys"):
        load_credentials(path)


# --- a real server and boto3 ------------------------------------------------------------------


class SignedServer:
    """The app `create_app` builds, plus the SigV4 middleware, on a loopback port in a thread."""

    def __init__(self, data_dir: Path) -> None:
        from aiohttp import web

        self.port = free_port()
        settings = Settings(port=self.port, data_dir=data_dir, agents=0)
        data_dir.mkdir(parents=True, exist_ok=True)
        self.app = create_app(settings)
        self.app.middlewares.append(auth.sigv4_middleware(CREDENTIALS, SystemClock()))
        self.runner = web.AppRunner(self.app, auto_decompress=False)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> SignedServer:
        from aiohttp import web

        self.thread.start()

        async def start() -> None:
            await self.runner.setup()
            await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

        asyncio.run_coroutine_threadsafe(start(), self.loop).result(60)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    def client(
        self, service: str, key: str = KEY_ID, secret: str = SECRET, config: Config | None = None
    ) -> Any:
        return boto3.session.Session().client(
            service,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            config=config,
        )

    def unsigned(self, service: str) -> Any:
        return boto3.session.Session().client(
            service,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            config=Config(signature_version=UNSIGNED),
        )


@pytest.fixture(scope="module")
def signed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SignedServer]:
    with SignedServer(tmp_path_factory.mktemp("auth")) as server:
        yield server


def error_of(call: Any, **kwargs: Any) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as exc:
        call(**kwargs)
    response = exc.value.response
    error = response["Error"]
    return response["ResponseMetadata"]["HTTPStatusCode"], error["Code"], error["Message"]


def test_the_right_key_is_served(signed_server: SignedServer) -> None:
    sm = signed_server.client("sagemaker")
    assert sm.list_training_jobs()["TrainingJobSummaries"] == []
    s3 = signed_server.client("s3")
    s3.create_bucket(Bucket="auth-bucket")
    s3.put_object(Bucket="auth-bucket", Key="dir/a file.txt", Body=b"hello")
    assert s3.get_object(Bucket="auth-bucket", Key="dir/a file.txt")["Body"].read() == b"hello"
    params = {"Bucket": "auth-bucket", "Key": "dir/a file.txt", "ResponseContentType": "a/b"}
    v4 = signed_server.client("s3", config=Config(signature_version="s3v4"))
    for client in (s3, v4):  # boto3's default for S3 presigning is still Signature Version 2
        url = client.generate_presigned_url("get_object", Params=params, ExpiresIn=60)
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.read() == b"hello"
        with pytest.raises(urllib.error.HTTPError) as exc:
            urllib.request.urlopen(url.replace("a%20file", "b%20file"), timeout=10)
        assert exc.value.code == 403
        assert b"<Code>SignatureDoesNotMatch</Code>" in exc.value.read()


def test_a_wrong_secret_is_refused_as_aws_does(signed_server: SignedServer) -> None:
    sm = signed_server.client("sagemaker", secret="wrong")
    status, code, message = error_of(sm.list_training_jobs)
    assert (status, code) == (400, "InvalidSignatureException")
    assert message.startswith(SIGNATURE_TEXT)
    s3 = signed_server.client("s3", secret="wrong")
    assert error_of(s3.list_buckets)[:2] == (403, "SignatureDoesNotMatch")


def test_an_unknown_key_is_unrecognised(signed_server: SignedServer) -> None:
    sm = signed_server.client("sagemaker", key="AKIDNOBODY")
    assert error_of(sm.list_training_jobs) == (
        400,
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    )
    s3 = signed_server.client("s3", key="AKIDNOBODY")
    assert error_of(s3.list_buckets)[:2] == (403, "InvalidAccessKeyId")


def test_an_unsigned_request_is_refused_and_changes_nothing(
    signed_server: SignedServer, tmp_path: Path
) -> None:
    sm = signed_server.unsigned("sagemaker")
    assert error_of(sm.list_training_jobs)[:2] == (403, "MissingAuthenticationTokenException")
    s3 = signed_server.unsigned("s3")
    assert error_of(s3.create_bucket, Bucket="never-made")[:2] == (403, "AccessDenied")
    buckets = signed_server.client("s3").list_buckets()["Buckets"]
    assert "never-made" not in [b["Name"] for b in buckets]


def test_health_needs_no_signature_but_everything_else_does(signed_server: SignedServer) -> None:
    with urllib.request.urlopen(f"{signed_server.endpoint}/health", timeout=10) as response:
        assert json.load(response)["status"] == "ok"
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(f"{signed_server.endpoint}/", timeout=10)
    assert exc.value.code == 403


def test_query_protocol_services_are_verified(signed_server: SignedServer) -> None:
    sts = signed_server.client("sts")
    assert sts.get_caller_identity()["Account"]
    wrong = signed_server.client("sts", secret="wrong")
    assert error_of(wrong.get_caller_identity)[:2] == (403, "SignatureDoesNotMatch")


# --- `amt serve --auth sigv4 --credentials FILE` ----------------------------------------------


@pytest.mark.slow
def test_amt_serve_with_sigv4_runs_a_training_job(tmp_path: Path) -> None:
    """The whole server under auth: boto3 with a configured key works end to end (the local
    agent's own S3 calls included); an unknown key is refused."""
    from tests.conftest import start_server
    from tests.requests import training_request

    credentials = tmp_path / "credentials"
    credentials.write_text(
        "[testing]\naws_access_key_id = testing\naws_secret_access_key = testing\n"
    )
    server = start_server(
        tmp_path / "data", extra_args=["--auth", "sigv4", "--credentials", str(credentials)]
    )
    try:
        server.sagemaker.create_training_job(**training_request("auth-train"))
        assert server.wait_training("auth-train")["TrainingJobStatus"] == "Completed"
        stranger = boto3.session.Session().client(
            "sagemaker",
            endpoint_url=server.endpoint,
            region_name="us-east-1",
            aws_access_key_id="AKIDNOBODY",
            aws_secret_access_key="x",
        )
        assert error_of(stranger.list_training_jobs)[1] == "UnrecognizedClientException"
    finally:
        server.process.stop()
