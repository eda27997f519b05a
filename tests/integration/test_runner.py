"""`run_training_job` for real: real processes, real files, a recording reporter, and S3 from a
moto server on 127.0.0.1 where S3 is the point."""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
import tarfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agents.runner import AgentContext, StopRequest, run_training_job
from agents.runtime.process import mount_namespace_available
from emulator.clock import SystemClock
from tests.processes import running

ROOT = Path(__file__).resolve().parents[2]
CLOCK = SystemClock()
SGD = ROOT / "fixtures" / "algorithms" / "sklearn_sgd.py"
SGD_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/sklearn-sgd:latest"
SCRIPT_IMAGE = "local/script:latest"
PYTORCH_IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.1-cpu-py310"
ACCURACY = {"Name": "validation:accuracy", "Regex": r"validation:accuracy=([0-9.]+)"}
NAMESPACE_MODES = [
    False,
    pytest.param(
        True,
        marks=pytest.mark.skipif(
            not mount_namespace_available(), reason="needs root and a working unshare"
        ),
    ),
]


class Recorder:
    """A JobReporter that keeps everything, and lets a test react to a log line."""

    def __init__(self) -> None:
        self.statuses: list[tuple[str, str | None, bool]] = []
        self.lines: list[str] = []
        self.metrics: list[tuple[str, float]] = []
        self.seen = asyncio.Event()
        self.wanted = "READY"

    async def status(
        self,
        secondary: str,
        message: str,
        *,
        failure_reason: str | None = None,
        retryable: bool = False,
    ) -> None:
        self.statuses.append((secondary, failure_reason, retryable))

    async def log(self, line: str, timestamp: float) -> None:
        assert timestamp > 1e9
        self.lines.append(line)
        if line.startswith(self.wanted):
            self.seen.set()

    async def metric(self, name: str, value: float, timestamp: float) -> None:
        self.metrics.append((name, value))

    @property
    def secondaries(self) -> list[str]:
        return [s for s, _, _ in self.statuses]

    @property
    def end(self) -> tuple[str, str | None, bool]:
        return self.statuses[-1]

    def pids(self) -> list[int]:
        return [int(p) for line in self.lines if line.startswith("READY") for p in line.split()[1:]]


def script(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return f"{sys.executable} {path}"


def make_context(tmp_path: Path, **overrides: Any) -> AgentContext:
    settings: dict[str, Any] = {
        "work_dir": tmp_path / "jobs",
        "clock": CLOCK,
        "images": {SGD_IMAGE: f"{sys.executable} {SGD}"},
        "s3_endpoint_url": None,
        "region": "us-east-1",
        "stop_grace_seconds": 1.0,
        "use_mount_namespace": False,
    }
    settings.update(overrides)
    return AgentContext(**settings)


def make_job(tmp_path: Path, name: str, **overrides: Any) -> dict[str, Any]:
    job: dict[str, Any] = {
        "TrainingJobName": name,
        "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}",
        "HyperParameters": {"epochs": "3", "learning_rate": "0.05"},
        "AlgorithmSpecification": {
            "TrainingImage": SGD_IMAGE,
            "TrainingInputMode": "File",
            "MetricDefinitions": [ACCURACY],
        },
        "OutputDataConfig": {"S3OutputPath": (tmp_path / "out").as_uri()},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 120},
    }
    job.update(overrides)
    return job


async def run(job: dict[str, Any], ctx: AgentContext, stop: StopRequest | None = None) -> Recorder:
    recorder = Recorder()
    await run_training_job(job, ctx, recorder, stop or StopRequest())
    return recorder


