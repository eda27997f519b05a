"""One training job from assignment to its end, as SageMaker runs it:

    Downloading (contract files, input channels, source code) → Training (the process, its log
    lines and metric points) → Uploading (model.tar.gz, output.tar.gz) → Completed
    or Failed (FailureReason) / Stopped / MaxRuntimeExceeded.

`run_training_job` never raises for a job-level problem: every outcome is exactly one terminal
status reported through the `JobReporter`. Our own faults become a retryable Failed whose reason
starts with `InternalServerError:`, so a tuning job replaces the job.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from agents import artifacts, channels, contract, images
from agents.metrics import MetricExtractor
from agents.runtime import process
from emulator.clock import Clock

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
    ) -> None: ...

    async def log(self, line: str, timestamp: float) -> None: ...

    async def metric(self, name: str, value: float, timestamp: float) -> None: ...


@dataclass(frozen=True)
class AgentContext:
    work_dir: Path
    clock: Clock
    images: Mapping[str, str] = field(default_factory=dict)
    s3_endpoint_url: str | None = None
    region: str = "us-east-1"
    stop_grace_seconds: float = 30.0
    num_gpus: int = 0
    gpu_ids: tuple[int, ...] = ()
    num_cpus: int = field(default_factory=lambda: os.cpu_count() or 1)
    use_mount_namespace: bool | None = None
    python: str = sys.executable


class StopRequest:
    """Set by the agent when a stop arrives; the first reason wins."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self._event = asyncio.Event()

    def request(self, reason: str = "user") -> None:
        if self.reason is None:
            self.reason = reason
            self._event.set()

    async def wait(self) -> str:
        await self._event.wait()
        return self.reason or "user"


class JobFailed(Exception):
    """A client-side problem: the job fails, not retryable, with this reason."""


async def run_training_job(
    job: Mapping[str, Any], ctx: AgentContext, reporter: JobReporter, stop: StopRequest
) -> None:
    try:
        await _run(job, ctx, reporter, stop)
    except (JobFailed, images.ImageError, channels.UnsafePath, ValueError) as error:
        await reporter.status(
            "Failed", "Training job failed", failure_reason=str(error)[:MAX_FAILURE]
        )
    except asyncio.CancelledError:
        raise
    except Exception as error:
        log.exception("training job %s failed inside the agent", job.get("TrainingJobName"))
        reason = f"InternalServerError: {type(error).__name__}: {error}"[:MAX_FAILURE]
        await reporter.status(
            "Failed", "Training job failed", failure_reason=reason, retryable=True
        )


async def _run(
    job: Mapping[str, Any], ctx: AgentContext, reporter: JobReporter, stop: StopRequest
) -> None:
    plan = images.plan(job, ctx.images, ctx.python)
    extractor = MetricExtractor.from_definitions(
        job.get("AlgorithmSpecification", {}).get("MetricDefinitions", [])
    )
    host_dir = ctx.work_dir / job["TrainingJobName"]
    namespace = (
        process.mount_namespace_available()
        if ctx.use_mount_namespace is None
        else ctx.use_mount_namespace
    )
    layout = contract.JobLayout(host_dir, Path("/opt/ml") if namespace else host_dir)
    await reporter.status("Downloading", "Downloading input data")
    client = channels.s3_client(ctx.s3_endpoint_url, ctx.region)
    await asyncio.to_thread(_prepare, job, layout, plan, client)
    if stop.reason:
        await reporter.status(*_stopped(stop.reason))
        return
    env = contract.environment(
        layout,
        job,
        num_gpus=ctx.num_gpus,
        gpu_ids=ctx.gpu_ids,
        num_cpus=ctx.num_cpus,
        region=ctx.region,
        endpoint_url=ctx.s3_endpoint_url,
        entry_point=plan.program,
        user_args=plan.argv[2:] if plan.script_mode else [],
    )
    cwd = layout.seen("code") if plan.script_mode else str(Path.cwd())
    argv = process.in_mount_namespace(plan.argv, host_dir, cwd) if namespace else plan.argv
    tail: list[str] = []

    async def on_line(line: str) -> None:
        now = ctx.clock.now()
        tail.append(line)
        del tail[:-LOG_TAIL]
        await reporter.log(line, now)
        found, rejected = extractor.extract(line)
        for name, value in found:
            await reporter.metric(name, value, now)
        for name in rejected:
            await reporter.log(f"[amt] metric {name}: value is not a finite number, skipped", now)

    await reporter.status("Training", "Training image download completed. Training in progress.")
    limit = float(job.get("StoppingCondition", {}).get("MaxRuntimeInSeconds", 86400))
    outcome = await process.run(
        argv,
        env=env,
        cwd=host_dir if namespace else Path(cwd),
        on_line=on_line,
        stop=stop.wait,
        max_runtime=limit,
        grace=ctx.stop_grace_seconds,
        clock=ctx.clock,
    )
    if outcome.stopped:
        await _upload_if_any(client, job, host_dir)
        await reporter.status(*_stopped(outcome.stopped))
    elif outcome.exit_code == 0:
        await reporter.status("Uploading", "Uploading generated training model")
        await asyncio.to_thread(artifacts.upload_outputs, client, dict(job), host_dir)
        await reporter.status("Completed", "Training job completed")
    else:
        reason = _failure_reason(host_dir, outcome.exit_code, tail)
        await reporter.status("Failed", "Training job failed", failure_reason=reason)


def _prepare(
    job: Mapping[str, Any], layout: contract.JobLayout, plan: images.Plan, client: Any
) -> None:
    contract.prepare(layout, job)
    channels.fetch_channels(job, layout.host("input", "data"), client)
    if plan.script_mode and plan.submit_directory:
        channels.fetch_source(plan.submit_directory, layout.host("code"), client)


async def _upload_if_any(client: Any, job: Mapping[str, Any], host_dir: Path) -> None:
    """A stopped job keeps what it saved, as SageMaker uploads a stopped job's model."""
    if any((host_dir / "model").rglob("*")):
        await asyncio.to_thread(artifacts.upload_outputs, client, dict(job), host_dir)


def _stopped(reason: str) -> tuple[str, str]:
    if reason == "max_runtime":
        return "MaxRuntimeExceeded", "Training job exceeded MaxRuntimeInSeconds and was stopped"
    return "Stopped", f"Training job stopped ({reason})"


def _failure_reason(host_dir: Path, exit_code: int | None, tail: list[str]) -> str:
    failure = host_dir / "output" / "failure"
    if failure.is_file():
        text = failure.read_text(errors="replace").strip()
        if text:
            return text[:MAX_FAILURE]
    detail = "\n".join(tail[-5:])
    oom = " (killed by SIGKILL: out of memory?)" if exit_code in (-9, 137) else ""
    reason = f"AlgorithmError: the training program exited with code {exit_code}{oom}."
    return f"{reason} Last output:\n{detail}"[:MAX_FAILURE]
