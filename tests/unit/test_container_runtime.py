"""The container runtime without an engine: the command line and env file it builds (pure)
for Docker and podman, the engine probe, and `run` driving a stand-in `docker` CLI.

The stand-in obeys the CLI's documented contract for the commands the runtime uses (`version`,
`run` attached, `stop -t`, `rm -f`; `--env-file` read as docker reads it) and runs the
container's entrypoint as a local process in the mount's source directory, so the runtime's
own logic (output, stop, time limit, clean-up, exit code) is tested for real; what an engine
adds is tested in tests/integration/test_container_runtime.py.
"""

from __future__ import annotations

import asyncio
import csv
import json
import stat
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agents.contract import ClientError
from agents.runtime import container as container_module
from agents.runtime.base import MAX_RUNTIME, Launch, Outcome
from agents.runtime.container import (
    ContainerRuntime,
    ContainerSpec,
    Engine,
    container_argv,
    container_environment,
    detect_engine,
    engine_problem,
    env_file_text,
    write_env_file,
)
from emulator.clock import SystemClock

CLOCK = SystemClock()
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/algo:1"
ENV_FILE = Path("/tmp/job.env")


def job(**fields: Any) -> dict[str, Any]:
    spec = {"TrainingImage": IMAGE, **fields.pop("spec", {})}
    return {"TrainingJobName": "job-1", "AlgorithmSpecification": spec, **fields}


def launch(host_dir: Path = Path("/work/jobs/job-1"), env: dict[str, str] | None = None) -> Launch:
    return Launch(["ignored"], env or {}, "/ignored", host_dir)


def argv_for(spec: ContainerSpec, **kwargs: Any) -> list[str]:
    return container_argv(launch(), spec, ENV_FILE, **kwargs)


def option(argv: list[str], name: str) -> list[str]:
    return [argv[i + 1] for i, arg in enumerate(argv) if arg == name]


# --- the command line ---------------------------------------------------------------------


def test_default_invocation_is_image_train() -> None:
    argv = argv_for(ContainerSpec.from_job(job()))
    assert argv[:3] == ["docker", "run", "--rm"]
    assert argv[-2:] == [IMAGE, "train"]
    assert option(argv, "--name") == ["amt-job-1"]
    assert option(argv, "--env-file") == [str(ENV_FILE)]
    assert option(argv, "--mount") == ["type=bind,source=/work/jobs/job-1,target=/opt/ml"]
    assert option(argv, "--network") == ["host"]
    assert option(argv, "--add-host") == ["algo-1:127.0.0.1"]
    assert "--gpus" not in argv and "--entrypoint" not in argv


def test_entrypoint_replaces_the_images_and_arguments_follow() -> None:
    spec = ContainerSpec.from_job(
        job(
            spec={
                "ContainerEntrypoint": ["python3", "-u", "/opt/ml/code/t.py"],
                "ContainerArguments": ["--epochs", "3"],
            }
        )
    )
    argv = argv_for(spec)
    assert option(argv, "--entrypoint") == ["python3"]
    assert argv[argv.index(IMAGE) :] == [IMAGE, "-u", "/opt/ml/code/t.py", "--epochs", "3"]


def test_arguments_alone_replace_train() -> None:
    argv = argv_for(ContainerSpec.from_job(job(spec={"ContainerArguments": ["fit", "--x=1"]})))
    assert argv[-3:] == [IMAGE, "fit", "--x=1"]
    assert "--entrypoint" not in argv


def test_network_isolation_means_no_network() -> None:
    argv = argv_for(ContainerSpec.from_job(job(EnableNetworkIsolation=True)))
    assert option(argv, "--network") == ["none"]


@pytest.mark.parametrize(
    ("gpus", "value"), [((3,), "device=3"), ((0, 1), '"device=0,1"'), ((2, 5, 7), '"device=2,5,7"')]
)
def test_assigned_gpus_are_one_csv_field(gpus: tuple[int, ...], value: str) -> None:
    argv = argv_for(ContainerSpec.from_job(job(), gpu_ids=gpus))
    assert option(argv, "--gpus") == [value]
    assert next(csv.reader([value])) == ["device=" + ",".join(map(str, gpus))]