def members(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive, "r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


@pytest.mark.parametrize("namespace", NAMESPACE_MODES)
async def test_completed_job_reports_metrics_and_uploads_the_model(
    tmp_path: Path, namespace: bool
) -> None:
    ctx = make_context(tmp_path, use_mount_namespace=namespace)
    recorder = await run(make_job(tmp_path, "sgd-ok"), ctx)

    assert recorder.secondaries == ["Downloading", "Training", "Uploading", "Completed"]
    assert recorder.end == ("Completed", None, False)
    accuracy = [v for n, v in recorder.metrics if n == "validation:accuracy"]
    assert len(accuracy) == 3
    assert all(0.5 < v <= 1.0 for v in accuracy)
    assert any(line.startswith("epoch=3 ") for line in recorder.lines)
    model = members(tmp_path / "out" / "sgd-ok" / "output" / "model.tar.gz")
    assert set(model) == {"model.pkl"}
    assert not (tmp_path / "out" / "sgd-ok" / "output" / "output.tar.gz").exists()
    config = tmp_path / "jobs" / "sgd-ok" / "input" / "config" / "hyperparameters.json"
    assert json.loads(config.read_text()) == {"epochs": "3", "learning_rate": "0.05"}


async def test_same_job_twice_is_deterministic(tmp_path: Path) -> None:
    ctx = make_context(tmp_path)
    first = await run(make_job(tmp_path, "sgd-a"), ctx)
    second = await run(make_job(tmp_path, "sgd-b"), ctx)
    assert first.metrics == second.metrics


async def test_failure_file_becomes_the_failure_reason(tmp_path: Path) -> None:
    job = make_job(tmp_path, "sgd-fail", HyperParameters={"fail": "true"})
    recorder = await run(job, make_context(tmp_path))
    assert recorder.secondaries == ["Downloading", "Training", "Failed"]
    assert recorder.end == (
        "Failed",
        "Requested failure: the fail hyperparameter was set to true.",
        False,
    )
    assert not (tmp_path / "out" / "sgd-fail").exists()


async def test_exit_code_and_log_tail_without_failure_file(tmp_path: Path) -> None:
    command = script(tmp_path, "crash.py", "print('about to crash')\nraise SystemExit(3)\n")
    ctx = make_context(tmp_path, images={SCRIPT_IMAGE: command})
    job = make_job(tmp_path, "crash", AlgorithmSpecification={"TrainingImage": SCRIPT_IMAGE})
    recorder = await run(job, ctx)
    status, reason, retryable = recorder.end
    assert (status, retryable) == ("Failed", False)
    assert reason is not None
    assert reason.startswith("AlgorithmError:")
    assert "exit code 3" in reason
    assert reason.endswith("about to crash")


async def test_long_output_is_capped_in_the_reason_and_split_in_the_log(tmp_path: Path) -> None:
    command = script(tmp_path, "loud.py", "print('x' * 200_000)\nraise SystemExit(1)\n")
    ctx = make_context(tmp_path, images={SCRIPT_IMAGE: command})
    job = make_job(tmp_path, "loud", AlgorithmSpecification={"TrainingImage": SCRIPT_IMAGE})
    recorder = await run(job, ctx)
    assert [len(line) for line in recorder.lines] == [65536, 65536, 65536, 3392]
    assert len(recorder.end[1] or "") == 1024


SPAWNER = """
    import os, signal, subprocess, sys, time
    if "--ignore-term" in sys.argv:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    print("READY", os.getpid(), child.pid, flush=True)
    time.sleep(60)
"""


@pytest.mark.parametrize("namespace", NAMESPACE_MODES)
async def test_stop_request_stops_the_whole_process_group(tmp_path: Path, namespace: bool) -> None:
    ctx = make_context(
        tmp_path,
        images={SCRIPT_IMAGE: script(tmp_path, "spawn.py", SPAWNER)},
        use_mount_namespace=namespace,
    )
    job = make_job(tmp_path, "stopped", AlgorithmSpecification={"TrainingImage": SCRIPT_IMAGE})
    stop, recorder = StopRequest(), Recorder()
    task = asyncio.create_task(run_training_job(job, ctx, recorder, stop))
    await asyncio.wait_for(recorder.seen.wait(), 20)
    stop.request("early_stop")
    stop.request("user")
    await asyncio.wait_for(task, 20)
    assert recorder.secondaries == ["Downloading", "Training", "Stopped"]
    assert recorder.end == ("Stopped", None, False)
    pids = recorder.pids()
    assert len(pids) == 2
    assert not any(running(pid) for pid in pids)


async def test_a_program_ignoring_sigterm_is_killed_after_the_grace(tmp_path: Path) -> None:
    command = script(tmp_path, "stubborn.py", SPAWNER) + " --ignore-term"
    ctx = make_context(tmp_path, images={SCRIPT_IMAGE: command}, stop_grace_seconds=0.5)
    job = make_job(tmp_path, "stubborn", AlgorithmSpecification={"TrainingImage": SCRIPT_IMAGE})
    stop, recorder = StopRequest(), Recorder()
    task = asyncio.create_task(run_training_job(job, ctx, recorder, stop))
    await asyncio.wait_for(recorder.seen.wait(), 20)
    started = CLOCK.monotonic()
    stop.request()
    await asyncio.wait_for(task, 20)
    waited = CLOCK.monotonic() - started
    assert 0.5 <= waited < 5
    assert recorder.end == ("Stopped", None, False)
    assert not any(running(pid) for pid in recorder.pids())


async def test_max_runtime_exceeded_stops_the_job(tmp_path: Path) -> None:
    job = make_job(
        tmp_path,
        "too-slow",
        HyperParameters={"epochs": "50", "sleep_per_epoch": "0.2"},
        StoppingCondition={"MaxRuntimeInSeconds": 2},
    )
    started = CLOCK.monotonic()
    recorder = await run(job, make_context(tmp_path))
    assert 2 <= CLOCK.monotonic() - started < 10
    assert recorder.secondaries == ["Downloading", "Training", "MaxRuntimeExceeded"]
    assert recorder.end == ("MaxRuntimeExceeded", None, False)
    assert len(recorder.metrics) < 50


async def test_a_stopped_job_keeps_the_model_it_saved(tmp_path: Path) -> None:
    saver = """
        import os, pathlib, signal, sys, time
        def save(*_):
            pathlib.Path(os.environ["SM_MODEL_DIR"], "partial.txt").write_text("saved")
            sys.exit(0)
        signal.signal(signal.SIGTERM, save)
        print("READY", flush=True)
        time.sleep(60)
    """
    ctx = make_context(tmp_path, images={SCRIPT_IMAGE: script(tmp_path, "saver.py", saver)})
    job = make_job(tmp_path, "saver", AlgorithmSpecification={"TrainingImage": SCRIPT_IMAGE})
    stop, recorder = StopRequest(), Recorder()
    task = asyncio.create_task(run_training_job(job, ctx, recorder, stop))
    await asyncio.wait_for(recorder.seen.wait(), 20)
    stop.request()
    await asyncio.wait_for(task, 20)
    assert recorder.end == ("Stopped", None, False)
    model = members(tmp_path / "out" / "saver" / "output" / "model.tar.gz")
    assert model == {"partial.txt": b"saved"}


TRAIN_PY = """
    import argparse, json, os, pathlib, sys
    import helper  # a sibling module of the entry point
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--optimizer")
    parser.add_argument("-k", type=int)
    args = parser.parse_args()
    report = {
        "argv": sys.argv[1:],
        "cwd": os.getcwd(),
        "hps": json.loads(os.environ["SM_HPS"]),
        "entry": os.environ["SM_USER_ENTRY_POINT"],
        "rows": pathlib.Path(os.environ["SM_CHANNEL_TRAIN"], "rows.csv").read_text(),
        "output": os.environ["SM_OUTPUT_DATA_DIR"],
    }
    pathlib.Path(os.environ["SM_OUTPUT_DATA_DIR"], "report.json").write_text(json.dumps(report))
    print(f"loss={helper.LOSS}", flush=True)
"""


@pytest.mark.parametrize("namespace", NAMESPACE_MODES)
async def test_script_mode_from_a_local_source_dir(tmp_path: Path, namespace: bool) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "train.py").write_text(textwrap.dedent(TRAIN_PY))
    (source / "helper.py").write_text("LOSS = 0.25\n")
    data = tmp_path / "data"
    data.mkdir()
    (data / "rows.csv").write_text("1,2\n")
    job = make_job(
        tmp_path,
        "script",
        AlgorithmSpecification={
            "TrainingImage": PYTORCH_IMAGE,
            "MetricDefinitions": [{"Name": "loss", "Regex": r"loss=(\S+)"}],
        },
        HyperParameters={
            "epochs": "2",
            "optimizer": '"adam"',
            "k": "3",
            "sagemaker_program": '"train.py"',
            "sagemaker_submit_directory": json.dumps(str(source)),
            "_tuning_objective_metric": "loss",
        },
        InputDataConfig=[
            {
                "ChannelName": "train",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": data.as_uri()}},
            }
        ],
    )
    recorder = await run(job, make_context(tmp_path, use_mount_namespace=namespace))
    assert recorder.end == ("Completed", None, False), recorder.lines
    assert recorder.metrics == [("loss", 0.25)]
    output = members(tmp_path / "out" / "script" / "output" / "output.tar.gz")
    report = json.loads(output["report.json"])
    assert report["argv"] == ["--epochs", "2", "-k", "3", "--optimizer", "adam"]
    assert report["hps"] == {"epochs": 2, "k": 3, "optimizer": "adam"}
    assert report["entry"] == "train.py"
    assert report["rows"] == "1,2\n"
    base = "/opt/ml" if namespace else str(tmp_path / "jobs" / "script")
    assert report["cwd"] == f"{base}/code"
    assert report["output"] == f"{base}/output/data"


