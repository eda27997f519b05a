"""S3, STS, IAM, CloudWatch Logs and CloudWatch through `AwsServices`, with real boto3 clients.

A minimal aiohttp app (its only handler routes everything to `AwsServices.handle`) runs on a
background event loop, so the synchronous boto3 calls in the tests do not block it.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import io
import os
import threading
import urllib.error
import urllib.request
import uuid
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from aiohttp import web
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum

from emulator.api import sigv4
from emulator.api.aws_services import AwsServices
from emulator.clock import SystemClock

REGION = "us-east-1"
ACCOUNT = "210987654321"
S3_AUTH = (
    "AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/s3/aws4_request, "
    "SignedHeaders=host, Signature=0"
)


class Endpoint:
    """An aiohttp app on 127.0.0.1:<free port> whose one handler is `AwsServices.handle`."""

    def __init__(self, aws: AwsServices, *, auto_decompress: bool = False) -> None:
        self.aws = aws
        self.auto_decompress = auto_decompress
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def _route(self, request: web.Request) -> web.StreamResponse:
        return await self.aws.handle(request, self.aws.service_of(request) or "unknown")

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._route)
        self.runner = web.AppRunner(app, auto_decompress=self.auto_decompress)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = self.runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    def start(self) -> Endpoint:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(30)
        return self

    def stop(self) -> None:
        if self.runner is not None:
            asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    def client(self, service: str, **config: Any) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(**config) if config else None,
        )

    def raw(self, method: str, path: str, body: bytes = b"", **headers: str) -> tuple[int, bytes]:
        """A hand-made request, for wire formats boto3 does not send over plain HTTP."""
        request = urllib.request.Request(self.url + path, data=body or None, method=method)
        request.add_header("Content-Type", "application/octet-stream")  # not urllib's form type
        for name, value in headers.items():
            request.add_header(name.replace("_", "-"), value)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoint]:
    aws = AwsServices(region=REGION, account=ACCOUNT, data_dir=tmp_path_factory.mktemp("aws-data"))
    aws.reset()
    server = Endpoint(aws).start()
    yield server
    server.stop()
    aws.reset()


@pytest.fixture
def bucket(endpoint: Endpoint) -> str:
    name = f"bucket-{uuid.uuid4().hex[:12]}"
    endpoint.client("s3").create_bucket(Bucket=name)
    return name


def crc32_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


# -- S3 -----------------------------------------------------------------------------------


def test_put_with_sse_kms_and_crc32_then_get_list_head_delete(endpoint: Endpoint, bucket: str):
    s3 = endpoint.client("s3")
    body = b"a,b\n1,2\n" * 1000
    put = s3.put_object(
        Bucket=bucket, Key="data/train.csv", Body=body, ServerSideEncryption="aws:kms"
    )
    assert put["ServerSideEncryption"] == "aws:kms"
    assert put["ChecksumCRC32"] == crc32_b64(body)  # botocore's default flexible checksum

    got = s3.get_object(Bucket=bucket, Key="data/train.csv", ChecksumMode="ENABLED")
    assert got["Body"].read() == body
    assert got["ChecksumCRC32"] == crc32_b64(body)

    listed = s3.list_objects_v2(Bucket=bucket, Prefix="data/")
    assert [(o["Key"], o["Size"]) for o in listed["Contents"]] == [("data/train.csv", len(body))]
    assert bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    s3.head_bucket(Bucket=bucket)
    assert s3.head_object(Bucket=bucket, Key="data/train.csv")["ContentLength"] == len(body)

    s3.delete_object(Bucket=bucket, Key="data/train.csv")
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_missing_bucket_and_key_are_s3_errors(endpoint: Endpoint, bucket: str):
    s3 = endpoint.client("s3")
    with pytest.raises(ClientError) as missing_key:
        s3.get_object(Bucket=bucket, Key="nope")
    assert missing_key.value.response["Error"]["Code"] == "NoSuchKey"
    with pytest.raises(ClientError) as missing_bucket:
        s3.head_bucket(Bucket=f"absent-{uuid.uuid4().hex[:8]}")
    assert missing_bucket.value.response["Error"]["Code"] == "404"


def test_multipart_upload_and_download_file(endpoint: Endpoint, bucket: str, tmp_path: Path):
    s3 = endpoint.client("s3")
    source = tmp_path / "model.bin"
    payload = os.urandom(10 * 1024 * 1024 + 12345)
    source.write_bytes(payload)
    s3.upload_file(str(source), bucket, "models/model.bin")  # > 8 MB: multipart

    head = s3.head_object(Bucket=bucket, Key="models/model.bin")
    assert head["ContentLength"] == len(payload)
    assert head["ETag"].strip('"').endswith("-2")  # two parts

    target = tmp_path / "back.bin"
    s3.download_file(bucket, "models/model.bin", str(target))
    assert target.read_bytes() == payload


def test_gzip_encoded_object_is_stored_as_sent(endpoint: Endpoint, bucket: str):
    s3 = endpoint.client("s3")
    packed = gzip.compress(b"label,x\n" * 500)
    s3.put_object(Bucket=bucket, Key="train.csv.gz", Body=packed, ContentEncoding="gzip")
    got = s3.get_object(Bucket=bucket, Key="train.csv.gz")
    assert (got["Body"].read(), got["ContentEncoding"]) == (packed, "gzip")


def test_server_that_decompresses_refuses_gzip_objects_but_serves_gzip_metrics():
    """aiohttp's default un-gzips bodies: harmless for PutMetricData, not for S3 objects."""
    aws = AwsServices(region=REGION, account=ACCOUNT)
    server = Endpoint(aws, auto_decompress=True).start()
    try:
        s3 = server.client("s3", retries={"max_attempts": 1})
        s3.create_bucket(Bucket="inflating")
        with pytest.raises(ClientError) as refused:
            s3.put_object(
                Bucket="inflating", Key="a.gz", Body=gzip.compress(b"x"), ContentEncoding="gzip"
            )
        assert refused.value.response["Error"]["Code"] == "InternalError"
        put_many_metrics(server.client("cloudwatch", retries={"max_attempts": 1}))
    finally:
        server.stop()


