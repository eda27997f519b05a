"""What a host offers (GPUs, CPUs, memory) and what a SageMaker instance type asks for.

An agent advertises its GPUs in its heartbeat and hands a job the GPUs its `ml.*` instance type
would have had. GPU discovery asks NVML (`nvidia-ml-py`) when it is importable, else
`nvidia-smi`; a host with neither simply has no GPU. Discovery runs subprocesses and is meant
for agent start-up, not for the event loop's hot path.
"""

from __future__ import annotations

import logging
import os
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
        import pynvml  # noqa: PLC0415 - nvidia-ml-py is optional (the gpu extra)
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