async def test_unmapped_image_fails_naming_the_fix(tmp_path: Path) -> None:
    job = make_job(
        tmp_path, "unmapped", AlgorithmSpecification={"TrainingImage": "example.com/mine:1"}
    )
    recorder = await run(job, make_context(tmp_path))
    status, reason, retryable = recorder.end
    assert recorder.secondaries == ["Failed"]
    assert (status, retryable) == ("Failed", False)
    assert "--image 'example.com/mine:1=<command>'" in (reason or "")


@pytest.mark.parametrize("channel", ["..", "a/b", "/abs"])
async def test_channel_names_that_escape_reject_the_job(tmp_path: Path, channel: str) -> None:
    source = tmp_path / "d"
    source.mkdir()
    job = make_job(
        tmp_path,
        "escape",
        InputDataConfig=[
            {
                "ChannelName": channel,
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": source.as_uri()}
                },
            }
        ],
    )
    recorder = await run(job, make_context(tmp_path))
    status, reason, retryable = recorder.end
    assert (status, retryable) == ("Failed", False)
    assert "Invalid channel name" in (reason or "")
    assert not (tmp_path / "jobs" / "a").exists()


async def test_our_own_fault_is_a_retryable_internal_error(tmp_path: Path) -> None:
    def broken_uploader(source: Path, uri: str) -> None:
        raise OSError(f"disk on fire under {source.parent} and {tmp_path / 'jobs'}/x")

    recorder = await run(
        make_job(tmp_path, "internal"), make_context(tmp_path, uploader=broken_uploader)
    )
    status, reason, retryable = recorder.end
    assert (status, retryable) == ("Failed", True)
    # the agent's directories never show: the job's reads as /opt/ml, as the contract names it
    assert reason == "InternalServerError: OSError: disk on fire under /opt/ml and x"
    assert recorder.secondaries == ["Downloading", "Training", "Uploading", "Failed"]