def test_keys_with_unicode_spaces_and_plus(endpoint: Endpoint, bucket: str):
    s3 = endpoint.client("s3")
    key = "dir with space/naïve+plus%.txt"
    s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"x"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == [key]


def test_aws_chunked_body_with_trailing_crc32(endpoint: Endpoint, bucket: str):
    """What botocore sends over HTTPS (STREAMING-UNSIGNED-PAYLOAD-TRAILER), byte for byte."""
    data = os.urandom(300_000)
    wrapped = AwsChunkedWrapper(
        io.BytesIO(data),
        checksum_cls=Crc32Checksum,
        checksum_name="x-amz-checksum-crc32",
        chunk_size=64 * 1024,
    ).read()
    status, reply = endpoint.raw(
        "PUT",
        f"/{bucket}/chunked.bin",
        wrapped,
        Authorization=S3_AUTH,
        Content_Encoding="aws-chunked",
        X_Amz_Content_Sha256="STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        X_Amz_Decoded_Content_Length=str(len(data)),
        X_Amz_Trailer="x-amz-checksum-crc32",
        X_Amz_Sdk_Checksum_Algorithm="CRC32",
    )
    assert status == 200, reply
    got = endpoint.client("s3").get_object(Bucket=bucket, Key="chunked.bin", ChecksumMode="ENABLED")
    assert got["Body"].read() == data
    assert got["ChecksumCRC32"] == crc32_b64(data)
    assert "ContentEncoding" not in got


def test_wrong_checksum_is_bad_digest(endpoint: Endpoint, bucket: str):
    body = b"0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"
    chunked = b"5\r\nhello\r\n" + body
    status, reply = endpoint.raw(
        "PUT",
        f"/{bucket}/bad.bin",
        chunked,
        Authorization=S3_AUTH,
        Content_Encoding="aws-chunked",
        X_Amz_Content_Sha256="STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        X_Amz_Decoded_Content_Length="5",
        X_Amz_Trailer="x-amz-checksum-crc32",
    )
    assert status == 400
    assert b"<Code>BadDigest</Code>" in reply
    status, reply = endpoint.raw(
        "PUT",
        f"/{bucket}/bad.bin",
        b"hello",
        Authorization=S3_AUTH,
        X_Amz_Checksum_Crc32="AAAAAA==",
    )
    assert status == 400
    assert b"<Code>BadDigest</Code>" in reply
    with pytest.raises(ClientError):
        endpoint.client("s3").head_object(Bucket=bucket, Key="bad.bin")


