"""The `docker` runtime: the job's TrainingImage run by a Docker engine, as SageMaker runs it.

`docker run --rm <image> train` (or `--entrypoint <ContainerEntrypoint[0]> <image>
<ContainerEntrypoint[1:]> <ContainerArguments>`), the job directory bind-mounted at /opt/ml,
`--network host` (the program reaches our S3 endpoint on 127.0.0.1) or `--network none` under
EnableNetworkIsolation, the assigned GPUs through `--gpus`. It drives the docker CLI, so it
needs no Python package and talks to whatever engine the CLI is configured for.

The environment travels in an `--env-file` (mode 0600, outside /opt/ml, deleted after the run),
never on the command line, where any local user could read it. A value the file cannot carry
(a line break) is listed by name only, and the CLI takes it from its own environment.

The program sees the image's own PATH, HOME and PYTHONPATH: the host's pass-through variables
are dropped unless the job's Environment sets them. GPUs appear in the container numbered from
0, so CUDA_VISIBLE_DEVICES is renumbered to match.

A stop is `docker stop -t <grace>` (SIGTERM to the container's PID 1, then SIGKILL); whatever
way the run ends, the container is then removed (`docker rm -f`), so none outlives its job.
A container outlives the agent only if the agent dies with SIGKILL: a later run of the same
job removes it first (its name is derived from the job's).
"""

from __future__ import annotations

import asyncio
import functools
import math
import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.contract import PASSED_THROUGH, ClientError
from agents.runtime.base import MAX_RUNTIME, Launch, LineSink, Outcome, StopSignal
from agents.runtime.process import DRAIN_SECONDS, first_end, pump, within
from emulator.clock import Clock

OPT_ML = Path("/opt/ml")
PROBE_SECONDS = 5.0
"""How long `docker version` may take to answer before we call the engine absent."""
HELPER_SECONDS = 30.0
"""How long a `docker rm -f` may take."""
NAME_PREFIX = "amt-"
LABEL = "amt-emulator.training-job"
HOST_ONLY = frozenset(PASSED_THROUGH) | {"PYTHONPATH", "SAGEMAKER_BASE_DIR"}
"""Variables that describe the agent's host, not the container: the image brings its own."""
GPU_VARIABLE = "CUDA_VISIBLE_DEVICES"
SM_HOST = "algo-1"


@dataclass(frozen=True)
class ContainerSpec:
    """What SageMaker takes from the request to start a job's container."""

    job_name: str
    image: str
    entrypoint: tuple[str, ...] = ()
    arguments: tuple[str, ...] = ()
    network_isolation: bool = False
    gpu_ids: tuple[int, ...] = ()
    """Host GPU indices assigned to the job."""
    job_environment: frozenset[str] = frozenset()
    """The names the job's own Environment sets: those are passed as given."""

    @classmethod
    def from_job(cls, job: Mapping[str, Any], gpu_ids: Sequence[int] = ()) -> ContainerSpec:
        """From a DescribeTrainingJob-shaped job; ClientError if it names no image."""
        spec = job.get("AlgorithmSpecification") or {}
        image = spec.get("TrainingImage")
        if not image:
            algorithm = spec.get("AlgorithmName", "")
            raise ClientError(
                f"ClientError: the docker runtime runs a TrainingImage; algorithm resource "
                f"'{algorithm}' has none here."
            )
        return cls(
            job_name=str(job["TrainingJobName"]),
            image=str(image),
            entrypoint=tuple(spec.get("ContainerEntrypoint") or ()),
            arguments=tuple(spec.get("ContainerArguments") or ()),
            network_isolation=bool(job.get("EnableNetworkIsolation", False)),
            gpu_ids=tuple(gpu_ids),
            job_environment=frozenset(job.get("Environment") or {}),
        )

    @property
    def container_name(self) -> str:
        return NAME_PREFIX + self.job_name

    @property
    def command(self) -> tuple[str, ...]:
        """What follows the image: the entrypoint's own arguments, then ContainerArguments;
        `train` when the request gives neither (SageMaker's `docker run <image> train`)."""
        if self.entrypoint:
            return (*self.entrypoint[1:], *self.arguments)
        return self.arguments or ("train",)