async def test_a_stop_before_training_starts_reports_stopped_without_running(
    tmp_path: Path,
) -> None:
    stop = StopRequest()
    stop.request("user")
    recorder = await run(make_job(tmp_path, "early"), make_context(tmp_path), stop)
    assert recorder.secondaries == ["Downloading", "Stopped"]
    assert recorder.lines == []


# ---- S3 through a real (moto) server on 127.0.0.1 ---------------------------------------------


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(s3_endpoint: str) -> Any:
    from agents.channels import s3_client

    client = s3_client(s3_endpoint, "us-east-1")
    client.create_bucket(Bucket="bucket")
    return client


def sourcedir(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
    return buffer.getvalue()


async def test_s3_channels_source_and_artifacts(tmp_path: Path, s3: Any, s3_endpoint: str) -> None:
    s3.put_object(Bucket="bucket", Key="data/train/a.csv", Body=b"1,2\n")
    s3.put_object(Bucket="bucket", Key="data/train/sub/b.csv", Body=b"3,4\n")
    s3.put_object(Bucket="bucket", Key="ckpt/step-1", Body=b"restored")
    train = """
        import os, pathlib
        base = pathlib.Path(os.environ["SM_CHANNEL_TRAIN"])
        files = sorted(str(p.relative_to(base)) for p in base.rglob("*") if p.is_file())
        ckpt = pathlib.Path(os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml"), "checkpoints")
        (ckpt / "step-2").write_text((ckpt / "step-1").read_text() + "+1")
        pathlib.Path(os.environ["SM_MODEL_DIR"], "files.txt").write_text(" ".join(files))
        print("endpoint", os.environ["AWS_ENDPOINT_URL"], flush=True)
    """
    s3.put_object(
        Bucket="bucket",
        Key="code/sourcedir.tar.gz",
        Body=sourcedir({"train.py": textwrap.dedent(train)}),
    )
    job = make_job(
        tmp_path,
        "s3-job",
        AlgorithmSpecification={"TrainingImage": PYTORCH_IMAGE},
        HyperParameters={
            "sagemaker_program": '"train.py"',
            "sagemaker_submit_directory": '"s3://bucket/code/sourcedir.tar.gz"',
        },
        InputDataConfig=[
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/data/train"}
                },
            }
        ],
        OutputDataConfig={"S3OutputPath": "s3://bucket/output/"},
        CheckpointConfig={"S3Uri": "s3://bucket/ckpt"},
    )
    recorder = await run(job, make_context(tmp_path, s3_endpoint_url=s3_endpoint))
    assert recorder.end == ("Completed", None, False), recorder.lines
    assert recorder.lines == [f"endpoint {s3_endpoint}"]
    body = s3.get_object(Bucket="bucket", Key="output/s3-job/output/model.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        files = tar.extractfile("files.txt").read()  # type: ignore[union-attr]
    assert files == b"a.csv sub/b.csv"
    step = s3.get_object(Bucket="bucket", Key="ckpt/step-2")["Body"].read()
    assert step == b"restored+1"


async def test_empty_s3_prefix_and_missing_bucket_fail_as_client_errors(
    tmp_path: Path, s3: Any, s3_endpoint: str
) -> None:
    ctx = make_context(tmp_path, s3_endpoint_url=s3_endpoint)
    for uri, expected in (
        ("s3://bucket/nothing-here", "No S3 objects found under s3://bucket/nothing-here"),
        ("s3://no-such-bucket/data", "NoSuchBucket"),
    ):
        job = make_job(
            tmp_path,
            "no-data",
            InputDataConfig=[
                {
                    "ChannelName": "train",
                    "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri}},
                }
            ],
        )
        recorder = await run(job, ctx)
        status, reason, retryable = recorder.end
        assert (status, retryable) == ("Failed", False)
        assert expected in (reason or "")


async def test_missing_output_bucket_is_a_client_error_naming_no_local_path(
    tmp_path: Path, s3: Any, s3_endpoint: str
) -> None:
    job = make_job(tmp_path, "no-out", OutputDataConfig={"S3OutputPath": "s3://no-such-bucket/out"})
    recorder = await run(job, make_context(tmp_path, s3_endpoint_url=s3_endpoint))
    status, reason, retryable = recorder.end
    assert (status, retryable) == ("Failed", False)
    assert reason == (
        "ClientError: Artifact upload failed:Unable to upload file to "
        "s3://no-such-bucket/out/no-out/output/model.tar.gz "
        "(NoSuchBucket: The specified bucket does not exist)"
    )
    assert recorder.secondaries[-2:] == ["Uploading", "Failed"]


async def test_s3_keys_escaping_the_channel_reject_the_job(
    tmp_path: Path, s3: Any, s3_endpoint: str
) -> None:
    s3.put_object(Bucket="bucket", Key="evil/../../escape.txt", Body=b"x")
    job = make_job(
        tmp_path,
        "evil",
        InputDataConfig=[
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/evil/"}
                },
            }
        ],
    )
    recorder = await run(job, make_context(tmp_path, s3_endpoint_url=s3_endpoint))
    status, reason, retryable = recorder.end
    assert (status, retryable) == ("Failed", False)
    assert "refusing path" in (reason or "")
    assert not (tmp_path / "jobs" / "evil" / "escape.txt").exists()
    assert not (tmp_path / "jobs" / "escape.txt").exists()
    assert os.listdir(tmp_path / "jobs" / "evil" / "input" / "data" / "train") == []