def test_virtual_host_style_bucket(endpoint: Endpoint, bucket: str):
    port = endpoint.url.rsplit(":", 1)[1]
    host = f"{bucket}.localhost:{port}"
    status, _ = endpoint.raw("PUT", "/vhost.txt", b"via host", Host=host, Authorization=S3_AUTH)
    assert status == 200
    status, body = endpoint.raw("GET", "/vhost.txt", Host=host, Authorization=S3_AUTH)
    assert (status, body) == (200, b"via host")


def test_presigned_get(endpoint: Endpoint, bucket: str):
    s3 = endpoint.client("s3")
    s3.put_object(Bucket=bucket, Key="shared.txt", Body=b"presigned")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "shared.txt"})
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.read() == b"presigned"


def test_objects_survive_a_restart(endpoint: Endpoint, bucket: str, tmp_path: Path):
    """Mirror to disk, lose moto's memory (as `kill -9` would), reload from the mirror."""
    from moto.moto_api._internal.models import moto_api_backend

    aws = AwsServices(region=REGION, account=ACCOUNT, data_dir=tmp_path)
    aws.reset()
    first = Endpoint(aws).start()
    try:
        s3 = first.client("s3")
        s3.create_bucket(Bucket="durable")
        s3.put_object(
            Bucket="durable",
            Key="a/b.txt",
            Body=b"kept",
            ContentType="text/csv",
            Metadata={"owner": "me"},
        )
        s3.put_object(Bucket="durable", Key="gone.txt", Body=b"deleted later")
        s3.put_object(Bucket="durable", Key="a/b.txt", Body=b"kept, v2", ContentType="text/csv")
        s3.delete_object(Bucket="durable", Key="gone.txt")
        etag = s3.head_object(Bucket="durable", Key="a/b.txt")["ETag"]
    finally:
        first.stop()
    moto_api_backend.reset()  # the process dies: moto's memory is gone, the disk is not

    second = Endpoint(AwsServices(region=REGION, account=ACCOUNT, data_dir=tmp_path)).start()
    try:
        s3 = second.client("s3")
        got = s3.get_object(Bucket="durable", Key="a/b.txt", ChecksumMode="ENABLED")
        assert got["Body"].read() == b"kept, v2"
        assert (got["ETag"], got["ContentType"]) == (etag, "text/csv")
        assert [o["Key"] for o in s3.list_objects_v2(Bucket="durable")["Contents"]] == ["a/b.txt"]
        assert len(list((tmp_path / "s3" / "durable" / "objects").glob("*.data"))) == 1
    finally:
        second.stop()
        second.aws.reset()
    assert not (tmp_path / "s3").exists()


def test_every_accounts_buckets_survive_a_restart_and_go_with_a_reset(tmp_path: Path):
    """moto keeps S3 per account: each account's buckets have a disk copy of their own."""
    from moto.moto_api._internal.models import moto_api_backend

    other = "111122223333"

    def s3_of(endpoint: Endpoint, account: str) -> Any:
        client = endpoint.client("s3")
        client.meta.events.register(
            "before-sign.s3",
            lambda request, **_: request.headers.add_header("x-moto-account-id", account),
        )
        return client

    aws = AwsServices(region=REGION, account=ACCOUNT, data_dir=tmp_path)
    aws.reset()
    first = Endpoint(aws).start()
    try:
        s3_of(first, other).create_bucket(Bucket="theirs")
        s3_of(first, other).put_object(Bucket="theirs", Key="k", Body=b"their data")
        first.client("s3").create_bucket(Bucket="ours")
        assert "theirs" not in {b["Name"] for b in first.client("s3").list_buckets()["Buckets"]}
    finally:
        first.stop()
    moto_api_backend.reset()

    second = Endpoint(AwsServices(region=REGION, account=ACCOUNT, data_dir=tmp_path)).start()
    try:
        theirs = s3_of(second, other)
        assert theirs.get_object(Bucket="theirs", Key="k")["Body"].read() == b"their data"
        assert [b["Name"] for b in second.client("s3").list_buckets()["Buckets"]] == ["ours"]
    finally:
        second.stop()
        second.aws.reset()
    assert not (tmp_path / "s3").exists() and not (tmp_path / "s3-accounts").exists()


# -- STS, IAM -----------------------------------------------------------------------------


