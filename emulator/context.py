"""What the API handlers and the control plane work with: the store, the bus, the clock, the
settings, the job records, the control plane's inbox, and the account and region a request
acts in (`for_scope`: a copy per request). Below the HTTP edge, so the control plane and the
console need no part of it.

`CONTEXT` is the key under which the app holds the server's one context."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace

from aiohttp import web

from emulator.bus.base import Bus
from emulator.clock import Clock
from emulator.domain.commands import Command
from emulator.domain.jobs import TrainingJob, TuningJob
from emulator.errors import ResourceNotFound, ValidationException
from emulator.ids import Scope, scope_of_arn
from emulator.records import JobRecords
from emulator.settings import Settings
from emulator.store.sqlite import Store


class ControlInbox:
    """Commands from the HTTP edge to the control plane, in the order sent.

    The edge and the control plane share one process and one event loop, so a request's
    command is a queue entry, not a bus message: the bus carries what crosses processes."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[Command] = asyncio.Queue()
        self._unfinished = 0

    def send(self, command: Command) -> None:
        self._unfinished += 1
        self._queue.put_nowait(command)

    async def next(self) -> Command:
        """The oldest command; call `done` once it has been carried out."""
        return await self._queue.get()

    def done(self) -> None:
        self._unfinished -= 1

    def idle(self) -> bool:
        """Nothing sent is waiting or being carried out."""
        return self._unfinished == 0


@dataclass
class ApiContext:
    """The server's long-lived parts, seen from one request's account and region."""

    settings: Settings
    store: Store
    bus: Bus
    clock: Clock
    records: JobRecords
    request_scope: Scope | None = None
    """The request's account and region (`for_scope`); None: the server's defaults."""
    inbox: ControlInbox = field(default_factory=ControlInbox)
    """Shared by every per-request copy: the control plane takes the commands from it."""

    @property
    def scope(self) -> Scope:
        """Where this context acts: the request's account and region, else the server's."""
        return self.request_scope or self.default_scope

    @property
    def default_scope(self) -> Scope:
        return Scope(account=self.settings.account, region=self.settings.region)

    def for_scope(self, scope: Scope) -> ApiContext:
        return replace(self, request_scope=scope)

    def owns(self, arn: str) -> bool:
        """Whether a resource ARN is in the request's account and region (others are not
        there, for this request, as on AWS)."""
        return scope_of_arn(arn, self.scope) == self.scope

    def find_tuning(self, name: str) -> TuningJob | None:
        job = self.store.get_tuning_job(name)
        return job if job and self.owns(job.arn) else None

    def find_training(self, name: str) -> TrainingJob | None:
        job = self.store.get_training_job(name)
        return job if job and self.owns(job.arn) else None

    def tuning_row(self, name: str) -> TuningJob:
        row = self.find_tuning(name)
        if row is None:
            raise missing_tuning_job(name)
        return row

    def training_row(self, name: str) -> TrainingJob:
        row = self.find_training(name)
        if row is None:
            raise ValidationException("Requested resource not found.")
        return row

    def send(self, command: Command) -> None:
        """Tell the control plane (tuner, scheduler) that a job needs its attention."""
        self.inbox.send(command)


def missing_tuning_job(name: str) -> ResourceNotFound:
    return ResourceNotFound(
        f"Amazon SageMaker can't find a tuning job called {name}. Type another name."
    )


CONTEXT = web.AppKey("context", ApiContext)
