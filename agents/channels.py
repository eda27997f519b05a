"""Getting files in: input channels, source code and checkpoints, from S3 (through our own
endpoint, with boto3 in a worker thread) or from `file://` URIs, never written outside the
directory they belong to. Blocking functions: the runner calls them with `asyncio.to_thread`.
"""

from __future__ import annotations

import shutil
import tarfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlparse

import boto3
from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import BotoCoreError
from botocore.exceptions import ClientError as BotoClientError

from agents.contract import ClientError, channel_names


class UnsafePath(ClientError):
    """A key, archive member or name that would land outside its directory."""


def safe_join(root: Path, relative: str) -> Path:
    """`root/relative`, refusing anything that could resolve outside `root`."""
    path = PurePosixPath(relative)
    if not relative or path.is_absolute() or ".." in path.parts:
        raise UnsafePath(f"ClientError: refusing path {relative!r}: it would leave {root.name}/")
    return root.joinpath(*path.parts)


def split_s3(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    return parsed.netloc, parsed.path.lstrip("/")


def local_path(uri: str) -> Path:
    """The path of a `file://` URI (or of a plain path)."""
    return Path(unquote(urlparse(uri).path)) if uri.startswith("file://") else Path(uri)


def s3_client(
    endpoint_url: str | None,
    region: str,
    credentials: tuple[str, str] = ("amt-emulator", "amt-emulator"),
    account: str | None = None,
) -> Any:
    """A boto3 S3 client on our endpoint; the credentials only have to look valid to moto.

    `account`: the job's, when the emulator is the endpoint: its buckets are that account's
    (moto keeps S3 per account), named to the server in moto's `x-moto-account-id` header."""
    # A session per client: boto3's default session is not safe to share between threads.
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=credentials[0],
        aws_secret_access_key=credentials[1],
    )
    if account and endpoint_url:

        def in_account(request: Any, **_: Any) -> None:
            request.headers["x-moto-account-id"] = account

        client.meta.events.register("before-sign.s3", in_account)
    return client


@contextmanager
def s3_errors(failure: str, what: str) -> Iterator[None]:
    """S3 answering no (missing bucket or key, access denied) is the job's problem, not ours.

    The reason reads as AWS's do, `ClientError: <failure>:<what> (<S3 code>: <message>)`
    (e.g. `ClientError: Artifact upload failed:Unable to upload file to s3://b/k
    (NoSuchBucket: ...)`), and names the S3 URI only: never a local file of the agent.
    """
    try:
        yield
    except (BotoClientError, S3UploadFailedError, BotoCoreError) as error:
        raise ClientError(f"ClientError: {failure}:{what} ({_s3_detail(error)})") from error


def _s3_detail(error: Exception) -> str:
    """`Code: Message` of the S3 answer behind `error` (boto3's upload wraps it)."""
    answer = error.__context__ if isinstance(error, S3UploadFailedError) else error
    if isinstance(answer, BotoClientError):
        detail = answer.response.get("Error", {})
        return f"{detail.get('Code', 'Unknown')}: {detail.get('Message', '')}".rstrip(": ")
    if isinstance(answer, BotoCoreError):
        return f"{type(answer).__name__}: {answer}"
    return type(error).__name__


def download_prefix(client: Any, uri: str, target: Path, *, required: bool = True) -> int:
    """Every object under an S3 prefix into `target`, keys relative to the prefix."""
    bucket, prefix = split_s3(uri)
    count = 0
    with s3_errors("Data download failed", f"Unable to download data from {uri}"):
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                if key.endswith("/"):
                    continue
                relative = PurePosixPath(key).name if key == prefix else key[len(prefix) :]
                path = safe_join(target, relative.lstrip("/"))
                path.parent.mkdir(parents=True, exist_ok=True)
                client.download_file(bucket, key, str(path))
                count += 1
    if required and count == 0:
        raise ClientError(f"ClientError: Data download failed:No S3 objects found under {uri}")
    return count