def test_sts_caller_identity_is_the_configured_account(endpoint: Endpoint):
    identity = endpoint.client("sts").get_caller_identity()
    assert identity["Account"] == ACCOUNT
    assert identity["Arn"].startswith(f"arn:aws:sts::{ACCOUNT}:")


def test_iam_create_and_get_role(endpoint: Endpoint):
    iam = endpoint.client("iam")
    name = f"SageMakerRole-{uuid.uuid4().hex[:8]}"
    trust = (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
        '"Principal":{"Service":"sagemaker.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
    )
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)
    role = iam.get_role(RoleName=name)["Role"]
    assert role["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/{name}"
    with pytest.raises(ClientError) as missing:
        iam.get_role(RoleName="no-such-role")
    assert missing.value.response["Error"]["Code"] == "NoSuchEntity"


def test_simulate_principal_policy_allows_every_action_of_an_existing_role(endpoint: Endpoint):
    """What SDK v3 asks before each job: every (action, resource) pair, `allowed`, paged."""
    iam = endpoint.client("iam")
    name = f"SimRole-{uuid.uuid4().hex[:8]}"
    trust = '{"Version":"2012-10-17","Statement":[]}'
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    actions = ["sagemaker:CreateTrainingJob", "s3:PutObject"]
    resources = ["arn:aws:s3:::a/*", "arn:aws:s3:::b/*"]
    answer = iam.simulate_principal_policy(
        PolicySourceArn=arn, ActionNames=actions, ResourceArns=resources
    )
    pairs = [(r["EvalActionName"], r["EvalResourceName"]) for r in answer["EvaluationResults"]]
    assert pairs == [(a, r) for a in actions for r in resources]
    assert {r["EvalDecision"] for r in answer["EvaluationResults"]} == {"allowed"}
    assert answer["IsTruncated"] is False
    (only,) = iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=actions[:1])[
        "EvaluationResults"
    ]
    assert only["EvalResourceName"] == "*"
    paginator = iam.get_paginator("simulate_principal_policy")
    pages = list(
        paginator.paginate(
            PolicySourceArn=arn,
            ActionNames=actions,
            ResourceArns=resources,
            PaginationConfig={"PageSize": 3},
        )
    )
    assert [len(p["EvaluationResults"]) for p in pages] == [3, 1]

    with pytest.raises(ClientError) as missing:
        iam.simulate_principal_policy(
            PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:role/no-such-role", ActionNames=actions
        )
    assert missing.value.response["Error"]["Code"] == "NoSuchEntity"
    assert "no-such-role" in missing.value.response["Error"]["Message"]


# -- CloudWatch Logs and metrics ----------------------------------------------------------


def test_logs_over_the_wire_and_in_process(endpoint: Endpoint):
    logs = endpoint.client("logs")
    group, stream = "/aws/sagemaker/TrainingJobs", f"job-{uuid.uuid4().hex[:8]}/algo-1"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    now = int(SystemClock().now() * 1000)
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": now, "message": "epoch 1 loss 0.5"}],
    )
    endpoint.aws.logs_backend().put_log_events(
        group, stream, [{"timestamp": now + 1, "message": "epoch 2 loss 0.4"}]
    )
    events = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)
    assert [e["message"] for e in events["events"]] == ["epoch 1 loss 0.5", "epoch 2 loss 0.4"]
    with pytest.raises(ClientError) as missing:
        logs.get_log_events(logGroupName=group, logStreamName="absent")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"


def put_many_metrics(cloudwatch: Any) -> None:
    """Large enough (>10 KB) for botocore to gzip the request body."""
    namespace = f"ns-{uuid.uuid4().hex[:8]}"
    now = datetime.fromtimestamp(int(SystemClock().now()), UTC)
    seen: list[str] = []
    cloudwatch.meta.events.register(
        "before-send.cloudwatch.PutMetricData",
        lambda request, **_: seen.append(request.headers.get("Content-Encoding", b"")),
    )
    data = [{"MetricName": "loss", "Value": float(i), "Timestamp": now} for i in range(500)]
    cloudwatch.put_metric_data(Namespace=namespace, MetricData=data)
    assert seen in ([b"gzip"], ["gzip"])
    stats = cloudwatch.get_metric_statistics(
        Namespace=namespace,
        MetricName="loss",
        StartTime=now - timedelta(minutes=5),
        EndTime=now + timedelta(minutes=5),
        Period=60,
        Statistics=["SampleCount", "Maximum"],
    )
    assert [(p["SampleCount"], p["Maximum"]) for p in stats["Datapoints"]] == [(500.0, 499.0)]