def test_mount_source_is_absolute_and_quoted_when_it_holds_a_comma(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    argv = container_argv(launch(Path("a,b/job-1")), ContainerSpec.from_job(job()), ENV_FILE)
    [mount] = option(argv, "--mount")
    assert next(csv.reader([mount])) == [
        "type=bind",
        f"source={tmp_path}/a,b/job-1",
        "target=/opt/ml",
    ]


def test_environment_is_never_on_the_command_line() -> None:
    env = {"AWS_SECRET_ACCESS_KEY": "s3cr3t-value", "SM_HP_LR": "0.123456"}
    argv = container_argv(launch(env=env), ContainerSpec.from_job(job()), ENV_FILE)
    assert not any(value in arg for value in env.values() for arg in argv)
    assert "-e" not in argv and "--env" not in argv


def test_extra_arguments_and_the_engines_command_line() -> None:
    spec = ContainerSpec.from_job(job(spec={"ContainerArguments": ["go"]}))
    engine = Engine(("/opt/bin/podman", "--runtime", "runc"), "podman")
    argv = argv_for(spec, engine=engine, extra_args=["--shm-size", "8g"])
    assert argv[:4] == ["/opt/bin/podman", "--runtime", "runc", "run"]
    assert argv[-4:] == ["--shm-size", "8g", IMAGE, "go"]


@pytest.mark.parametrize(
    ("gpus", "expected"),
    [
        ((), []),
        ((2,), ["--device", "nvidia.com/gpu=2"]),
        ((0, 3), ["--device", "nvidia.com/gpu=0", "--device", "nvidia.com/gpu=3"]),
    ],
)
def test_podman_asks_for_each_gpu_by_its_cdi_name(
    gpus: tuple[int, ...], expected: list[str]
) -> None:
    spec = ContainerSpec.from_job(job(), gpu_ids=gpus)
    argv = argv_for(spec, engine=Engine(("podman",), "podman"))
    assert "--gpus" not in argv
    devices = [a for i, a in enumerate(argv) if argv[i - 1] == "--device" or a == "--device"]
    assert devices == expected


def test_container_name_and_labels_name_the_job_and_its_agents_work_dir() -> None:
    spec = ContainerSpec.from_job(job(), owner="/srv/agent-a/jobs")
    other = ContainerSpec.from_job(job(), owner="/srv/agent-b/jobs")
    argv = argv_for(spec)
    assert spec.container_name.startswith("amt-job-1-")
    assert spec.container_name != other.container_name
    assert option(argv, "--name") == [spec.container_name]
    assert option(argv, "--label") == [
        "amt-emulator.training-job=job-1",
        "amt-emulator.work-dir=/srv/agent-a/jobs",
    ]


def test_a_job_without_training_image_cannot_run_in_a_container() -> None:
    algorithm = {"TrainingJobName": "j", "AlgorithmSpecification": {"AlgorithmName": "xgb"}}
    with pytest.raises(ClientError, match="xgb"):
        ContainerSpec.from_job(algorithm)


# --- the environment ----------------------------------------------------------------------


def test_host_variables_are_dropped_unless_the_job_sets_them() -> None:
    env = {"PATH": "/usr/bin", "HOME": "/root", "PYTHONPATH": "/opt/ml/code:/x", "SM_X": "1"}
    plain = ContainerSpec.from_job(job())
    assert container_environment(env, plain) == {"SM_X": "1"}
    own = ContainerSpec.from_job(job(Environment={"HOME": "/root"}))
    assert container_environment(env, own) == {"HOME": "/root", "SM_X": "1"}


def test_gpus_are_renumbered_from_zero_inside_the_container() -> None:
    env = {"CUDA_VISIBLE_DEVICES": "2,5"}
    spec = ContainerSpec.from_job(job(), gpu_ids=(2, 5))
    assert container_environment(env, spec)["CUDA_VISIBLE_DEVICES"] == "0,1"
    chosen = ContainerSpec.from_job(job(Environment={"CUDA_VISIBLE_DEVICES": "1"}), (2, 5))
    assert container_environment({"CUDA_VISIBLE_DEVICES": "1"}, chosen) == {
        "CUDA_VISIBLE_DEVICES": "1"
    }


def test_env_file_lines_and_values_it_cannot_carry() -> None:
    text, by_name = env_file_text({"A": "x=y # not a comment", "B": "", "C": "two\nlines"})
    assert text == "A=x=y # not a comment\nB=\nC\n"
    assert by_name == {"C": "two\nlines"}


@pytest.mark.parametrize("name", ["", "A=B", "A B", "#A", "\tA"])
def test_names_docker_cannot_read_are_refused(name: str) -> None:
    with pytest.raises(ClientError):
        env_file_text({name: "1"})


def test_nul_bytes_are_refused() -> None:
    with pytest.raises(ClientError, match="NUL"):
        env_file_text({"A": "x\0y"})


def read_env_file(text: str, cli_env: Mapping[str, str]) -> dict[str, str]:
    """As docker's CLI reads --env-file: lines split on LF (a trailing CR dropped), leading
    blanks trimmed, `#` lines and blank lines skipped, `NAME` alone taken from its own env."""
    result: dict[str, str] = {}
    for raw in text.split("\n"):
        line = raw.removesuffix("\r").lstrip()
        if not line or line.startswith("#"):
            continue
        name, equals, value = line.partition("=")
        if equals:
            result[name] = value
        elif name in cli_env:
            result[name] = cli_env[name]
    return result


NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.-]{0,20}", fullmatch=True)
VALUES = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\0"))


