"""The docker runtime against a real Docker engine: a container sees its job directory at
/opt/ml and its environment, stops on `docker stop`, and leaves nothing behind.

Skipped where no engine answers, and where no image with a shell is present locally (the
tests never pull: a machine without registry access must not hang on one).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import pytest

from agents.runtime.base import Launch, Outcome
from agents.runtime.docker import ContainerSpec, DockerRuntime
from emulator.clock import SystemClock

CLOCK = SystemClock()
GLIBC = ("debian", "ubuntu", "python")
CANDIDATES = ("busybox", "alpine", *GLIBC)
"""Repositories whose images have /bin/sh, in order of preference (smallest first); the GPU
test needs glibc, for the nvidia-smi the NVIDIA runtime mounts in."""

SCRIPT = """
trap 'echo got-TERM; exit 0' TERM
echo "hp=$SM_HP_LR note=$NOTE home-from-image=${HOME:-unset}"
cat /opt/ml/input/config/hyperparameters.json; echo
echo weights > /opt/ml/model/weights
echo READY
if [ -n "$LOOP" ]; then while true; do sleep 0.1; done; fi
exit "$EXIT"
"""


def docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=30, check=False
    )


def local_shell_image(candidates: tuple[str, ...] = CANDIDATES) -> str | None:
    """A locally present image from one of `candidates`, or None."""
    listed = docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    for repository in candidates:
        for image in listed:
            if image.split(":")[0].rsplit("/", 1)[-1] == repository and ":<none>" not in image:
                return image
    return None


@pytest.fixture(scope="module")
def image() -> str:
    reason = DockerRuntime.check()
    if reason is not None:
        pytest.skip(reason if reason.startswith("no Docker engine") else f"no Docker: {reason}")
    found = local_shell_image()
    if found is None:
        pytest.skip(f"no local image with a shell ({', '.join(CANDIDATES)}); tests never pull")
    return found


@pytest.fixture
def job_dir(tmp_path: Path) -> Path:
    root = tmp_path / "job-1"
    (root / "input" / "config").mkdir(parents=True)
    (root / "model").mkdir()
    (root / "input" / "config" / "hyperparameters.json").write_text('{"lr": "0.5"}')
    return root


class Job:
    def __init__(self, image: str, host_dir: Path, name: str, **env: str) -> None:
        self.spec = ContainerSpec(name, image, entrypoint=("sh", "-c", SCRIPT))
        self.launch = Launch(["unused"], {"SM_HP_LR": "0.5", **env}, "/unused", host_dir)
        self.lines: list[str] = []
        self.ready = asyncio.Event()
        self.stop_now = asyncio.Event()

    async def on_line(self, line: str) -> None:
        self.lines.append(line)
        if line == "READY":
            self.ready.set()

    async def stop(self) -> str:
        await self.stop_now.wait()
        return "user"

    async def run(self, max_runtime: float = 120.0) -> Outcome:
        return await DockerRuntime(self.spec).run(
            self.launch,
            on_line=self.on_line,
            stop=self.stop,
            max_runtime=max_runtime,
            grace=2.0,
            clock=CLOCK,
        )


def container_exists(name: str) -> bool:
    listed = docker("ps", "-a", "--filter", f"name=^{name}$", "--format", "{{.Names}}")
    return bool(listed.stdout.strip())


@pytest.mark.slow
async def test_container_sees_opt_ml_and_its_environment(image: str, job_dir: Path) -> None:
    job = Job(image, job_dir, "docker-run-test", NOTE="two\nlines", EXIT="3", HOME="/host")
    outcome = await asyncio.wait_for(job.run(), 120)
    assert outcome == Outcome(3, None)
    assert job.lines[0] == "hp=0.5 note=two"
    assert job.lines[1].startswith("lines home-from-image=")
    assert job.lines[1] != "lines home-from-image=/host"  # HOME is the host's: not passed
    assert job.lines[2] == '{"lr": "0.5"}'
    assert (job_dir / "model" / "weights").read_text() == "weights\n"
    assert not container_exists("amt-docker-run-test")


@pytest.mark.slow
async def test_stop_reaches_the_program_and_removes_the_container(
    image: str, job_dir: Path
) -> None:
    job = Job(image, job_dir, "docker-stop-test", NOTE="", EXIT="0", LOOP="1")
    task = asyncio.create_task(job.run())
    await asyncio.wait_for(job.ready.wait(), 60)
    job.stop_now.set()
    outcome = await asyncio.wait_for(task, 60)
    assert outcome.stopped == "user"
    assert job.lines[-1] == "got-TERM"
    assert not container_exists("amt-docker-stop-test")


@pytest.mark.slow
async def test_a_gpu_job_sees_its_one_gpu(image: str, job_dir: Path) -> None:
    if shutil.which("nvidia-smi") is None:
        pytest.skip("no NVIDIA GPU on this host")
    image = local_shell_image(GLIBC) or pytest.skip(f"no local image of {', '.join(GLIBC)}")
    spec = ContainerSpec(
        "docker-gpu-test",
        image,
        entrypoint=("sh", "-c", 'nvidia-smi -L; echo "cvd=$CUDA_VISIBLE_DEVICES"'),
        gpu_ids=(0,),
    )
    lines: list[str] = []

    async def on_line(line: str) -> None:
        lines.append(line)

    async def never() -> str:
        await asyncio.Event().wait()
        return "user"

    launch = Launch(["unused"], {"CUDA_VISIBLE_DEVICES": "0"}, "/unused", job_dir)
    outcome = await DockerRuntime(spec).run(
        launch, on_line=on_line, stop=never, max_runtime=120, grace=2, clock=CLOCK
    )
    assert outcome == Outcome(0, None), lines
    assert sum(line.startswith("GPU ") for line in lines) == 1
    assert lines[-1] == "cvd=0"
