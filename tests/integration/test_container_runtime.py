"""The container runtime against a real engine (podman here, Docker where one answers): a
container sees its job directory at /opt/ml and its environment, stops on `stop` (SIGTERM to
PID 1, then SIGKILL), and leaves nothing behind, also after its agent was killed.

It runs the example base image (`python -m fixtures.images.build`); nothing is pulled.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents.runtime.base import Launch, Outcome
from agents.runtime.container import (
    WORK_DIR_LABEL,
    ContainerRuntime,
    ContainerSpec,
    Engine,
    sweep,
)
from emulator.clock import SystemClock
from tests.conftest import start_server, wait_for
from tests.containers import (
    BASE,
    BYOC,
    engine_or_skip,
    image_or_skip,
    leftovers,
    remove_leftovers,
)
from tests.integration.test_distributed import AgentProcess
from tests.requests import training_request

pytestmark = pytest.mark.slow
CLOCK = SystemClock()
AUTO = ["--runtime", "auto"]
SCRIPT = """
trap 'echo got-TERM; exit 0' TERM
echo "hp=$SM_HP_LR note=$NOTE home-from-image=${HOME:-unset}"
cat /opt/ml/input/config/hyperparameters.json; echo
echo weights > /opt/ml/model/weights
echo READY
if [ -n "$LOOP" ]; then while true; do sleep 0.1; done; fi
exit "$EXIT"
"""


@pytest.fixture(scope="module")
def engine() -> Engine:
    return engine_or_skip()


@pytest.fixture
def owner(engine: Engine, tmp_path: Path) -> Iterator[Path]:
    """The work directory the test's containers are labelled with; none survives the test."""
    work_dir = tmp_path / "jobs"
    work_dir.mkdir()
    yield work_dir
    remove_leftovers(engine, work_dir)


@pytest.fixture
def job_dir(owner: Path) -> Path:
    root = owner / "job-1"
    (root / "input" / "config").mkdir(parents=True)
    (root / "model").mkdir()
    (root / "input" / "config" / "hyperparameters.json").write_text('{"lr": "0.5"}')
    return root


class Job:
    def __init__(self, engine: Engine, host_dir: Path, name: str, **env: str) -> None:
        image = image_or_skip(engine, BASE)
        self.spec = ContainerSpec(
            name, image, entrypoint=("sh", "-c", SCRIPT), owner=str(host_dir.parent)
        )
        self.runtime = ContainerRuntime(self.spec, engine=engine)
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
        return await self.runtime.run(
            self.launch,
            on_line=self.on_line,
            stop=self.stop,
            max_runtime=max_runtime,
            grace=2.0,
            clock=CLOCK,
        )


async def test_container_sees_opt_ml_and_its_environment(
    engine: Engine, job_dir: Path, owner: Path
) -> None:
    job = Job(engine, job_dir, "run-test", NOTE="two\nlines", EXIT="3", HOME="/host")
    outcome = await asyncio.wait_for(job.run(), 120)
    assert outcome == Outcome(3, None), job.lines
    assert job.lines[0] == "hp=0.5 note=two"
    assert job.lines[1].startswith("lines home-from-image=")
    assert job.lines[1] != "lines home-from-image=/host"  # HOME is the host's: not passed
    assert job.lines[2] == '{"lr": "0.5"}'
    assert (job_dir / "model" / "weights").read_text() == "weights\n"
    assert leftovers(engine, owner) == []


async def test_stop_reaches_pid_1_and_removes_the_container(
    engine: Engine, job_dir: Path, owner: Path
) -> None:
    job = Job(engine, job_dir, "stop-test", NOTE="", EXIT="0", LOOP="1")
    task = asyncio.create_task(job.run())
    await asyncio.wait_for(job.ready.wait(), 60)
    job.stop_now.set()
    outcome = await asyncio.wait_for(task, 60)
    assert outcome.stopped == "user"
    assert job.lines[-1] == "got-TERM"
    assert leftovers(engine, owner) == []


async def test_containers_a_killed_agent_left_are_swept_by_the_next(
    engine: Engine, owner: Path
) -> None:
    # What an agent killed with SIGKILL leaves: its job's container, still running.
    spec = ContainerSpec("orphan-test", image_or_skip(engine, BASE), owner=str(owner))
    start = engine.cli(
        "run",
        "-d",
        "--name",
        spec.container_name,
        "--label",
        f"{WORK_DIR_LABEL}={owner}",
        spec.image,
        "sleep",
        "600",
    )
    await asyncio.to_thread(subprocess.run, start, env=engine.environ(), check=True)
    assert leftovers(engine, owner) == [spec.container_name]
    assert await sweep(engine, str(owner), CLOCK) == [spec.container_name]
    assert leftovers(engine, owner) == []


async def test_a_gpu_job_sees_its_one_gpu(engine: Engine, job_dir: Path) -> None:
    if shutil.which("nvidia-smi") is None:
        pytest.skip("no NVIDIA GPU on this host")
    spec = ContainerSpec(
        "gpu-test",
        image_or_skip(engine, BASE),
        entrypoint=("sh", "-c", 'nvidia-smi -L; echo "cvd=$CUDA_VISIBLE_DEVICES"'),
        gpu_ids=(0,),
        owner=str(job_dir.parent),
    )
    lines: list[str] = []

    async def on_line(line: str) -> None:
        lines.append(line)

    async def never() -> str:
        await asyncio.Event().wait()
        return "user"

    launch = Launch(["unused"], {"CUDA_VISIBLE_DEVICES": "0"}, "/unused", job_dir)
    outcome = await ContainerRuntime(spec, engine=engine).run(
        launch, on_line=on_line, stop=never, max_runtime=120, grace=2, clock=CLOCK
    )
    assert outcome == Outcome(0, None), lines
    assert sum(line.startswith("GPU ") for line in lines) == 1
    assert lines[-1] == "cvd=0"


def test_an_agent_killed_mid_job_leaves_no_container_once_restarted(
    engine: Engine, broker, tmp_path: Path
) -> None:
    image_or_skip(engine, BYOC)
    work = tmp_path / "agent" / "jobs"
    server = start_server(tmp_path / "control", extra_args=["--bus", broker.url, "--agents", "0"])
    agents: list[AgentProcess] = []
    try:
        agents.append(AgentProcess(None, broker.url, None, work, log_name="first", extra=AUTO))
        name = "killed-agent-job"
        body = training_request(
            name,
            AlgorithmSpecification={"TrainingImage": BYOC},
            HyperParameters={"epochs": "1000", "sleep_per_epoch": "0.2"},
        )
        server.sagemaker.create_training_job(**body)
        wait_for(
            lambda: server.sagemaker.describe_training_job(TrainingJobName=name),
            lambda d: d["SecondaryStatus"] == "Training" and bool(leftovers(engine, work)),
            120,
        )
        agents[0].kill()  # SIGKILL: its container runs on, owned by nobody
        assert len(leftovers(engine, work)) == 1
        agents.append(AgentProcess(None, broker.url, None, work, log_name="second", extra=AUTO))
        assert agents[1].agent_id == agents[0].agent_id  # the same default id on restart
        # gone: removed by the new agent's sweep, unless it already died with its attached CLI
        assert leftovers(engine, work) == []
        failed = server.wait_training(name, timeout=120)
        assert failed["TrainingJobStatus"] == "Failed"
        assert failed["FailureReason"].startswith("InternalServerError")
    finally:
        for agent in agents:
            agent.stop()
        server.process.stop()
        remove_leftovers(engine, work)