def csv_field(text: str) -> str:
    """Quote one field of a comma-separated docker option (`--mount`, `--gpus`) if needed:
    `device=0,1` must reach docker as `"device=0,1"` or it sees only device 0."""
    if "," in text or '"' in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def gpu_options(gpu_ids: Sequence[int]) -> list[str]:
    if not gpu_ids:
        return []
    return ["--gpus", csv_field("device=" + ",".join(str(i) for i in gpu_ids))]


def docker_argv(
    launch: Launch,
    spec: ContainerSpec,
    env_file: Path,
    *,
    docker: str = "docker",
    extra_args: Sequence[str] = (),
) -> list[str]:
    """The `docker run` command line for a job. `launch.argv` and `launch.cwd` are the process
    runtime's: a container runs its image's own program, in the image's WORKDIR."""
    source = csv_field("source=" + str(launch.host_dir.absolute()))
    entrypoint = ["--entrypoint", spec.entrypoint[0]] if spec.entrypoint else []
    return [
        docker,
        "run",
        "--rm",
        "--name",
        spec.container_name,
        "--label",
        f"{LABEL}={spec.job_name}",
        "--env-file",
        str(env_file),
        "--mount",
        f"type=bind,{source},target={OPT_ML}",
        "--network",
        "none" if spec.network_isolation else "host",
        # The toolkit waits until every host in resourceconfig.json resolves.
        "--add-host",
        f"{SM_HOST}:127.0.0.1",
        *gpu_options(spec.gpu_ids),
        *entrypoint,
        *extra_args,
        spec.image,
        *spec.command,
    ]


def container_environment(env: Mapping[str, str], spec: ContainerSpec) -> dict[str, str]:
    """The job's environment as the container should see it (see the module docstring)."""
    own = spec.job_environment
    result = {k: v for k, v in env.items() if k not in HOST_ONLY or k in own}
    if spec.gpu_ids and GPU_VARIABLE not in own:
        result[GPU_VARIABLE] = ",".join(str(i) for i in range(len(spec.gpu_ids)))
    return result


