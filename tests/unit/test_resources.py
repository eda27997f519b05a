"""Host resources: GPU discovery through a fake nvidia-smi, --gpus selection, instance types."""

from __future__ import annotations

import stat
from pathlib import Path

import botocore.session
import pytest

from agents.resources import (
    GpuInfo,
    discover_gpus,
    host_resources,
    parse_gpu_selection,
    select_gpus,
)
from emulator.domain.instances import INSTANCE_TYPES, gpus_for, instance_spec

TWO_GPUS = "0, Tesla V100-SXM2-16GB, 16160\n1, NVIDIA A10G, 23028\n"


def fake_nvidia_smi(tmp_path: Path, stdout: str, code: int = 0) -> str:
    """A stand-in that checks it was asked the right question and answers with `stdout`."""
    script = tmp_path / "nvidia-smi"
    expected = "--query-gpu=index,name,memory.total --format=csv,noheader,nounits"
    script.write_text(
        "#!/bin/sh\n"
        f'[ "$*" = "{expected}" ] || {{ echo "unexpected arguments: $*" >&2; exit 2; }}\n'
        f"printf '%s' '{stdout}'\n"
        f"exit {code}\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def test_gpus_are_read_from_nvidia_smi(tmp_path: Path) -> None:
    smi = fake_nvidia_smi(tmp_path, TWO_GPUS)
    assert discover_gpus(nvidia_smi=smi, use_nvml=False) == [
        GpuInfo(0, "Tesla V100-SXM2-16GB", 16160),
        GpuInfo(1, "NVIDIA A10G", 23028),
    ]


def test_names_with_commas_and_odd_lines_survive(tmp_path: Path) -> None:
    smi = fake_nvidia_smi(tmp_path, "1, Odd, Name, 8000\n\nnot csv\n0, GPU, 1024.0\n")
    assert discover_gpus(nvidia_smi=smi, use_nvml=False) == [
        GpuInfo(0, "GPU", 1024),
        GpuInfo(1, "Odd, Name", 8000),
    ]


def test_a_failing_or_missing_nvidia_smi_means_no_gpu(tmp_path: Path) -> None:
    failing = fake_nvidia_smi(tmp_path, "NVIDIA-SMI has failed\n", code=9)
    assert discover_gpus(nvidia_smi=failing, use_nvml=False) == []
    assert discover_gpus(nvidia_smi=str(tmp_path / "absent"), use_nvml=False) == []


@pytest.mark.parametrize(
    ("text", "selection"),
    [("all", "all"), ("ALL", "all"), ("none", ()), ("0", (0,)), ("1,0", (1, 0))],
)
def test_gpu_selection_parses(text: str, selection: object) -> None:
    assert parse_gpu_selection(text) == selection


@pytest.mark.parametrize("text", ["some", "0,,1", "-1", "0,0", "1.5"])
def test_bad_gpu_selection_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="--gpus"):
        parse_gpu_selection(text)


def test_selection_keeps_the_asked_gpus_and_rejects_absent_ones() -> None:
    found = [GpuInfo(0, "a", 1), GpuInfo(1, "b", 2)]
    assert select_gpus(found, "all") == found
    assert select_gpus(found, (1,)) == [GpuInfo(1, "b", 2)]
    assert select_gpus(found, ()) == []
    with pytest.raises(ValueError, match=r"\[3\].*GPUs: 0,1"):
        select_gpus(found, (1, 3))


def test_host_resources_combine_cpus_memory_and_the_selected_gpus(tmp_path: Path) -> None:
    smi = fake_nvidia_smi(tmp_path, TWO_GPUS)
    host = host_resources((1,), nvidia_smi=smi, use_nvml=False)
    assert host.gpus == (GpuInfo(1, "NVIDIA A10G", 23028),)
    assert host.cpus >= 1 and host.memory_mib > 0
    assert host_resources((), nvidia_smi=smi, use_nvml=False).gpus == ()
    assert GpuInfo(1, "NVIDIA A10G", 23028).to_dict() == {
        "index": 1,
        "name": "NVIDIA A10G",
        "memory_mib": 23028,
    }


@pytest.mark.parametrize(
    ("instance_type", "gpus", "vcpus", "memory_gib"),
    [
        ("ml.p3.2xlarge", 1, 8, 61),
        ("ml.p3.8xlarge", 4, 32, 244),
        ("ml.p3.16xlarge", 8, 64, 488),
        ("ml.p2.xlarge", 1, 4, 61),
        ("ml.p4d.24xlarge", 8, 96, 1152),
        ("ml.p5.48xlarge", 8, 192, 2048),
        ("ml.g4dn.xlarge", 1, 4, 16),
        ("ml.g4dn.12xlarge", 4, 48, 192),
        ("ml.g5.12xlarge", 4, 48, 192),
        ("ml.g5.48xlarge", 8, 192, 768),
        ("ml.g6.2xlarge", 1, 8, 32),
        ("ml.m5.large", 0, 2, 8),
        ("ml.m4.10xlarge", 0, 40, 160),
        ("ml.c4.8xlarge", 0, 36, 60),
        ("ml.c5.9xlarge", 0, 36, 72),
        ("ml.r5.large", 0, 2, 16),
        ("ml.t3.medium", 0, 2, 4),
    ],
)
def test_instance_types(instance_type: str, gpus: int, vcpus: int, memory_gib: float) -> None:
    spec = instance_spec(instance_type)
    assert (spec.gpus, spec.vcpus, spec.memory_gib) == (gpus, vcpus, memory_gib)


def test_every_training_instance_type_botocore_knows_gets_a_gpu_count() -> None:
    """The table covers the types of the botocore this was written against; a newer botocore
    adds types, which the family rule answers (GPU families wait for a GPU agent)."""
    model = botocore.session.get_session().get_service_model("sagemaker")
    enum = model.shape_for("TrainingInstanceType").enum
    assert len(set(enum) & set(INSTANCE_TYPES)) >= 140
    for instance_type in enum:
        family = instance_type.split(".")[1]
        gpus = gpus_for(instance_type)
        assert gpus >= 1 if family[0] in "pg" and not family.startswith("g4ad") else gpus >= 0


def test_gpus_for_multiplies_by_instance_count_and_guesses_unknown_families() -> None:
    assert gpus_for("ml.p3.8xlarge") == 4
    assert gpus_for("ml.p3.8xlarge", 2) == 8
    assert gpus_for("ml.m5.xlarge", 3) == 0
    assert gpus_for("ml.p9.mega", 2) == 2  # a GPU family not yet in the table
    assert gpus_for("ml.x9.mega") == 0
    with pytest.raises(ValueError, match="unknown training instance type"):
        instance_spec("ml.p9.mega")