class FailingLog(Recorder):
    async def log(self, line: str, timestamp: float) -> None:
        await super().log(line, timestamp)
        raise ConnectionError("bus unreachable")


async def test_a_reporter_that_cannot_publish_fails_the_job_for_a_retry(tmp_path: Path) -> None:
    ctx = make_context(tmp_path, images={SCRIPT_IMAGE: script(tmp_path, "spawn.py", SPAWNER)})
    job = make_job(tmp_path, "no-bus", AlgorithmSpecification={"TrainingImage": SCRIPT_IMAGE})
    recorder = FailingLog()
    await asyncio.wait_for(run_training_job(job, ctx, recorder, StopRequest()), 20)
    assert recorder.end == ("Failed", "InternalServerError: ConnectionError: bus unreachable", True)
    assert not any(running(pid) for pid in recorder.pids())


AGENT = """
    import asyncio, sys
    from pathlib import Path
    from agents.runner import AgentContext, StopRequest, run_training_job
    from emulator.clock import SystemClock

    class Quiet:
        async def status(self, *args, **kwargs): pass
        async def log(self, line, timestamp): print(line, flush=True)
        async def metric(self, *args): pass

    ctx = AgentContext(work_dir=Path(sys.argv[1]), clock=SystemClock(),
                       images={"img": sys.argv[2]}, use_mount_namespace=False)
    job = {"TrainingJobName": "orphan", "AlgorithmSpecification": {"TrainingImage": "img"}}
    asyncio.run(run_training_job(job, ctx, Quiet(), StopRequest()))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PDEATHSIG is Linux-only")
async def test_the_program_dies_with_a_killed_agent(tmp_path: Path) -> None:
    program = script(tmp_path, "spawn.py", SPAWNER)
    agent = tmp_path / "agent.py"
    agent.write_text(textwrap.dedent(AGENT))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(agent),
        str(tmp_path / "jobs"),
        program,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 20)
    pid = int(line.split()[1])
    assert running(pid)
    process.kill()
    await process.wait()
    for _ in range(100):
        if not running(pid):
            break
        await CLOCK.sleep(0.05)
    assert not running(pid)