@given(st.dictionaries(NAMES, VALUES, max_size=8))
def test_every_value_reaches_the_container_unchanged(env: dict[str, str]) -> None:
    text, by_name = env_file_text(env)
    assert read_env_file(text, by_name) == env


def test_env_file_is_private(tmp_path: Path) -> None:
    path = write_env_file("A=1\n", tmp_path)
    assert path.read_text() == "A=1\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# --- a stand-in docker CLI ----------------------------------------------------------------

FAKE_DOCKER = """\
import csv, json, os, signal, subprocess, sys, time
from pathlib import Path

STATE = Path({state!r})
args = sys.argv[1:]
with (STATE / "calls.jsonl").open("a") as log:
    log.write(json.dumps(args) + "\\n")


def pid_of(name):
    path = STATE / (name + ".pid")
    return int(path.read_text()) if path.exists() else None


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{{pid}}/stat").read_text().split(") ")[1][0] != "Z"


while args[0].startswith("--") and args[0] != "--version":
    args = args[2:]  # global options (`--runtime runc`)
if args[0] == "--version":
    print("podman version 4.3.1" if (STATE / "podman").exists() else "Docker version 99.0.0")
elif args[0] == "version":
    if (STATE / "down").exists():
        print("Client: 99.0.0")
        sys.exit("Cannot connect to the Docker daemon at unix:///fake.sock. Is it running?")
    if (STATE / "slow").exists():
        time.sleep(30)
    print("99.0.0")
elif args[0] == "rm":
    pid = pid_of(args[-1])
    if pid is not None:
        os.kill(pid, signal.SIGKILL)
        (STATE / (args[-1] + ".pid")).unlink()
elif args[0] == "stop":
    pid, grace = pid_of(args[-1]), int(args[2])
    if pid is None:
        sys.exit("Error response from daemon: No such container: " + args[-1])
    os.kill(pid, signal.SIGTERM)
    for _ in range(grace * 20):
        if not alive(pid):
            break
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
elif args[0] == "run":
    options, i = {{}}, 1
    while args[i].startswith("--"):
        if args[i] == "--rm":
            i += 1
        else:
            options[args[i]] = args[i + 1]
            i += 2
    name = options["--name"]
    if options.get("--entrypoint") == "no-such-image":
        print("Error: no-such-image: image not known", file=sys.stderr)
        sys.exit(125)

    if pid_of(name) is not None and alive(pid_of(name)):
        sys.exit("docker: Error response from daemon: Conflict. The name is already in use.")
    env = {{"PATH": os.environ["PATH"]}}
    for line in Path(options["--env-file"]).read_text().split("\\n"):
        key, equals, value = line.lstrip().partition("=")
        if key and not key.startswith("#"):
            env[key] = value if equals else os.environ[key]
    fields = dict(f.split("=", 1) for f in next(csv.reader([options["--mount"]])))
    command = [options["--entrypoint"], *args[i + 1 :]]
    child = subprocess.Popen(command, env=env, cwd=fields["source"], start_new_session=True)
    (STATE / (name + ".pid")).write_text(str(child.pid))
    code = child.wait()
    sys.exit(code if code >= 0 else 128 - code)
"""


