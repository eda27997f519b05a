"""The `container` runtime: the job's TrainingImage run by a Docker-compatible engine (Docker,
or daemonless podman), as SageMaker runs it.

`<cli> run --rm <image> train` (or `--entrypoint <ContainerEntrypoint[0]> <image>
<ContainerEntrypoint[1:]> <ContainerArguments>`), the job directory bind-mounted at /opt/ml,
`--network host` (the program reaches our S3 endpoint on 127.0.0.1) or `--network none` under
EnableNetworkIsolation, the assigned GPUs (`--gpus "device=..."` for Docker, CDI
`--device nvidia.com/gpu=N` for podman). It drives the engine's CLI, so it needs no Python
package and talks to whatever engine the CLI is configured for. Which CLI: the one named
(`--container-cli`, a command line such as `podman --runtime runc`), else the first of
`docker`, `podman` whose engine answers (a `docker` binary with no daemon behind it does not).

The environment travels in an `--env-file` (mode 0600, outside /opt/ml, deleted after the run),
never on the command line, where any local user could read it. A value the file cannot carry
(a line break) is listed by name only, and the CLI takes it from its own environment.

The program sees the image's own PATH, HOME and PYTHONPATH: the host's pass-through variables
are dropped unless the job's Environment sets them. GPUs appear in the container numbered from
0, so CUDA_VISIBLE_DEVICES is renumbered to match.

A stop is `<cli> stop -t <grace>` (SIGTERM to the container's PID 1, then SIGKILL); whatever
way the run ends, the container is then removed (`rm -f`), so none outlives its job. Every
container is labelled with its job and its agent's work directory: an agent killed with
SIGKILL leaves its containers running, and the next agent on that work directory removes them
when it starts (`sweep`), as a later run of the same job does (its name derives from the job's).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import math
import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.contract import PASSED_THROUGH, ClientError
from agents.runtime.base import Launch, LineSink, Outcome, StopSignal
from agents.runtime.race import DRAIN_SECONDS, race, within
from emulator.clock import Clock

OPT_ML = Path("/opt/ml")
PROBE_SECONDS = 5.0
"""How long an engine may take to answer the probe before we call it absent."""
HELPER_SECONDS = 30.0
"""How long a housekeeping command (`rm -f`, `image inspect`) may take."""
CANDIDATES = ("docker", "podman")
"""The CLIs tried, in order, when none is named: Docker where its engine answers."""
NAME_PREFIX = "amt-"
LABEL = "amt-emulator.training-job"
WORK_DIR_LABEL = "amt-emulator.work-dir"
"""Names the agent (by its work directory) whose containers a restarted agent removes."""
HOST_ONLY = frozenset(PASSED_THROUGH) | {"PYTHONPATH", "SAGEMAKER_BASE_DIR"}
"""Variables that describe the agent's host, not the container: the image brings its own."""
GPU_VARIABLE = "CUDA_VISIBLE_DEVICES"
SM_HOST = "algo-1"
ENGINE_FAILED = 125
"""`docker run`'s (and podman's) exit status when the engine itself failed to start it."""
SYSTEM_PODMAN_CONF = Path("/etc/containers/containers.conf")


class EngineUnavailable(Exception):
    """No container engine can run a container here; the message says why."""