def env_file_text(env: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """The `--env-file` content (one `NAME=VALUE` a line, as docker reads it: no quoting, no
    escapes) and the variables it lists by name only, which the docker CLI must find in its
    own environment because their values hold a line break."""
    lines: list[str] = []
    by_name: dict[str, str] = {}
    for name, value in env.items():
        if not name or name[0] == "#" or "=" in name or any(c.isspace() for c in name):
            raise ClientError(f"ClientError: {name!r} cannot be an environment variable name.")
        if "\0" in name or "\0" in value:
            raise ClientError(f"ClientError: environment variable {name!r} holds a NUL byte.")
        if "\n" in value or "\r" in value:
            by_name[name] = value
            lines.append(name)
        else:
            lines.append(f"{name}={value}")
    return "".join(f"{line}\n" for line in lines), by_name


def write_env_file(text: str, directory: Path | None = None) -> Path:
    """Write `text` to a new file only its owner can read (the job's values are private)."""
    handle, name = tempfile.mkstemp(prefix="amt-env-", suffix=".env", dir=directory)
    with os.fdopen(handle, "w", encoding="utf-8") as file:
        file.write(text)
    return Path(name)


@functools.cache
def engine_problem(docker: str = "docker") -> str | None:
    """Why this host cannot run containers (None: it can). Probed once per process, by
    asking the engine its version; it blocks for up to PROBE_SECONDS."""
    path = shutil.which(docker)
    if path is None:
        return f"no `{docker}` command on PATH (install the Docker CLI)"
    try:
        result = subprocess.run(
            [path, "version", "--format", "{{.Server.Version}}"],
            capture_output=True,
            text=True,
            timeout=PROBE_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"no Docker engine answers: `{docker} version` took over {PROBE_SECONDS:g} s"
    except OSError as error:
        return f"`{docker}` cannot be run: {error}"
    if result.returncode != 0 or not result.stdout.strip():
        said = [line.strip() for line in result.stderr.splitlines() if line.strip()]
        return f"no Docker engine answers: {said[-1] if said else 'no server version'}"
    return None


def docker_available(docker: str = "docker") -> bool:
    return engine_problem(docker) is None


async def _docker_quietly(docker: str, args: Sequence[str], seconds: float, clock: Clock) -> None:
    """Run a docker housekeeping command, ignoring its answer, for at most `seconds`."""
    proc = await asyncio.create_subprocess_exec(
        docker,
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    waiting = asyncio.ensure_future(proc.wait())
    try:
        if not await within(waiting, seconds, clock):
            proc.kill()
            await waiting
    finally:
        waiting.cancel()


class DockerRuntime:
    """Runs one job's container. One instance per job: the container comes from the job
    (`ContainerSpec.from_job`), the rest of the launch from the runner."""

    def __init__(
        self, spec: ContainerSpec, *, docker: str = "docker", extra_args: Sequence[str] = ()
    ) -> None:
        self.spec, self.docker, self.extra_args = spec, docker, tuple(extra_args)

    @staticmethod
    def check(docker: str = "docker") -> str | None:
        """Why `--runtime docker` cannot work here, for the agent to print; None if it can.
        Blocking (the first call asks the engine): call it from a thread in async code."""
        return engine_problem(docker)

    async def container_dir(self, host_dir: Path) -> Path:
        return OPT_ML

    async def remove(self, clock: Clock) -> None:
        """Remove the job's container, running or not (none by that name is fine)."""
        await _docker_quietly(
            self.docker, ["rm", "-f", self.spec.container_name], HELPER_SECONDS, clock
        )

    @asynccontextmanager
    async def _environment_file(
        self, env: Mapping[str, str], clock: Clock
    ) -> AsyncIterator[tuple[Path, dict[str, str]]]:
        """The env file (and the by-name variables) for the run; around it, the container
        is removed: before, one an earlier, killed agent left; after, whatever is left."""
        text, by_name = env_file_text(container_environment(env, self.spec))
        env_file = await asyncio.to_thread(write_env_file, text)
        try:
            await self.remove(clock)
            yield env_file, by_name
        finally:
            env_file.unlink(missing_ok=True)
            await self.remove(clock)

    async def run(
        self,
        launch: Launch,
        *,
        on_line: LineSink,
        stop: StopSignal,
        max_runtime: float,
        grace: float,
        clock: Clock,
    ) -> Outcome:
        """`docker run` attached: its output is the container's, its exit code the
        program's (125-127: docker's own failure, said in the output)."""
        async with self._environment_file(launch.env, clock) as (env_file, by_name):
            argv = docker_argv(
                launch, self.spec, env_file, docker=self.docker, extra_args=self.extra_args
            )
            return await self._attached(argv, by_name, on_line, stop, max_runtime, grace, clock)

    async def _attached(
        self,
        argv: Sequence[str],
        by_name: Mapping[str, str],
        on_line: LineSink,
        stop: StopSignal,
        max_runtime: float,
        grace: float,
        clock: Clock,
    ) -> Outcome:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            env={**os.environ, **by_name},
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # the terminal's Ctrl-C is the agent's, not the job's
        )
        assert proc.stdout is not None
        name = self.spec.container_name
        reader = asyncio.create_task(pump(proc.stdout, on_line), name=f"pump-{name}")
        exited = asyncio.create_task(proc.wait(), name=f"wait-{name}")
        stopper = asyncio.create_task(stop(), name=f"stop-{name}")
        timer = asyncio.create_task(clock.sleep(max_runtime), name=f"timer-{name}")
        try:
            done = await first_end({exited, stopper, timer}, reader)
            reason = None
            if exited not in done:
                reason = stopper.result() if stopper in done else MAX_RUNTIME
                seconds = max(0, math.ceil(grace))
                stop_args = ["stop", "-t", str(seconds), name]
                await _docker_quietly(self.docker, stop_args, seconds + HELPER_SECONDS, clock)
                if not await within(exited, DRAIN_SECONDS, clock):
                    await self.remove(clock)  # e.g. stopped while the image was pulled
                    proc.kill()
                    await exited
            if await within(reader, DRAIN_SECONDS, clock):
                reader.result()
            return Outcome(proc.returncode, reason)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            for task in (stopper, timer, exited, reader):
                task.cancel()
            await asyncio.gather(stopper, timer, exited, reader, return_exceptions=True)
