"""SageMaker training instance types: the GPUs, vCPUs and memory each stands for.

The scheduler reads it to place jobs on agents with enough free GPUs; agents read it to give a
job the `CUDA_VISIBLE_DEVICES` its instance type asks for.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InstanceSpec:
    gpus: int  # NVIDIA GPUs; Trainium chips are not GPUs and count 0
    vcpus: int
    memory_gib: float


def _vcpus(size: str) -> int:
    """EC2's size ladder: large = 2 vCPUs, xlarge = 4, Nxlarge = 4N."""
    if size == "large":
        return 2
    match = re.fullmatch(r"(\d*)xlarge", size)
    if match is None:
        raise ValueError(f"no vCPU rule for size {size!r}")
    return 4 * int(match.group(1) or 1)


def _ladder(
    family: str, gib_per_vcpu: float, sizes: str, gpus: dict[str, int] | None = None
) -> dict[str, InstanceSpec]:
    """A family whose memory is proportional to its vCPUs; `gpus` by size (default: none)."""
    table = {}
    for size in sizes.split():
        vcpus = _vcpus(size)
        spec = InstanceSpec((gpus or {}).get(size, 0), vcpus, vcpus * gib_per_vcpu)
        table[f"ml.{family}.{size}"] = spec
    return table


_G_SIZES = "xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge"
_G_GPUS = dict.fromkeys(_G_SIZES.split(), 1) | {"12xlarge": 4, "24xlarge": 4, "48xlarge": 8}
_M6 = "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge"

INSTANCE_TYPES: dict[str, InstanceSpec] = {
    **_ladder("m4", 4, "xlarge 2xlarge 4xlarge 10xlarge 16xlarge"),
    **_ladder("m5", 4, "large xlarge 2xlarge 4xlarge 12xlarge 24xlarge"),
    **_ladder("m6i", 4, f"{_M6} 32xlarge"),
    **_ladder("m7i", 4, f"{_M6} 48xlarge"),
    **_ladder("c5", 2, "xlarge 2xlarge 4xlarge 9xlarge 18xlarge"),
    **_ladder("c6i", 2, "xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge"),
    **_ladder("c7i", 2, f"{_M6} 48xlarge"),
    **_ladder("r5", 8, _M6),
    **_ladder("r5d", 8, _M6),
    **_ladder("r7i", 8, f"{_M6} 48xlarge"),
    **_ladder("g4dn", 4, "xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge", _G_GPUS),
    **_ladder("g5", 4, _G_SIZES, _G_GPUS),
    **_ladder("g6", 4, _G_SIZES, _G_GPUS),
    **_ladder("g6e", 8, _G_SIZES, _G_GPUS),
    **_ladder("g7e", 8, "2xlarge 4xlarge 8xlarge 12xlarge 24xlarge 48xlarge", _G_GPUS)
    | {"ml.g7e.12xlarge": InstanceSpec(2, 48, 384)},  # two GPUs, not four, at this size
    # Families off the ladder, one by one.
    "ml.c4.xlarge": InstanceSpec(0, 4, 7.5),
    "ml.c4.2xlarge": InstanceSpec(0, 8, 15),
    "ml.c4.4xlarge": InstanceSpec(0, 16, 30),
    "ml.c4.8xlarge": InstanceSpec(0, 36, 60),
    "ml.c5n.xlarge": InstanceSpec(0, 4, 10.5),
    "ml.c5n.2xlarge": InstanceSpec(0, 8, 21),
    "ml.c5n.4xlarge": InstanceSpec(0, 16, 42),
    "ml.c5n.9xlarge": InstanceSpec(0, 36, 96),
    "ml.c5n.18xlarge": InstanceSpec(0, 72, 192),
    "ml.t3.medium": InstanceSpec(0, 2, 4),
    "ml.t3.large": InstanceSpec(0, 2, 8),
    "ml.t3.xlarge": InstanceSpec(0, 4, 16),
    "ml.t3.2xlarge": InstanceSpec(0, 8, 32),
    "ml.p2.xlarge": InstanceSpec(1, 4, 61),
    "ml.p2.8xlarge": InstanceSpec(8, 32, 488),
    "ml.p2.16xlarge": InstanceSpec(16, 64, 732),
    "ml.p3.2xlarge": InstanceSpec(1, 8, 61),
    "ml.p3.8xlarge": InstanceSpec(4, 32, 244),
    "ml.p3.16xlarge": InstanceSpec(8, 64, 488),
    "ml.p3dn.24xlarge": InstanceSpec(8, 96, 768),
    "ml.p4d.24xlarge": InstanceSpec(8, 96, 1152),
    "ml.p4de.24xlarge": InstanceSpec(8, 96, 1152),
    "ml.p5.4xlarge": InstanceSpec(1, 16, 256),
    "ml.p5.48xlarge": InstanceSpec(8, 192, 2048),
    "ml.p5e.48xlarge": InstanceSpec(8, 192, 2048),
    "ml.p5en.48xlarge": InstanceSpec(8, 192, 2048),
    "ml.p6-b200.48xlarge": InstanceSpec(8, 192, 2048),
    "ml.p6-b300.48xlarge": InstanceSpec(8, 192, 4096),
    "ml.p6e-gb200.36xlarge": InstanceSpec(4, 144, 960),
    "ml.trn1.2xlarge": InstanceSpec(0, 8, 32),
    "ml.trn1.32xlarge": InstanceSpec(0, 128, 512),
    "ml.trn1n.32xlarge": InstanceSpec(0, 128, 512),
    "ml.trn2.48xlarge": InstanceSpec(0, 192, 2048),
}


def instance_spec(instance_type: str) -> InstanceSpec:
    try:
        return INSTANCE_TYPES[instance_type]
    except KeyError:
        raise ValueError(f"unknown training instance type {instance_type!r}") from None


def gpus_for(instance_type: str, instance_count: int = 1) -> int:
    """GPUs a job on `instance_count` instances of this type would have had in all.

    A type newer than this table still gets a GPU if its family is a GPU family (p*, g*), so
    that it waits for a GPU agent rather than running on a CPU-only one.
    """
    spec = INSTANCE_TYPES.get(instance_type)
    if spec is None:
        family = instance_type.removeprefix("ml.")[:1]
        log.warning("instance type %r is not in the table; guessing from its family", instance_type)
        return instance_count if family in ("p", "g") else 0
    return spec.gpus * instance_count


def gpus_of(training_job: Mapping[str, Any]) -> int:
    """GPUs a training job's document asks for (its ResourceConfig's type and count)."""
    resources = training_job.get("ResourceConfig", {})
    return gpus_for(resources.get("InstanceType", ""), int(resources.get("InstanceCount", 1)))