@dataclass(frozen=True)
class Engine:
    """A Docker-compatible CLI whose engine answered: `command` may carry global options
    (`podman --runtime runc`), `env` what the CLI needs in its environment."""

    command: tuple[str, ...]
    kind: str = "docker"
    """"docker" or "podman": they differ in how GPUs are asked for."""
    env: tuple[tuple[str, str], ...] = ()

    def cli(self, *args: str) -> list[str]:
        return [*self.command, *args]

    @property
    def name(self) -> str:
        return Path(self.command[0]).name

    def remove_args(self, *names: str) -> list[str]:
        """`rm -f` at once: Docker's kills; podman's would first wait 10 s after a SIGTERM."""
        return ["rm", "-f", *(("--time", "0") if self.kind == "podman" else ()), *names]

    def environ(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment to run the CLI in."""
        return {**os.environ, **dict(self.env), **(extra or {})}


PODMAN_CONF = (
    "[containers]\n"
    "# The host's limits: podman's default (nofile=1048576) is refused where the host's\n"
    "# hard limit is lower and raising it is not permitted.\n"
    "default_ulimits = []\n"
)


def podman_env() -> tuple[tuple[str, str], ...]:
    """podman's configuration for our containers, unless the user configures podman:
    `CONTAINERS_CONF` (which replaces the system's files) pointing at a file of ours that
    keeps containers at the host's resource limits."""
    if "CONTAINERS_CONF" in os.environ or SYSTEM_PODMAN_CONF.exists():
        return ()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    path = cache / "amt-emulator" / "containers.conf"
    if not path.is_file() or path.read_text() != PODMAN_CONF:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(PODMAN_CONF)
    return (("CONTAINERS_CONF", str(path)),)


def _ask(command: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, capture_output=True, text=True, timeout=PROBE_SECONDS, check=False
    )


@functools.cache
def _probe(cli: str) -> Engine | str:
    """The engine behind one CLI command line, or why it cannot run containers. Asks the
    engine its version (a Docker CLI with no daemon fails here), then the CLI its name."""
    words = shlex.split(cli)
    path = shutil.which(words[0]) if words else None
    if path is None:
        return f"no `{cli}` command on PATH"
    command = (path, *words[1:])
    try:
        server = _ask([*command, "version", "--format", "{{.Server.Version}}"])
        if server.returncode != 0 or not server.stdout.strip():
            said = [line.strip() for line in server.stderr.splitlines() if line.strip()]
            return f"no engine answers `{cli}`: {said[-1] if said else 'no server version'}"
        named = _ask([*command, "--version"])
    except subprocess.TimeoutExpired:
        return f"no engine answers `{cli}`: `{cli} version` took over {PROBE_SECONDS:g} s"
    except OSError as error:
        return f"`{cli}` cannot be run: {error}"
    if "podman" in named.stdout.lower():
        return Engine(command, "podman", podman_env())
    return Engine(command, "docker")


def detect_engine(cli: str | None = None) -> Engine:
    """The engine of `cli` (a command line), else of the first of CANDIDATES that answers.
    Blocking (each CLI is asked once per process, for up to PROBE_SECONDS): call it from a
    thread in async code. EngineUnavailable says why none can run containers."""
    problems = []
    for candidate in (cli,) if cli else CANDIDATES:
        found = _probe(candidate)
        if isinstance(found, Engine):
            return found
        problems.append(found)
    raise EngineUnavailable("; ".join(problems))


def engine_problem(cli: str | None = None) -> str | None:
    """Why this host cannot run containers (None: it can)."""
    try:
        detect_engine(cli)
    except EngineUnavailable as error:
        return str(error)
    return None


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
    owner: str = ""
    """The agent's work directory (absolute): labels the container and its name."""

    @classmethod
    def from_job(
        cls, job: Mapping[str, Any], gpu_ids: Sequence[int] = (), owner: str = ""
    ) -> ContainerSpec:
        """From a DescribeTrainingJob-shaped job; ClientError if it names no image."""
        spec = job.get("AlgorithmSpecification") or {}
        image = training_image(job)
        if not image:
            algorithm = spec.get("AlgorithmName", "")
            raise ClientError(
                f"ClientError: the container runtime runs a TrainingImage; algorithm resource "
                f"'{algorithm}' has none here."
            )
        return cls(
            job_name=str(job["TrainingJobName"]),
            image=image,
            entrypoint=tuple(spec.get("ContainerEntrypoint") or ()),
            arguments=tuple(spec.get("ContainerArguments") or ()),
            network_isolation=bool(job.get("EnableNetworkIsolation", False)),
            gpu_ids=tuple(gpu_ids),
            job_environment=frozenset(job.get("Environment") or {}),
            owner=owner,
        )

    @property
    def container_name(self) -> str:
        """Unique per job and agent: two servers on one host may both run a job `tune-001`."""
        if not self.owner:
            return NAME_PREFIX + self.job_name
        return f"{NAME_PREFIX}{self.job_name}-{owner_tag(self.owner)}"

    @property
    def command(self) -> tuple[str, ...]:
        """What follows the image: the entrypoint's own arguments, then ContainerArguments;
        `train` when the request gives neither (SageMaker's `docker run <image> train`)."""
        if self.entrypoint:
            return (*self.entrypoint[1:], *self.arguments)
        return self.arguments or ("train",)


def training_image(job: Mapping[str, Any]) -> str:
    return str((job.get("AlgorithmSpecification") or {}).get("TrainingImage") or "")


def owner_tag(owner: str) -> str:
    return hashlib.sha256(owner.encode()).hexdigest()[:8]


def csv_field(text: str) -> str:
    """Quote one field of a comma-separated option (`--mount`, `--gpus`) if needed:
    `device=0,1` must reach docker as `"device=0,1"` or it sees only device 0."""
    if "," in text or '"' in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def gpu_options(gpu_ids: Sequence[int], kind: str = "docker") -> list[str]:
    """Docker's `--gpus "device=0,1"` (the NVIDIA Container Toolkit's hook); podman asks for
    each GPU by its CDI name (`nvidia-ctk cdi generate` lists them)."""
    if not gpu_ids:
        return []
    if kind == "podman":
        return [arg for i in gpu_ids for arg in ("--device", f"nvidia.com/gpu={i}")]
    return ["--gpus", csv_field("device=" + ",".join(str(i) for i in gpu_ids))]


def container_argv(
    launch: Launch,
    spec: ContainerSpec,
    env_file: Path,
    *,
    engine: Engine = Engine(("docker",)),
    extra_args: Sequence[str] = (),
) -> list[str]:
    """The `run` command line for a job. `launch.argv` and `launch.cwd` are the process
    runtime's: a container runs its image's own program, in the image's WORKDIR."""
    source = csv_field("source=" + str(launch.host_dir.absolute()))
    entrypoint = ["--entrypoint", spec.entrypoint[0]] if spec.entrypoint else []
    owner = ["--label", f"{WORK_DIR_LABEL}={spec.owner}"] if spec.owner else []
    return engine.cli(
        "run",
        "--rm",
        "--name",
        spec.container_name,
        "--label",
        f"{LABEL}={spec.job_name}",
        *owner,
        "--env-file",
        str(env_file),
        "--mount",
        f"type=bind,{source},target={OPT_ML}",
        "--network",
        "none" if spec.network_isolation else "host",
        # The toolkit waits until every host in resourceconfig.json resolves.
        "--add-host",
        f"{SM_HOST}:127.0.0.1",
        *gpu_options(spec.gpu_ids, engine.kind),
        *entrypoint,
        *extra_args,
        spec.image,
        *spec.command,
    )


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


async def quietly(engine: Engine, args: Sequence[str], seconds: float, clock: Clock) -> int | None:
    """Run a housekeeping command for at most `seconds`; its exit code (None: killed)."""
    proc = await asyncio.create_subprocess_exec(
        *engine.cli(*args),
        env=engine.environ(),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    waiting = asyncio.ensure_future(proc.wait())
    try:
        if not await within(waiting, seconds, clock):
            proc.kill()
            await waiting
            return None
    finally:
        waiting.cancel()
    return proc.returncode


async def has_image(engine: Engine, image: str, clock: Clock) -> bool:
    """Whether `image` is in the engine's local image store (nothing is pulled)."""
    inspect = ["image", "inspect", "--format", "{{.Id}}", image]
    return await quietly(engine, inspect, HELPER_SECONDS, clock) == 0


async def sweep(engine: Engine, owner: str, clock: Clock) -> list[str]:
    """Remove every container an earlier agent on the work directory `owner` left (one
    killed with SIGKILL cannot remove its own); the names removed."""
    listing = engine.cli(
        "ps", "-a", "--filter", f"label={WORK_DIR_LABEL}={owner}", "--format", "{{.Names}}"
    )
    proc = await asyncio.create_subprocess_exec(
        *listing,
        env=engine.environ(),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    out, _ = await proc.communicate()
    names = out.decode().split()
    if names:
        await quietly(engine, engine.remove_args(*names), HELPER_SECONDS, clock)
    return names


class ContainerRuntime:
    """Runs one job's container. One instance per job: the container comes from the job
    (`ContainerSpec.from_job`), the rest of the launch from the runner."""

    def __init__(
        self,
        spec: ContainerSpec,
        *,
        engine: Engine = Engine(("docker",)),
        extra_args: Sequence[str] = (),
    ) -> None:
        self.spec, self.engine, self.extra_args = spec, engine, tuple(extra_args)

    async def container_dir(self, host_dir: Path) -> Path:
        return OPT_ML

    async def remove(self, clock: Clock) -> None:
        """Remove the job's container, running or not (none by that name is fine)."""
        remove = self.engine.remove_args(self.spec.container_name)
        await quietly(self.engine, remove, HELPER_SECONDS, clock)

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
        """`run` attached: its output is the container's, its exit code the program's.
        The engine's own failure to start it (exit 125: no such image, a bad option) is the
        request's problem, a ClientError with the engine's last words."""
        said: list[str] = []

        async def forward(line: str) -> None:
            said[:] = [line]
            await on_line(line)

        async with self._environment_file(launch.env, clock) as (env_file, by_name):
            argv = container_argv(
                launch, self.spec, env_file, engine=self.engine, extra_args=self.extra_args
            )
            outcome = await self._attached(argv, by_name, forward, stop, max_runtime, grace, clock)
        if outcome.stopped is None and outcome.exit_code == ENGINE_FAILED:
            raise ClientError(
                f"ClientError: {self.engine.name} could not start a container of "
                f"{self.spec.image}: {said[0] if said else 'no reason given'}"
            )
        return outcome

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
            env=self.engine.environ(by_name),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # the terminal's Ctrl-C is the agent's, not the job's
        )
        program = AttachedContainer(proc, self, clock)
        return await race(
            program, on_line=on_line, stop=stop, max_runtime=max_runtime, grace=grace, clock=clock
        )


class AttachedContainer:
    """A job's container behind its attached `run` process, as the race drives it
    (`race.Running`): the engine's `stop -t <grace>`; if `run` does not end after it (stopped
    while the image was pulled), the container is removed and `run` killed."""

    def __init__(
        self, proc: asyncio.subprocess.Process, runtime: ContainerRuntime, clock: Clock
    ) -> None:
        assert proc.stdout is not None
        self.proc, self.runtime, self.clock = proc, runtime, clock
        self.name = runtime.spec.container_name
        self.output = proc.stdout

    async def exit_code(self) -> int:
        return await self.proc.wait()

    async def terminate(self, grace: float) -> float:
        seconds = max(0, math.ceil(grace))
        stop_args = ["stop", "-t", str(seconds), self.name]
        await quietly(self.runtime.engine, stop_args, seconds + HELPER_SECONDS, self.clock)
        return DRAIN_SECONDS

    async def kill(self) -> None:
        await self.runtime.remove(self.clock)
        self.proc.kill()

    async def sweep(self) -> None:
        """`run --rm` removes the container when it ends; the runtime removes it after the run
        in any case. Here only `run` itself must not outlive the race."""
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()

    async def release(self) -> None:
        await self.sweep()
