"""What the API handlers and the control plane work with: the store, the bus, the clock, the
settings, the job records, and the account and region a request acts in (`for_scope`: a copy
per request). Below the HTTP edge, so the control plane and the console need no part of it.

`CONTEXT` is the key under which the app holds the server's one context."""

from __future__ import annotations

from dataclasses import dataclass, replace

from aiohttp import web

from emulator.bus.base import Bus
from emulator.clock import Clock
from emulator.domain.events import CONTROL_TOPIC, ControlCommand
from emulator.domain.jobs import TrainingJob, TuningJob
from emulator.errors import ResourceNotFound, ValidationException
from emulator.ids import Scope, scope_of_arn
from emulator.records import JobRecords
from emulator.settings import Settings
from emulator.store.sqlite import Store


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

    async def command(self, action: str, name: str) -> None:
        """Tell the control plane (tuner, scheduler) that something needs its attention."""
        event = ControlCommand(ts=self.clock.now(), action=action, name=name)
        await self.bus.publish(CONTROL_TOPIC, event)


def missing_tuning_job(name: str) -> ResourceNotFound:
    return ResourceNotFound(
        f"Amazon SageMaker can't find a tuning job called {name}. Type another name."
    )


CONTEXT = web.AppKey("context", ApiContext)
