"""A stored job: the AWS Describe document as stored, and our bookkeeping beside it as typed
fields (which tuning job launched a training job, where it runs, why it stopped; how far a
tuning job has got). The store turns these into its rows and back; nobody else sees how."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from emulator.domain.status import TUNING_PUBLIC, TuningState


@dataclass
class TrainingJob:
    """A training job: standalone (no `tuning_job`), or a child of a tuning job."""

    doc: dict[str, Any]
    tuning_job: str | None = None
    """The tuning job that launched it."""
    tuned: dict[str, str] = field(default_factory=dict)
    """The hyperparameters its tuning job chose (the static ones are in the document)."""
    objective: dict[str, Any] = field(default_factory=dict)
    """Its tuning job's objective ({"Type", "MetricName"}), as its definition says."""
    definition: str | None = None
    """The DefinitionName of the training job definition it was launched from."""
    early_stopping: bool | None = None
    """Whether the tuner judges its objective points (None: launched before this was kept;
    the tuning job's configuration decides)."""
    attempt: int = 1
    """1, or more for a replacement of a job lost to an internal error."""
    max_attempts: int | None = None
    """Its definition's attempts (None: launched before this was kept, the default applies)."""
    replaced_by: str | None = None
    """The training job launched in place of this one, lost to an internal error."""
    agent: str | None = None
    """The agent it was assigned to (None: waiting for one)."""
    assigned_at: float = 0.0
    """When that assignment was sent."""
    objective_value: float | None = None
    """The latest value of its objective metric."""
    stop_reason: str | None = None
    """Why a stop was asked for: user, early_stop, tuning_job_ended."""
    retryable: bool = False
    """It failed for a reason the tuning job retries (an internal error)."""
    early_stopped: bool = False
    """It ended Stopped by early stopping."""

    @property
    def name(self) -> str:
        return str(self.doc["TrainingJobName"])

    @property
    def arn(self) -> str:
        return str(self.doc["TrainingJobArn"])

    @property
    def status(self) -> str:
        """TrainingJobStatus: InProgress, Stopping, Completed, Failed, Stopped."""
        return str(self.doc["TrainingJobStatus"])

    def take(self, fresh: TrainingJob) -> None:
        """Adopt a fresher copy's state in place, so every holder of this object sees it."""
        for each in fields(self):
            setattr(self, each.name, getattr(fresh, each.name))


@dataclass
class TuningJob:
    """A tuning job. Its public HyperParameterTuningJobStatus follows from `state` (see
    `domain.status.move_tuning`, the one way either changes)."""

    doc: dict[str, Any]
    state: TuningState = "InProgress"
    launched: int = 0
    """Training jobs launched so far (their launch numbers are 1..launched)."""
    seed: int | None = None
    """The seed its strategies draw from (RandomSeed, else drawn once and kept)."""
    exhausted: bool = False
    """The strategy has no configuration left to suggest."""
    completion_reason: str | None = None
    """Why it completes: a criterion, MaxNumberOfTrainingJobs, MaxRuntimeInSeconds, ..."""
    failure_reason: str | None = None
    """Why it fails (e.g. no training job succeeded), its FailureReason once Failed."""

    @property
    def name(self) -> str:
        return str(self.doc["HyperParameterTuningJobName"])

    @property
    def arn(self) -> str:
        return str(self.doc["HyperParameterTuningJobArn"])

    @property
    def status(self) -> str:
        """HyperParameterTuningJobStatus, as Describe shows it."""
        return TUNING_PUBLIC[self.state]
