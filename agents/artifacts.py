"""Uploading what a job leaves behind: model.tar.gz and output.tar.gz under S3OutputPath."""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Any

from agents.channels import split_s3


def tar_directory(source: Path, archive: Path) -> None:
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(source.rglob("*")):
            if path.is_file() and not path.is_symlink():
                tar.add(path, arcname=str(path.relative_to(source)))


def upload_outputs(client: Any, job: dict[str, Any], job_dir: Path) -> None:
    base = job.get("OutputDataConfig", {}).get("S3OutputPath", "")
    if not base:
        return
    bucket, prefix = split_s3(base.rstrip("/") + f"/{job['TrainingJobName']}/output")
    for folder, name in (("model", "model.tar.gz"), ("output/data", "output.tar.gz")):
        source = job_dir / folder
        if name == "output.tar.gz" and not any(source.rglob("*")):
            continue
        archive = job_dir / name
        tar_directory(source, archive)
        client.upload_file(str(archive), bucket, f"{prefix}/{name}")
        archive.unlink()