class FakeDocker:
    def __init__(self, root: Path) -> None:
        self.state = root / "state"
        self.state.mkdir()
        self.path = root / "docker"
        script = FAKE_DOCKER.format(state=str(self.state))
        self.path.write_text(f"#!{sys.executable}\n{script}")
        self.path.chmod(0o755)

    def calls(self) -> list[list[str]]:
        log = self.state / "calls.jsonl"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    def commands(self) -> list[str]:
        return [call[0] for call in self.calls()]


@pytest.fixture
def fake(tmp_path: Path) -> FakeDocker:
    return FakeDocker(tmp_path)


PROGRAM = textwrap.dedent(
    """
    import os, signal, sys, time
    signal.signal(signal.SIGTERM, lambda *_: (print("got SIGTERM", flush=True), sys.exit(0)))
    print("HP", os.environ["SM_HP_LR"], repr(os.environ["NOTE"]), "PATH" in os.environ)
    os.makedirs("model", exist_ok=True)
    open("model/weights", "w").write("w")
    print("READY", flush=True)
    if os.environ.get("LOOP"):
        while True:
            time.sleep(0.05)
    sys.exit(int(os.environ["EXIT"]))
    """
)


class Run:
    """One job through DockerRuntime.run with the stand-in CLI."""

    def __init__(self, fake: FakeDocker, host_dir: Path, env: dict[str, str]) -> None:
        self.lines: list[str] = []
        self.ready = asyncio.Event()
        host_dir.mkdir(exist_ok=True)
        entry = {"ContainerEntrypoint": [sys.executable, "-c", PROGRAM]}
        self.spec = ContainerSpec.from_job(job(spec=entry))
        self.runtime = ContainerRuntime(self.spec, engine=Engine((str(fake.path),)))
        self.launch = Launch(["unused"], env, "/unused", host_dir)
        self.stop_now = asyncio.Event()

    async def on_line(self, line: str) -> None:
        self.lines.append(line)
        if line == "READY":
            self.ready.set()

    async def stop(self) -> str:
        await self.stop_now.wait()
        return "user"

    async def __call__(self, max_runtime: float = 60.0, grace: float = 2.0) -> Outcome:
        return await self.runtime.run(
            self.launch,
            on_line=self.on_line,
            stop=self.stop,
            max_runtime=max_runtime,
            grace=grace,
            clock=CLOCK,
        )


def job_env(**extra: str) -> dict[str, str]:
    return {"SM_HP_LR": "0.5", "NOTE": "two\nlines", "PATH": "/host/only", **extra}


async def test_runs_the_container_to_its_exit_code(fake: FakeDocker, tmp_path: Path) -> None:
    run = Run(fake, tmp_path / "job-1", job_env(EXIT="3"))
    outcome = await run()
    assert outcome == Outcome(3, None)
    # The env file's values, the by-name one through the CLI, and the image's PATH.
    assert run.lines == ["HP 0.5 'two\\nlines' True", "READY"]
    assert (tmp_path / "job-1" / "model" / "weights").read_text() == "w"
    assert fake.commands() == ["rm", "run", "rm"]
    env_file = Path(fake.calls()[1][fake.calls()[1].index("--env-file") + 1])
    assert not await asyncio.to_thread(env_file.exists)


async def test_stop_is_docker_stop_with_the_grace(fake: FakeDocker, tmp_path: Path) -> None:
    run = Run(fake, tmp_path / "job-1", job_env(EXIT="0", LOOP="1"))
    task = asyncio.create_task(run(grace=2.5))
    await asyncio.wait_for(run.ready.wait(), 10)
    run.stop_now.set()
    outcome = await asyncio.wait_for(task, 20)
    assert outcome.stopped == "user"
    assert run.lines[-1] == "got SIGTERM"
    assert ["stop", "-t", "3", "amt-job-1"] in fake.calls()
    assert fake.commands()[-1] == "rm"


async def test_max_runtime_stops_the_container(fake: FakeDocker, tmp_path: Path) -> None:
    run = Run(fake, tmp_path / "job-1", job_env(EXIT="0", LOOP="1"))
    outcome = await asyncio.wait_for(run(max_runtime=1.0, grace=1.0), 20)
    assert outcome.stopped == MAX_RUNTIME
    assert "stop" in fake.commands()


