"""One training job from assignment to its end, as SageMaker runs it:

    Downloading (contract files, input channels, checkpoints, source code)
    → Training (the program; its log lines and metric points)
    → Uploading (model.tar.gz, output.tar.gz, checkpoints)
    → Completed | Failed (FailureReason) | Stopped | MaxRuntimeExceeded

`run_training_job` never raises for a job-level problem: every outcome is exactly one terminal
status reported through the `JobReporter`. The job's own problems (`contract.ClientError`:
request, data, image map) fail it for good; our own faults become a retryable Failed whose
reason starts with `InternalServerError:`, so a tuning job replaces the job.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from agents import artifacts, channels, contract, images
from agents.artifacts import Uploader
from agents.contract import ClientError, HostResources, JobLayout
from agents.metrics import MetricExtractor
from agents.runtime.base import MAX_RUNTIME, Launch, Outcome, Runtime
from agents.runtime.choice import runs_in_container
from agents.runtime.container import ContainerRuntime, ContainerSpec, Engine
from agents.runtime.process import ProcessRuntime
from emulator.clock import Clock
from emulator.domain.builtin import metric_definitions_for
from emulator.domain.documents import DEFAULT_MAX_RUNTIME

log = logging.getLogger(__name__)

MAX_FAILURE = 1024
LOG_TAIL = 20


class JobReporter(Protocol):
    async def status(
        self,
        secondary: str,
        message: str,
        *,
        failure_reason: str | None = None,
        retryable: bool = False,
    ) -> None:
        """secondary: Downloading, Training, Uploading (progress), then exactly one of
        Completed, Failed, Stopped, MaxRuntimeExceeded."""
        ...

    async def log(self, line: str, timestamp: float) -> None: ...

    async def metric(self, name: str, value: float, timestamp: float) -> None: ...


@dataclass(frozen=True)
class AgentContext:
    work_dir: Path
    """Jobs live in work_dir/<TrainingJobName>/ (each job's /opt/ml)."""
    clock: Clock
    images: Mapping[str, str] = field(default_factory=dict)
    """Image URI (or fnmatch glob) → shell command line, from --image / --config."""
    s3_endpoint_url: str | None = None
    """Our own endpoint (moto S3 behind it); None = AWS's default."""
    region: str = "us-east-1"
    stop_grace_seconds: float = 30.0
    num_gpus: int = 0
    gpu_ids: tuple[int, ...] = ()
    num_cpus: int = field(default_factory=lambda: os.cpu_count() or 1)
    use_mount_namespace: bool | None = None
    """None = when possible (root on Linux and `unshare` works)."""
    python: str = sys.executable
    """Interpreter for framework script mode."""
    uploader: Uploader | None = None
    """None = boto3 on s3_endpoint_url for s3:// (a copy for file://)."""
    runtime: Runtime | None = None
    """None = a ProcessRuntime honouring use_mount_namespace."""
    credentials: tuple[str, str] = ("amt-emulator", "amt-emulator")
    """(access key, secret) the agent and its training programs sign requests to us with."""
    runtime_kind: str = "process"
    """"process", "container" (each job's TrainingImage in a container of its own) or "auto"
    (a container when the engine holds the image); see agents.runtime.container."""
    engine: Engine | None = None
    """The container engine that answered; None: every job runs as a process."""


class StopRequest:
    """Set by the orchestrator when a job must stop; the runner watches it.
    Reasons: "user" (StopTrainingJob), "early_stop", "shutdown"; the first one wins."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self._event = asyncio.Event()

    def request(self, reason: str = "user") -> None:
        if self.reason is None:
            self.reason = reason
            self._event.set()

    async def wait(self) -> str:
        await self._event.wait()
        assert self.reason is not None
        return self.reason


@dataclass(frozen=True)
class Terminal:
    """The one final status of a job."""

    secondary: str
    message: str
    failure_reason: str | None = None
    retryable: bool = False


async def run_training_job(
    job: Mapping[str, Any], ctx: AgentContext, reporter: JobReporter, stop: StopRequest
) -> None:
    """Run `job` (DescribeTrainingJob-shaped) to its end and report every step of it."""
    try:
        container = await runs_in_container(ctx.runtime_kind, ctx.engine, job, ctx.clock)
        end = await _Attempt(job, ctx, reporter, stop, container).run()
    except ClientError as error:
        end = _failed(str(error))
    except Exception as error:
        log.exception("training job %s failed inside the agent", job.get("TrainingJobName"))
        end = _failed(f"InternalServerError: {type(error).__name__}: {error}", retryable=True)
    reason = end.failure_reason and without_local_paths(end.failure_reason, ctx.work_dir, job)
    await reporter.status(
        end.secondary, end.message, failure_reason=reason, retryable=end.retryable
    )


def without_local_paths(text: str, work_dir: Path, job: Mapping[str, Any]) -> str:
    """A FailureReason as the job sees its world: the agent's own directories never show.

    The job's directory reads as `/opt/ml` (the path the container contract gives it), and any
    other path under the agent's work directory as relative to it (the directory itself `.`).
    """
    name = str(job.get("TrainingJobName", ""))
    for root in sorted({str(work_dir), str(work_dir.resolve())}, key=len, reverse=True):
        if name:
            text = text.replace(f"{root}/{name}", "/opt/ml")
        text = text.replace(f"{root}/", "").replace(root, ".")
    return text[:MAX_FAILURE]


class _Attempt:
    """One run of one job: what the steps share, and the steps themselves."""

    def __init__(
        self,
        job: Mapping[str, Any],
        ctx: AgentContext,
        reporter: JobReporter,
        stop: StopRequest,
        container: bool = False,
    ) -> None:
        spec = job.get("AlgorithmSpecification") or {}
        self.job, self.ctx, self.reporter, self.stop = job, ctx, reporter, stop
        self.runtime: Runtime
        if container and ctx.engine is not None:
            # The image runs its own program: no --image mapping, no script-mode plan.
            self.plan = images.Plan([])
            owner = str(ctx.work_dir.absolute())
            self.runtime = ContainerRuntime(
                ContainerSpec.from_job(job, ctx.gpu_ids, owner), engine=ctx.engine
            )
        else:
            self.plan = images.plan(job, ctx.images, ctx.python)
            self.runtime = ctx.runtime or ProcessRuntime(ctx.use_mount_namespace)
        # A built-in algorithm's official metric definitions apply when the request has none.
        definitions = metric_definitions_for(spec, self.plan.program or None)
        self.extractor = MetricExtractor.from_definitions(definitions)
        self.host_dir = contract.job_dir(ctx.work_dir, job)
        self.tail: deque[str] = deque(maxlen=LOG_TAIL)

    async def run(self) -> Terminal:
        layout = JobLayout(self.host_dir, await self.runtime.container_dir(self.host_dir))
        await self.reporter.status("Downloading", "Downloading input data")
        client = await asyncio.to_thread(
            channels.s3_client,
            self.ctx.s3_endpoint_url,
            contract.job_region(self.job, self.ctx.region),
            self.ctx.credentials,
            contract.job_account(self.job),
        )
        await asyncio.to_thread(self.prepare, layout, client)
        upload = self.ctx.uploader or artifacts.uri_uploader(client)
        if self.stop.reason is not None:
            return _stopped(self.stop.reason)
        outcome = await self.train(layout)
        return await self.finish(outcome, upload)

    def prepare(self, layout: JobLayout, client: Any) -> None:
        """Blocking: the directory, config files, input data, checkpoints and user code."""
        plan = self.plan
        contract.prepare(layout, self.job)
        channels.fetch_channels(self.job, layout.host("input", "data"), client)
        channels.fetch_checkpoints(self.job, layout.host("checkpoints"), client)
        if plan.script_mode and plan.submit_directory:
            channels.fetch_source(plan.submit_directory, layout.host("code"), client)
        if plan.script_mode and not plan.program.endswith(".py"):
            program = channels.safe_join(layout.host("code"), plan.program)
            if program.is_file():
                program.chmod(0o755)  # as the toolkit does before `./<program>`

    async def train(self, layout: JobLayout) -> Outcome:
        """Start the program and forward its lines (log, metrics) until it ends or stops."""
        ctx, plan = self.ctx, self.plan
        env = contract.environment(
            layout,
            self.job,
            HostResources(ctx.num_cpus, ctx.num_gpus, ctx.gpu_ids),
            region=ctx.region,
            endpoint_url=ctx.s3_endpoint_url,
            credentials=ctx.credentials,
            entry_point=plan.program,
            module_dir=plan.submit_directory,
        )
        # Script mode starts in code/, as the toolkit; a mapped command where the server runs.
        cwd = layout.seen("code") if plan.script_mode else str(Path.cwd())
        condition = self.job.get("StoppingCondition") or {}
        limit = float(condition.get("MaxRuntimeInSeconds", DEFAULT_MAX_RUNTIME))
        await self.reporter.status(
            "Training", "Training image download completed. Training in progress."
        )
        return await self.runtime.run(
            Launch(plan.argv, env, cwd, layout.host_dir),
            on_line=self.on_line,
            stop=self.stop.wait,
            max_runtime=limit,
            grace=ctx.stop_grace_seconds,
            clock=ctx.clock,
        )

    async def on_line(self, line: str) -> None:
        now = self.ctx.clock.now()
        self.tail.append(line)
        await self.reporter.log(line, now)
        points, skipped = self.extractor.scan(line)
        for name, value in points:
            await self.reporter.metric(name, value, now)
        for name, text in skipped:
            await self.reporter.log(
                f"[amt] metric {name}: {text!r} is not a finite number; skipped", now
            )

    async def finish(self, outcome: Outcome, upload: Uploader) -> Terminal:
        """Upload what the outcome calls for and name the terminal status."""
        if outcome.exit_code == 0 and outcome.stopped is None:
            await self.reporter.status("Uploading", "Uploading generated training model")
            await asyncio.to_thread(self.save, upload, True)
            return Terminal("Completed", "Training job completed")
        if outcome.stopped is not None:
            # As SageMaker, a stopped job keeps the model it saved during the grace period.
            await self.save_quietly(upload, artifacts.model_saved(self.host_dir))
            return _stopped(outcome.stopped)
        await self.save_quietly(upload, False)
        return _failed(failure_reason(self.host_dir, outcome.exit_code, self.tail))

    def save(self, upload: Uploader, model: bool) -> None:
        """Blocking: checkpoints (always: SageMaker syncs them), the tarballs if `model`."""
        artifacts.upload_checkpoints(upload, self.job, self.host_dir)
        if model:
            artifacts.upload_outputs(upload, self.job, self.host_dir)

    async def save_quietly(self, upload: Uploader, model: bool) -> None:
        """Saving after a stop or a failure must not change how the job ended."""
        try:
            await asyncio.to_thread(self.save, upload, model)
        except Exception:
            name = self.job.get("TrainingJobName")
            log.warning("saving the artifacts of %s failed", name, exc_info=True)


def _stopped(reason: str) -> Terminal:
    if reason == MAX_RUNTIME:
        return Terminal(
            "MaxRuntimeExceeded", "Training job exceeded MaxRuntimeInSeconds and was stopped"
        )
    return Terminal("Stopped", f"Training job stopped ({reason})")


def _failed(reason: str, *, retryable: bool = False) -> Terminal:
    return Terminal("Failed", "Training job failed", reason[:MAX_FAILURE], retryable)


def failure_reason(host_dir: Path, exit_code: int | None, tail: deque[str]) -> str:
    """The first 1024 characters of output/failure, else the exit code and the log's end."""
    failure = host_dir / "output" / "failure"
    if failure.is_file():
        text = failure.read_text(errors="replace").strip()
        if text:
            return text[:MAX_FAILURE]
    killed = " (SIGKILL: out of memory?)" if exit_code in (-9, 137) else ""
    head = f"AlgorithmError: the training program failed, exit code {exit_code}{killed}."
    if not tail:
        return head
    room = MAX_FAILURE - len(head) - len(" Last output:\n")
    return f"{head} Last output:\n" + "\n".join(tail)[-room:]
