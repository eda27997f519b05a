"""Seeding benchmark targets with finished tuning jobs, as a long-used emulator would hold them.

Our store is written directly (one transaction, no HTTP), through the job records and with
documents built by the same functions the API and the tuner use, so Describe serves realistic
documents: transitions, final metrics, counters and a best training job. moto is seeded
through boto3, the only way in.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from emulator.clock import ManualClock
from emulator.domain.documents import TUNING_OBJECTIVE_HP, child_training_params, new_training_doc
from emulator.domain.jobs import TrainingJob, TuningJob
from emulator.domain.status import move_tuning, transition
from emulator.domain.summary import best_of, counters, training_summary
from emulator.ids import child_job_name, training_job_arn
from emulator.records import JobRecords
from emulator.store.sqlite import Store
from tests.requests import METRICS, training_request, tuning_request

OBJECTIVE = {"Type": "Maximize", "MetricName": "validation:accuracy"}
EPOCHS = 4
TRAINING_SECONDS = 60.0
"""Virtual duration of each seeded training job; jobs of one tuning job run back to back."""
STEPS = (("Starting", 0.0), ("Downloading", 5.0), ("Training", 10.0), ("Uploading", 55.0))


@dataclass(frozen=True)
class Population:
    """Names of the seeded jobs, which the benchmark describes."""

    tuning_jobs: list[str]
    training_jobs: list[str]


@dataclass(frozen=True)
class Account:
    region: str = "us-east-1"
    account: str = "123456789012"


def populate_store(
    store: Store,
    *,
    tuning_jobs: int,
    children: int,
    now: float,
    account: Account | None = None,
    seed: int = 0,
) -> Population:
    """Write `tuning_jobs` Completed tuning jobs with `children` Completed training jobs each."""
    account = account or Account()
    rng = random.Random(seed)
    tuning_names: list[str] = []
    training_names: list[str] = []
    start = now - tuning_jobs * (children + 1) * TRAINING_SECONDS
    with store.transaction():
        for index in range(tuning_jobs):
            name = f"bench-tuning-{index:04d}"
            created = start + index * (children + 1) * TRAINING_SECONDS
            jobs = _add_tuning_job(store, name, created, children, account, rng)
            tuning_names.append(name)
            training_names += [job.name for job in jobs]
    return Population(tuning_names, training_names)


def _add_tuning_job(
    store: Store, name: str, created: float, children: int, account: Account, rng: random.Random
) -> list[TrainingJob]:
    params = tuning_request(
        name,
        HyperParameterTuningJobConfig={
            "ResourceLimits": {"MaxNumberOfTrainingJobs": children, "MaxParallelTrainingJobs": 4}
        },
    )
    records = JobRecords(store, ManualClock(created), account.region, account.account)
    tuning = records.create_tuning(params)  # in the records' account and region
    doc = tuning.doc
    jobs = [
        _finished_child(store, doc, params, i + 1, created + i * TRAINING_SECONDS, account, rng)
        for i in range(children)
    ]
    tuning.launched = children
    _finish_tuning(tuning, jobs, created + children * TRAINING_SECONDS)
    store.update_tuning_job(tuning)
    return jobs


def _finished_child(
    store: Store,
    tuning_doc: dict[str, Any],
    tuning_params: dict[str, Any],
    index: int,
    started: float,
    account: Account,
    rng: random.Random,
) -> TrainingJob:
    """A child training job that ran, reported metrics per epoch and completed."""
    tuned = {
        "learning_rate": f"{10 ** rng.uniform(-3, -0.3):.6g}",
        "loss": rng.choice(["log_loss", "hinge", "modified_huber"]),
    }
    name = child_job_name(tuning_doc["HyperParameterTuningJobName"], index)
    params = child_training_params(tuning_doc, tuning_params["TrainingJobDefinition"], tuned, name)
    params["HyperParameters"][TUNING_OBJECTIVE_HP] = OBJECTIVE["MetricName"]
    params["TuningJobArn"] = tuning_doc["HyperParameterTuningJobArn"]
    doc = new_training_doc(params, training_job_arn(account.region, account.account, name), started)
    for status, offset in STEPS:
        transition(doc, status, None, started + offset)
    ended = started + TRAINING_SECONDS
    transition(doc, "Completed", None, ended)
    doc["TrainingTimeInSeconds"] = doc["BillableTimeInSeconds"] = int(TRAINING_SECONDS - 5)
    final = _add_metrics(store, name, started + STEPS[2][1], rng)
    job = TrainingJob(
        doc,
        tuning_job=tuning_doc["HyperParameterTuningJobName"],
        tuned=tuned,
        objective=dict(OBJECTIVE),
        objective_value=final,
    )
    store.insert_training_job(job)
    return job


def _add_metrics(store: Store, job: str, training_started: float, rng: random.Random) -> float:
    """A learning curve per metric definition; returns the final objective value."""
    ceiling = rng.uniform(0.7, 0.97)
    final = 0.0
    for epoch in range(1, EPOCHS + 1):
        ts = training_started + epoch * 10.0
        progress = epoch / EPOCHS
        for metric in METRICS:
            accuracy = round(ceiling * (0.6 + 0.4 * progress), 4)
            value = (
                accuracy if metric["Name"] == OBJECTIVE["MetricName"] else round(1 - accuracy, 4)
            )
            store.add_metric_point(job, metric["Name"], ts, value)
            final = accuracy
    return final


def _finish_tuning(tuning: TuningJob, children: list[TrainingJob], ended: float) -> None:
    """The tuning job as the tuner leaves it after MaxNumberOfTrainingJobs."""
    doc = tuning.doc
    training, objective = counters(children)
    best = best_of(children)
    doc["TrainingJobStatusCounters"] = training
    doc["ObjectiveStatusCounters"] = objective
    if best is not None:
        doc["BestTrainingJob"] = training_summary(best)
    move_tuning(tuning, "Completing", ended, "MaxNumberOfTrainingJobs")
    move_tuning(tuning, "Completed", ended)
    doc["TuningJobCompletionDetails"] = {"NumberOfTrainingJobsObjectiveNotImproving": 0}


def populate_moto(client: Any, *, tuning_jobs: int, training_jobs: int) -> Population:
    """Create jobs in moto through boto3 (moto creates them finished, instantly)."""
    tuning_names = [f"bench-tuning-{i:04d}" for i in range(tuning_jobs)]
    training_names = [f"bench-training-{i:04d}" for i in range(training_jobs)]
    for name in tuning_names:
        client.create_hyper_parameter_tuning_job(**tuning_request(name))
    for name in training_names:
        client.create_training_job(**training_request(name))
    return Population(tuning_names, training_names)
