"""Getting files out: `model.tar.gz` and `output.tar.gz` under
`<S3OutputPath>/<job>/output/`, and checkpoints to `CheckpointConfig.S3Uri`.

The upload itself is one injectable callable (`Uploader`: local file → destination URI); the
default sends `s3://` URIs through boto3 on our endpoint and copies to `file://` ones (the
SDK's local mode output paths). Blocking functions: call them with `asyncio.to_thread`.
"""

from __future__ import annotations

import shutil
import tarfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from agents.channels import local_path, s3_errors, split_s3

Uploader = Callable[[Path, str], None]
"""Copies one local file to a destination URI (s3:// or file://)."""


def uri_uploader(client: Any) -> Uploader:
    """The default uploader: boto3 `client` for s3:// URIs, a file copy for file:// ones."""

    def upload(source: Path, uri: str) -> None:
        if uri.startswith("s3://"):
            bucket, key = split_s3(uri)
            with s3_errors("Artifact upload failed", f"Unable to upload file to {uri}"):
                client.upload_file(str(source), bucket, key)
            return
        target = local_path(uri)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)

    return upload


def tar_directory(source: Path, archive: Path) -> None:
    """A gzipped tarball of `source`'s files (symlinks left out), paths relative to it."""
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(source.rglob("*")):
            if path.is_file() and not path.is_symlink():
                tar.add(path, arcname=str(path.relative_to(source)))


def output_prefix(job: Mapping[str, Any]) -> str | None:
    """`<S3OutputPath>/<job>/output`, where SageMaker puts a job's tarballs."""
    base = (job.get("OutputDataConfig") or {}).get("S3OutputPath")
    return f"{base.rstrip('/')}/{job['TrainingJobName']}/output" if base else None


def _has_files(folder: Path) -> bool:
    return folder.is_dir() and any(p.is_file() for p in folder.rglob("*"))


def upload_outputs(upload: Uploader, job: Mapping[str, Any], job_dir: Path) -> None:
    """model/ as model.tar.gz (always) and output/data/ as output.tar.gz (when not empty)."""
    prefix = output_prefix(job)
    if prefix is None:
        return
    for folder, name, always in (
        ("model", "model.tar.gz", True),
        ("output/data", "output.tar.gz", False),
    ):
        source = job_dir / folder
        if not (always or _has_files(source)):
            continue
        archive = job_dir / name
        source.mkdir(parents=True, exist_ok=True)
        tar_directory(source, archive)
        try:
            upload(archive, f"{prefix}/{name}")
        finally:
            archive.unlink()


def upload_checkpoints(upload: Uploader, job: Mapping[str, Any], job_dir: Path) -> None:
    """Every file under checkpoints/ to `CheckpointConfig.S3Uri`, keeping relative paths."""
    uri = (job.get("CheckpointConfig") or {}).get("S3Uri")
    folder = job_dir / "checkpoints"
    if not uri or not folder.is_dir():
        return
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            upload(path, f"{uri.rstrip('/')}/{path.relative_to(folder).as_posix()}")


def model_saved(job_dir: Path) -> bool:
    """Whether the program left anything in model/ (a stopped job's model is kept then)."""
    return _has_files(job_dir / "model")
