"""Input data and source code: fetched from S3 (our endpoint) or copied from file:// URIs,
never written outside the directory they belong to."""

from __future__ import annotations

import shutil
import tarfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlparse


class UnsafePath(Exception):
    """A key, member or name that would land outside its directory."""


def safe_join(root: Path, relative: str) -> Path:
    parts = PurePosixPath(relative).parts
    if not relative or PurePosixPath(relative).is_absolute() or ".." in parts:
        raise UnsafePath(f"refusing path {relative!r}: it would escape {root}")
    return root.joinpath(*parts)


def split_s3(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    return parsed.netloc, parsed.path.lstrip("/")


def s3_client(endpoint_url: str | None, region: str) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id="amt-emulator",
        aws_secret_access_key="amt-emulator",
    )


def download_prefix(client: Any, uri: str, target: Path) -> int:
    """Every object under an S3 prefix into `target`, keys relative to the prefix."""
    bucket, prefix = split_s3(uri)
    count = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            key = obj["Key"]
            if key.endswith("/"):
                continue
            relative = PurePosixPath(key).name if key == prefix else key[len(prefix) :].lstrip("/")
            path = safe_join(target, relative)
            path.parent.mkdir(parents=True, exist_ok=True)
            client.download_file(bucket, key, str(path))
            count += 1
    return count


def copy_local(uri: str, target: Path) -> None:
    source = Path(unquote(urlparse(uri).path)) if uri.startswith("file://") else Path(uri)
    if source.is_dir():
        shutil.copytree(source, target, dirs_exist_ok=True)
    else:
        shutil.copy2(source, target / source.name)


def fetch_channels(job: Mapping[str, Any], data_dir: Path, client: Any) -> None:
    for channel in job.get("InputDataConfig", []):
        target = safe_join(data_dir, channel["ChannelName"])
        target.mkdir(parents=True, exist_ok=True)
        source = channel.get("DataSource", {})
        s3 = source.get("S3DataSource")
        if s3 is None:
            raise ValueError(
                f"channel {channel['ChannelName']}: only S3 data sources are supported"
            )
        uri = s3["S3Uri"]
        if uri.startswith("file://"):
            copy_local(uri, target)
        elif s3.get("S3DataType", "S3Prefix") == "S3Prefix":
            download_prefix(client, uri, target)
        else:
            raise ValueError(
                f"channel {channel['ChannelName']}: {s3['S3DataType']} is not supported"
            )


def safe_extract(archive: Path, target: Path) -> None:
    """Extract a tar.gz refusing absolute paths, `..`, and links pointing outside."""
    with tarfile.open(archive, "r:*") as tar:
        for member in tar.getmembers():
            safe_join(target, member.name)
            if member.issym() or member.islnk():
                raise UnsafePath(f"refusing link {member.name!r} in {archive.name}")
            if not (member.isfile() or member.isdir()):
                raise UnsafePath(f"refusing special file {member.name!r} in {archive.name}")
        tar.extractall(target, filter="data")


def fetch_source(directory: str, code_dir: Path, client: Any) -> None:
    """`sagemaker_submit_directory`: an S3 sourcedir.tar.gz, a local tarball or directory."""
    if directory.startswith("s3://"):
        bucket, key = split_s3(directory)
        archive = code_dir.parent / "sourcedir.tar.gz"
        client.download_file(bucket, key, str(archive))
        safe_extract(archive, code_dir)
        archive.unlink()
        return
    local = (
        Path(unquote(urlparse(directory).path))
        if directory.startswith("file://")
        else Path(directory)
    )
    if local.is_dir():
        shutil.copytree(local, code_dir, dirs_exist_ok=True)
    else:
        safe_extract(local, code_dir)
