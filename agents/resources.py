"""What a host offers (GPUs, CPUs, memory) and what a SageMaker instance type asks for.

An agent advertises its GPUs in its heartbeat and hands a job the GPUs its `ml.*` instance type
would have had. GPU discovery asks NVML (`nvidia-ml-py`) when it is importable, else
`nvidia-smi`; a host with neither simply has no GPU. Discovery runs subprocesses and is meant
for agent start-up, not for the event loop's hot path.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any, Literal

log = logging.getLogger(__name__)

NVIDIA_SMI_QUERY = ("--query-gpu=index,name,memory.total", "--format=csv,noheader,nounits")


@dataclass(frozen=True)
class GpuInfo:
    index: int
    name: str
    memory_mib: int

    def to_dict(self) -> dict[str, Any]:
        """The shape of an entry of `AgentHeartbeat.gpus`."""
        return {"index": self.index, "name": self.name, "memory_mib": self.memory_mib}


@dataclass(frozen=True)
class HostResources:
    cpus: int
    memory_mib: int
    gpus: tuple[GpuInfo, ...]


# GPU discovery.


def discover_gpus(*, nvidia_smi: str = "nvidia-smi", use_nvml: bool = True) -> list[GpuInfo]:
    """The host's NVIDIA GPUs, in index order; empty when there are none or no driver."""
    if use_nvml:
        found = _nvml_gpus()
        if found is not None:
            return found
    return _nvidia_smi_gpus(nvidia_smi)


def _nvml_gpus() -> list[GpuInfo] | None:
    """None when NVML is not usable here (not installed, or no driver): try nvidia-smi."""
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        log.info("NVML unavailable (%s); trying nvidia-smi", exc)
        return None
    try:
        gpus = []
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            name = pynvml.nvmlDeviceGetName(handle)
            total = pynvml.nvmlDeviceGetMemoryInfo(handle).total
            text = name.decode() if isinstance(name, bytes) else str(name)
            gpus.append(GpuInfo(index, text, int(total) // 2**20))
        return gpus
    finally:
        pynvml.nvmlShutdown()


def _nvidia_smi_gpus(command: str) -> list[GpuInfo]:
    path = shutil.which(command)
    if path is None:
        return []
    try:
        result = subprocess.run(
            [path, *NVIDIA_SMI_QUERY], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("%s failed: %s; assuming no GPU", command, exc)
        return []
    if result.returncode != 0:
        log.warning(
            "%s exited %d: %s; assuming no GPU", command, result.returncode, result.stderr.strip()
        )
        return []
    return parse_nvidia_smi(result.stdout)


def parse_nvidia_smi(output: str) -> list[GpuInfo]:
    """Parse `index, name, memory.total` CSV lines (a GPU name may itself contain commas)."""
    gpus = []
    for line in output.splitlines():
        fields = [field.strip() for field in line.split(",")]
        if len(fields) < 3:
            continue
        try:
            gpus.append(GpuInfo(int(fields[0]), ", ".join(fields[1:-1]), int(float(fields[-1]))))
        except ValueError:
            log.warning("ignoring an unreadable nvidia-smi line: %r", line)
    return sorted(gpus, key=lambda gpu: gpu.index)


# Which GPUs an agent may use: `--gpus all|none|0,1`.

GpuSelection = Literal["all"] | tuple[int, ...]


def parse_gpu_selection(text: str) -> GpuSelection:
    """`all`, `none`, or comma-separated indices; usable as an argparse `type=`."""
    value = text.strip().lower()
    if value == "all":
        return "all"
    if value in ("none", ""):
        return ()
    try:
        indices = tuple(int(part) for part in value.split(","))
    except ValueError:
        raise ValueError(f"--gpus takes all, none or indices like 0,1; not {text!r}") from None
    if any(index < 0 for index in indices) or len(set(indices)) != len(indices):
        raise ValueError(f"--gpus indices must be distinct and non-negative: {text!r}")
    return indices


def select_gpus(found: list[GpuInfo], selection: GpuSelection) -> list[GpuInfo]:
    if selection == "all":
        return list(found)
    by_index = {gpu.index: gpu for gpu in found}
    missing = [index for index in selection if index not in by_index]
    if missing:
        have = ",".join(str(index) for index in by_index) or "none"
        raise ValueError(f"GPU(s) {missing} asked for, but this host has GPUs: {have}")
    return [by_index[index] for index in selection]


def cpu_count() -> int:
    """CPUs this process may run on (a container's or taskset's limit, not the machine's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def memory_mib() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    except (ValueError, OSError, AttributeError):
        return 0


def host_resources(
    selection: GpuSelection = "all", *, nvidia_smi: str = "nvidia-smi", use_nvml: bool = True
) -> HostResources:
    found = discover_gpus(nvidia_smi=nvidia_smi, use_nvml=use_nvml) if selection != () else []
    gpus = tuple(select_gpus(found, selection))
    return HostResources(cpus=cpu_count(), memory_mib=memory_mib(), gpus=gpus)


# SageMaker training instance types.


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