def test_cloudwatch_gzipped_put_metric_data(endpoint: Endpoint):
    put_many_metrics(endpoint.client("cloudwatch"))


def test_cloudwatch_metrics_json_protocol(endpoint: Endpoint):
    cloudwatch = endpoint.client("cloudwatch")
    now = datetime.fromtimestamp(int(SystemClock().now()), UTC)
    dimensions = [{"Name": "Host", "Value": f"job-{uuid.uuid4().hex[:8]}"}]
    cloudwatch.put_metric_data(
        Namespace="/aws/sagemaker/TrainingJobs",
        MetricData=[
            {
                "MetricName": "validation:accuracy",
                "Dimensions": dimensions,
                "Value": v,
                "Timestamp": now,
            }
            for v in (0.5, 0.7)
        ],
    )
    naive_utc = now.replace(tzinfo=None)  # what moto's parser hands its backend
    endpoint.aws.cloudwatch_backend().put_metric_data(
        "/aws/sagemaker/TrainingJobs",
        [
            {
                "MetricName": "validation:accuracy",
                "Dimensions": dimensions,
                "Value": 0.9,
                "Timestamp": naive_utc,
            }
        ],
    )
    stats = cloudwatch.get_metric_statistics(
        Namespace="/aws/sagemaker/TrainingJobs",
        MetricName="validation:accuracy",
        Dimensions=dimensions,
        StartTime=now - timedelta(minutes=5),
        EndTime=now + timedelta(minutes=5),
        Period=60,
        Statistics=["Maximum", "SampleCount"],
    )
    [point] = stats["Datapoints"]
    assert (point["Maximum"], point["SampleCount"]) == (0.9, 3.0)


# -- routing and failures -----------------------------------------------------------------


def test_unknown_service_is_an_aws_json_error(endpoint: Endpoint):
    status, body = endpoint.raw(
        "POST",
        "/",
        b"{}",
        Authorization=S3_AUTH.replace("/s3/", "/nosuchservice/"),
        Content_Type="application/x-amz-json-1.1",
        X_Amz_Target="NoSuch.Operation",
    )
    assert status == 400
    assert b'"__type": "UnknownOperationException"' in body


def test_moto_failure_is_an_aws_shaped_500(endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch):
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    from moto.sts.models import STSBackend

    monkeypatch.setattr(STSBackend, "get_caller_identity", broken)
    sts = endpoint.client("sts", retries={"max_attempts": 1})
    with pytest.raises(ClientError) as failure:
        sts.get_caller_identity()
    assert failure.value.response["Error"]["Code"] == "InternalFailure"
    assert failure.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


@pytest.mark.parametrize(
    ("headers", "query", "service"),
    [
        ({"Authorization": S3_AUTH}, {}, "s3"),
        ({}, {"X-Amz-Credential": "AKIA/20250101/eu-west-1/monitoring/aws4_request"}, "monitoring"),
        (
            {"Authorization": "AWS4-HMAC-SHA256 Credential=k/20250101/us-east-1/STS/aws4_request"},
            {},
            "sts",
        ),
        ({}, {}, None),
        ({"Authorization": "Bearer xyz"}, {}, None),
    ],
)
def test_credential_scope(headers: dict[str, str], query: dict[str, str], service: str | None):
    scope = sigv4.credential_scope(headers, query)
    assert (scope.service if scope else None) == service


def test_decode_signed_chunks_with_trailer():
    body = (
        b"4;chunk-signature=abc\r\nwiki\r\n5;chunk-signature=def\r\npedia\r\n"
        b"0;chunk-signature=000\r\nx-amz-checksum-crc32:"
        + crc32_b64(b"wikipedia").encode()
        + b"\r\nx-amz-trailer-signature:123\r\n\r\n"
    )
    sink = io.BytesIO()
    trailers = sigv4.decode_aws_chunked(io.BytesIO(body), sink)
    assert sink.getvalue() == b"wikipedia"
    assert trailers == {"x-amz-checksum-crc32": crc32_b64(b"wikipedia")}
    with pytest.raises(sigv4.MalformedChunkedBody):
        sigv4.decode_aws_chunked(io.BytesIO(b"10\r\nshort"), io.BytesIO())
