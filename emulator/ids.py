"""Names and ARNs, built one way everywhere."""

from __future__ import annotations

import itertools
import secrets
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Scope:
    """Where a resource lives on AWS: an account and a region. Names, ARNs and listings are
    per scope; a request's scope comes from its credentials (`emulator.api.scope`)."""

    account: str
    region: str


def scope_of_arn(arn: str, default: Scope) -> Scope:
    """The account and region an ARN names (`arn:aws:<service>:<region>:<account>:...`)."""
    parts = arn.split(":", 5)
    if len(parts) < 6 or not parts[3] or not parts[4]:
        return default
    return Scope(account=parts[4], region=parts[3])


def tuning_job_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:sagemaker:{region}:{account}:hyper-parameter-tuning-job/{name.lower()}"


def training_job_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:sagemaker:{region}:{account}:training-job/{name.lower()}"


NameSuffix = Callable[[str, int], str]
"""The 8-hex tail of a tuning job's `index`-th training job name."""


def random_suffix(tuning_name: str, index: int) -> str:
    """What the service does: names no two runs share."""
    return secrets.token_hex(4)


def seeded_suffix(seed: int) -> NameSuffix:
    """Tails fixed by a seed, for a simulation whose output must repeat (same seed, same
    names, so two runs' summaries diff clean)."""

    def suffix(tuning_name: str, index: int) -> str:
        key = "\x1f".join((str(seed), tuning_name, str(index)))
        return f"{zlib.crc32(key.encode()):08x}"

    return suffix


def child_job_name(tuning_name: str, index: int, suffix: NameSuffix = random_suffix) -> str:
    """`<tuning-name>-<NNN>-<8 hex>`, as the service names the jobs a tuning job launches."""
    return f"{tuning_name}-{index:03d}-{suffix(tuning_name, index)}"


_REQUEST_PREFIX = uuid.uuid4().hex[:20]
_request_counter = itertools.count(1)


def request_id() -> str:
    """UUID-shaped and unique: a random per-process prefix and a counter (no syscall each)."""
    tail = f"{_REQUEST_PREFIX}{next(_request_counter):012x}"
    return f"{tail[:8]}-{tail[8:12]}-{tail[12:16]}-{tail[16:20]}-{tail[20:32]}"
