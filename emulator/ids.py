"""Names and ARNs, built one way everywhere."""

from __future__ import annotations

import secrets
import uuid


def tuning_job_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:sagemaker:{region}:{account}:hyper-parameter-tuning-job/{name.lower()}"


def training_job_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:sagemaker:{region}:{account}:training-job/{name.lower()}"


def child_job_name(tuning_name: str, index: int) -> str:
    """`<tuning-name>-<NNN>-<8 hex>`, as the service names the jobs a tuning job launches."""
    return f"{tuning_name}-{index:03d}-{secrets.token_hex(4)}"


def request_id() -> str:
    return str(uuid.uuid4())
