"""The one driver of jobs' lives, shared by the server and the simulator.

Whatever reports a training job's progress — an agent over the bus, or the simulator's event
heap — hands it here: a status change is applied to the store and, once the job has ended,
its tuning job is brought up to date; a new metric point is judged by early stopping. The
tuner answers with commands (`domain.commands`), which this driver carries out through an
`Executor`: the server's scheduler (agents, over the bus) or the simulator's engine (its heap).
The two differ only there and in their clocks; every rule of a job's life is applied by the
same code.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from emulator.domain.commands import Command, Launch, Refresh, Stop, TuningEnded
from emulator.domain.events import TrainingStatus
from emulator.domain.jobs import TrainingJob
from emulator.domain.status import TERMINAL_TRAINING
from emulator.ingest import Ingest, StoredPoint
from emulator.tuner.service import TunerService
from emulator.tuner.suggestion import SuggestionAnswer, SuggestionRequest


class Executor(Protocol):
    """Where training jobs run, seen from the driver."""

    async def launch(self, jobs: list[str]) -> None:
        """New training jobs (InProgress, nowhere yet): start them when there is room."""

    async def stop(self, job: str) -> TrainingJob | None:
        """Stop a job (already `Stopping` in the store); the job, if that ended it at once."""

    async def freed(self) -> None:
        """Training jobs ended: their room is free for waiting ones."""

    async def tuning_ended(self, ended: TuningEnded) -> None:
        """A tuning job reached its end."""


class Lifecycle:
    """Applies reports, asks the tuner, carries out its commands; see the module docstring."""

    def __init__(self, ingest: Ingest, tuner: TunerService, executor: Executor) -> None:
        self.ingest = ingest
        self.tuner = tuner
        self.executor = executor

    async def status(self, event: TrainingStatus) -> TrainingJob | None:
        """Apply a status report; the job when it moved (None: a repeat, or refused)."""
        job = self.ingest.status(event)
        if job is not None and job.status in TERMINAL_TRAINING:
            await self.ended([job])
        return job

    async def judge(self, point: StoredPoint) -> None:
        """A new metric point: early stopping (Auto) or Hyperband may stop its job."""
        event = point.event
        await self.apply(self.tuner.on_metric(point.job, event.name, point.step, event.value))

    async def ended(self, jobs: Iterable[TrainingJob]) -> None:
        """Training jobs ended (reported, lost, or stopped before they ran): their tuning jobs
        go on, once each, and their room goes to waiting jobs."""
        tunings = {job.tuning_job for job in jobs if job.tuning_job}
        for name in sorted(tunings):
            await self.apply(self.tuner.on_tuning_changed(name))
        await self.executor.freed()

    async def answered(self, answer: SuggestionAnswer) -> None:
        """Suggestions computed elsewhere came back: their training jobs start (or the answer
        is dropped, when its tuning job no longer wants it)."""
        await self.apply(self.tuner.on_suggestions(answer))

    async def unanswered(self, request: SuggestionRequest, reason: str) -> None:
        """No worker could answer a request: its tuning job fails with `reason`."""
        await self.apply(self.tuner.on_suggestions_failed(request, reason))

    async def tick(self) -> None:
        """Time-based rules (a tuning job's MaxRuntimeInSeconds)."""
        await self.apply(self.tuner.tick())

    async def resume(self) -> None:
        """After a restart: every unfinished tuning job goes on from what the store holds."""
        await self.apply(self.tuner.resume())

    async def apply(self, commands: Iterable[Command]) -> None:
        """Carry out commands in order; consecutive launches go to the executor together."""
        launches: list[str] = []
        for command in commands:
            if isinstance(command, Launch):
                launches.append(command.job)
                continue
            if launches:
                await self.executor.launch(launches)
                launches = []
            if isinstance(command, Stop):
                stopped = await self.executor.stop(command.job)
                if stopped is not None:
                    await self.ended([stopped])
            elif isinstance(command, Refresh):
                await self.apply(self.tuner.on_tuning_changed(command.tuning_job))
            else:
                await self.executor.tuning_ended(command)
        if launches:
            await self.executor.launch(launches)