def copy_local(uri: str, target: Path) -> None:
    """A `file://` channel: a directory's contents, or one file, copied into `target`."""
    source = local_path(uri)
    if source.is_dir():
        shutil.copytree(source, target, dirs_exist_ok=True)
    elif source.is_file():
        shutil.copy2(source, target / source.name)
    else:
        raise ClientError(f"ClientError: Data download failed: {uri} does not exist")


def fetch_channels(job: Mapping[str, Any], data_dir: Path, client: Any) -> None:
    """Fill `input/data/<channel>/` for every channel (File mode semantics for all modes)."""
    for name, channel in zip(channel_names(job), job.get("InputDataConfig") or [], strict=True):
        target = safe_join(data_dir, name)
        target.mkdir(parents=True, exist_ok=True)
        s3 = (channel.get("DataSource") or {}).get("S3DataSource")
        if s3 is None:
            raise ClientError(f"ClientError: channel {name}: only S3DataSource is supported")
        uri, kind = s3["S3Uri"], s3.get("S3DataType", "S3Prefix")
        if kind != "S3Prefix":
            raise ClientError(
                f"ClientError: channel {name}: S3DataType {kind} is not supported by the "
                "emulator; use S3Prefix"
            )
        if uri.startswith("file://"):
            copy_local(uri, target)
        else:
            download_prefix(client, uri, target)


def check_members(tar: tarfile.TarFile, archive: str) -> None:
    """Refuse absolute paths, `..`, links leaving the tree and device files."""
    for member in tar.getmembers():
        path = PurePosixPath(member.name)
        safe_join(Path(), member.name)
        if member.issym() or member.islnk():
            base = PurePosixPath() if member.islnk() else path.parent
            target = base / member.linkname
            if target.is_absolute() or _depth(target) < 0:
                raise UnsafePath(f"ClientError: refusing link {member.name!r} in {archive}")
        elif not (member.isfile() or member.isdir()):
            raise UnsafePath(f"ClientError: refusing special file {member.name!r} in {archive}")


def _depth(path: PurePosixPath) -> int:
    """How deep `path` ends relative to its start; negative if it climbs above it."""
    depth = 0
    for part in path.parts:
        depth += -1 if part == ".." else 0 if part == "." else 1
        if depth < 0:
            return depth
    return depth


def safe_extract(archive: Path, target: Path) -> None:
    """Extract a (gzipped) tarball into `target`, which nothing in it may leave."""
    try:
        with tarfile.open(archive, "r:*") as tar:
            check_members(tar, archive.name)
            tar.extractall(target, filter="data")
    except tarfile.TarError as error:
        raise ClientError(f"ClientError: cannot extract {archive.name}: {error}") from error


def fetch_source(directory: str, code_dir: Path, client: Any) -> None:
    """`sagemaker_submit_directory` into `code/`: an S3 `sourcedir.tar.gz`, or a local
    tarball or directory (as the toolkit's `files.download_and_extract`)."""
    if directory.startswith("s3://"):
        bucket, key = split_s3(directory)
        archive = code_dir.parent / "sourcedir.tar.gz"
        with s3_errors("Data download failed", f"Unable to download source code {directory}"):
            client.download_file(bucket, key, str(archive))
        try:
            safe_extract(archive, code_dir)
        finally:
            archive.unlink()
        return
    local = local_path(directory)
    if local.is_dir():
        shutil.copytree(local, code_dir, dirs_exist_ok=True)
    elif local.is_file():
        safe_extract(local, code_dir)
    else:
        raise ClientError(f"ClientError: sagemaker_submit_directory {directory} does not exist")


def fetch_checkpoints(job: Mapping[str, Any], checkpoint_dir: Path, client: Any) -> None:
    """Restore `CheckpointConfig.S3Uri` into checkpoints/ (nothing there yet is fine)."""
    uri = (job.get("CheckpointConfig") or {}).get("S3Uri")
    if not uri:
        return
    if uri.startswith("file://"):
        if local_path(uri).is_dir():
            copy_local(uri, checkpoint_dir)
        return
    download_prefix(client, uri, checkpoint_dir, required=False)
