"""A reset for test suites: `POST /_emulator/reset`, and moto's `POST /moto-api/reset` too.

What a suite sharing one server needs between tests: an emulator as new. Running tuning and
training jobs are stopped first, through the same path as StopHyperParameterTuningJob and
StopTrainingJob (their programs get SIGTERM, then SIGKILL after the grace period), and their
end awaited; then every stored job, metric point and tag, every moto resource (S3 buckets and
objects with their copy on disk, CloudWatch logs and metrics, IAM, STS), the in-process
agents' job directories and the job log files are removed, and the control plane forgets what
it cached about jobs. Settings, agents and the bus stay as they are.

A job whose agent does not confirm its stop within the grace period plus `STOP_MARGIN_SECONDS`
(a remote agent gone silent) is removed all the same, and named in the answer's `unconfirmed`.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

from aiohttp import web

from emulator.api import training_jobs, tuning_jobs
from emulator.api.aws_services import AWS
from emulator.api.keys import RESET_HOOKS
from emulator.context import CONTEXT, ApiContext
from emulator.domain.status import ACTIVE_TRAINING, ACTIVE_TUNING
from emulator.errors import EmulatorError
from emulator.ids import scope_of_arn

log = logging.getLogger(__name__)

STOP_MARGIN_SECONDS = 10.0
POLL_SECONDS = 0.05


async def reset(request: web.Request) -> web.Response:
    app = request.app
    ctx: ApiContext = app[CONTEXT]
    unconfirmed = await stop_everything(ctx)
    ctx.store.clear()
    app[AWS].reset()
    for hook in app[RESET_HOOKS]:
        hook()
    for directory in (ctx.settings.jobs_dir, ctx.settings.data_dir / "logs"):
        _empty(directory)
    log.info("reset: every job, AWS resource and job directory removed")
    body: dict[str, Any] = {"status": "ok", "unconfirmed": unconfirmed}
    return web.json_response(body)


async def stop_everything(ctx: ApiContext) -> list[str]:
    """Stop every running tuning and training job; the names of those whose stop was not
    confirmed in time."""
    for tuning in ctx.store.tuning_jobs(statuses=("InProgress",)):
        await _stop(
            ctx,
            tuning.arn,
            tuning_jobs.stop_tuning_job,
            {"HyperParameterTuningJobName": tuning.name},
        )
    for training in ctx.store.training_jobs(statuses=("InProgress",)):
        await _stop(
            ctx,
            training.arn,
            training_jobs.stop_training_job,
            {"TrainingJobName": training.name},
        )
    deadline = ctx.clock.monotonic() + ctx.settings.stop_grace_seconds + STOP_MARGIN_SECONDS
    while True:
        running = [j.name for j in ctx.store.training_jobs(statuses=ACTIVE_TRAINING)]
        running += [j.name for j in ctx.store.tuning_jobs(statuses=ACTIVE_TUNING)]
        if not running or ctx.clock.monotonic() >= deadline:
            if running:
                log.warning("reset: no stop confirmed for %s; removing them anyway", running)
            return running
        await ctx.clock.sleep(POLL_SECONDS)


async def _stop(ctx: ApiContext, arn: str, stop: Any, params: dict[str, Any]) -> None:
    try:
        await stop(ctx.for_scope(scope_of_arn(arn, ctx.default_scope)), params)
    except EmulatorError as error:  # ended meanwhile
        log.debug("reset: %s not stopped: %s", params, error.message)


def _empty(directory: Path) -> None:
    if not directory.is_dir():
        return
    for entry in directory.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