async def test_a_leftover_container_of_the_job_is_removed_first(
    fake: FakeDocker, tmp_path: Path
) -> None:
    leftover = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import time; time.sleep(60)"
    )
    (fake.state / "amt-job-1.pid").write_text(str(leftover.pid))
    try:
        outcome = await Run(fake, tmp_path / "job-1", job_env(EXIT="0"))()
    finally:
        if leftover.returncode is None:
            leftover.kill()
    assert outcome == Outcome(0, None)
    assert await leftover.wait() == -9


async def test_an_image_the_engine_cannot_start_is_a_client_error(
    fake: FakeDocker, tmp_path: Path
) -> None:
    run = Run(fake, tmp_path / "job-1", job_env(EXIT="0"))
    run.runtime = ContainerRuntime(
        ContainerSpec.from_job(job(spec={"ContainerEntrypoint": ["no-such-image"]})),
        engine=Engine((str(fake.path),)),
    )
    with pytest.raises(ClientError) as error:
        await run()
    assert str(error.value) == (
        f"ClientError: docker could not start a container of {IMAGE}: "
        "Error: no-such-image: image not known"
    )
    assert fake.commands()[-1] == "rm"


async def test_a_value_docker_cannot_carry_fails_before_docker_runs(
    fake: FakeDocker, tmp_path: Path
) -> None:
    with pytest.raises(ClientError):
        await Run(fake, tmp_path / "job-1", job_env(**{"BAD NAME": "1"}))()
    assert fake.calls() == []


# --- the engine probe ---------------------------------------------------------------------


@pytest.fixture(autouse=True)
def fresh_probe() -> None:
    container_module._probe.cache_clear()


def test_an_answering_engine_is_found(fake: FakeDocker) -> None:
    engine = detect_engine(str(fake.path))
    assert engine.command == (str(fake.path),) and engine.kind == "docker"
    assert engine_problem(str(fake.path)) is None


def test_a_podman_cli_is_recognised_by_its_name(fake: FakeDocker) -> None:
    (fake.state / "podman").touch()
    engine = detect_engine(f"{fake.path} --runtime runc")
    assert engine.kind == "podman"
    assert engine.command == (str(fake.path), "--runtime", "runc")
    assert fake.calls()[0] == ["--runtime", "runc", "version", "--format", "{{.Server.Version}}"]


def test_the_problem_says_why_when_no_engine_answers(fake: FakeDocker) -> None:
    (fake.state / "down").touch()
    reason = engine_problem(str(fake.path))
    assert reason is not None and "no engine answers" in reason and "Cannot connect" in reason


def test_a_silent_engine_is_given_up(fake: FakeDocker, monkeypatch: pytest.MonkeyPatch) -> None:
    (fake.state / "slow").touch()
    monkeypatch.setattr(container_module, "PROBE_SECONDS", 0.5)
    reason = engine_problem(str(fake.path))
    assert reason is not None and "took over 0.5 s" in reason


def test_without_the_command(tmp_path: Path) -> None:
    reason = engine_problem(str(tmp_path / "no-docker"))
    assert reason is not None and "no-docker" in reason and "PATH" in reason


def test_a_cli_is_asked_once_per_process(fake: FakeDocker) -> None:
    detect_engine(str(fake.path))
    detect_engine(str(fake.path))
    assert fake.commands() == ["version", "--version"]


def test_without_a_named_cli_docker_then_podman_are_tried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (tmp_path / "d").mkdir()
    (tmp_path / "p").mkdir()
    down, up = FakeDocker(tmp_path / "d"), FakeDocker(tmp_path / "p")
    (down.state / "down").touch()
    (up.state / "podman").touch()
    (bin_dir / "docker").symlink_to(down.path)
    (bin_dir / "podman").symlink_to(up.path)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("CONTAINERS_CONF", raising=False)
    monkeypatch.setattr(container_module, "SYSTEM_PODMAN_CONF", tmp_path / "none.conf")
    engine = detect_engine()
    assert engine.kind == "podman" and engine.command == (str(bin_dir / "podman"),)
    conf = Path(dict(engine.env)["CONTAINERS_CONF"])
    assert "default_ulimits = []" in conf.read_text()


def test_a_user_configured_podman_keeps_its_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONTAINERS_CONF", str(tmp_path / "mine.conf"))
    assert container_module.podman_env() == ()


async def test_runtime_sees_the_job_directory_as_opt_ml() -> None:
    runtime = ContainerRuntime(ContainerSpec.from_job(job()))
    assert await runtime.container_dir(Path("/x")) == Path("/opt/ml")
