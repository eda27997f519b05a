"""The tuner's handlers on a real (in-memory) store with a manual clock: no processes, no sleeps."""

from __future__ import annotations

import itertools

from emulator.domain.commands import Launch, Stop
from emulator.domain.documents import new_tuning_doc
from emulator.domain.jobs import TuningJob
from emulator.ids import tuning_job_arn
from emulator.records import JobRecords
from emulator.tuner.service import TunerService
from emulator.tuner.suggestion import InProcess, SuggestionAnswer, SuggestionRequest
from tests.requests import tuning_request


def create(store, clock, name, **overrides):
    params = tuning_request(name, **overrides)
    doc = new_tuning_doc(params, tuning_job_arn("us-east-1", "1" * 12, name), clock.now())
    store.insert_tuning_job(TuningJob(doc))


def finish(service, name, status, value=None):
    row = service.store.get_training_job(name)
    if value is not None:
        row.objective_value = value
    for step in ("Downloading", "Training", status):
        service.records.move(row, step)


async def test_launches_up_to_parallel_then_completes_at_max_jobs(tuner):
    service, store, clock, commands = tuner
    create(store, clock, "t", HyperParameterTuningJobConfig={"RandomSeed": 1})
    commands += service.on_tuning_changed("t")
    started = launched(commands)
    assert len(started) == 2
    doc = store.get_tuning_job("t").doc
    assert doc["TrainingJobStatusCounters"]["InProgress"] == 2
    for i, name in enumerate(started):
        finish(service, name, "Completed", 0.5 + i / 10)
    commands += service.on_tuning_changed("t")
    started = launched(commands)
    assert len(started) == 4
    for name in started[2:]:
        finish(service, name, "Completed", 0.1)
    commands += service.on_tuning_changed("t")
    doc = store.get_tuning_job("t").doc
    assert doc["HyperParameterTuningJobStatus"] == "Completed"
    assert doc["BestTrainingJob"]["TrainingJobName"] == started[1]
    assert doc["TrainingJobStatusCounters"]["Completed"] == 4


async def test_max_runtime_stops_children_and_completes(tuner):
    service, store, clock, commands = tuner
    create(
        store,
        clock,
        "slow",
        HyperParameterTuningJobConfig={
            "ResourceLimits": {
                "MaxNumberOfTrainingJobs": 10,
                "MaxParallelTrainingJobs": 2,
                "MaxRuntimeInSeconds": 300,
            }
        },
    )
    commands += service.on_tuning_changed("slow")
    clock.advance(299)
    commands += service.tick()
    assert store.get_tuning_job("slow").doc["HyperParameterTuningJobStatus"] == "InProgress"
    clock.advance(2)
    commands += service.tick()
    stops = [c.job for c in commands if isinstance(c, Stop)]
    assert len(stops) == 2
    assert store.get_tuning_job("slow").doc["HyperParameterTuningJobStatus"] == "InProgress"
    for name in stops:
        row = store.get_training_job(name)
        service.records.move(row, "Stopped")
    commands += service.on_tuning_changed("slow")
    doc = store.get_tuning_job("slow").doc
    assert doc["HyperParameterTuningJobStatus"] == "Completed"
    assert doc["ConsumedResources"]["RuntimeInSeconds"] == 301
    assert doc["TrainingJobStatusCounters"]["Stopped"] == 2


async def test_internal_failure_is_replaced_with_the_same_configuration(tuner):
    service, store, clock, commands = tuner
    create(store, clock, "retry", HyperParameterTuningJobConfig={"RandomSeed": 3})
    commands += service.on_tuning_changed("retry")
    first = launched(commands)[0]
    row = store.get_training_job(first)
    row.retryable = True
    service.records.move(row, "Failed")
    commands += service.on_tuning_changed("retry")
    replacement = launched(commands)[2]
    assert store.get_training_job(replacement).tuned == row.tuned
    assert store.get_training_job(first).replaced_by == replacement
    counters = store.get_tuning_job("retry").doc["TrainingJobStatusCounters"]
    assert counters["RetryableError"] == 1 and counters["InProgress"] == 2


async def test_early_stopping_compares_with_the_median_of_earlier_jobs(tuner):
    service, store, clock, commands = tuner
    create(
        store,
        clock,
        "es",
        HyperParameterTuningJobConfig={
            "TrainingJobEarlyStoppingType": "Auto",
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 4},
        },
    )
    commands += service.on_tuning_changed("es")
    names = launched(commands)
    for name, curve in zip(names[:3], ([0.5, 0.6], [0.6, 0.7], [0.7, 0.8]), strict=True):
        for value in curve:
            store.add_metric_point(name, "validation:accuracy", clock.now(), value)
    late = store.get_training_job(names[3])
    store.add_metric_point(names[3], "validation:accuracy", clock.now(), 0.2)
    commands += service.on_metric(late, "validation:accuracy", 1, 0.2)
    assert Stop(names[3]) not in commands  # epoch 1 is never judged
    store.add_metric_point(names[3], "validation:accuracy", clock.now(), 0.6)
    commands += service.on_metric(store.get_training_job(names[3]), "validation:accuracy", 2, 0.6)
    assert Stop(names[3]) in commands  # 0.6 < median(0.55, 0.65, 0.75)
    assert store.get_training_job(names[3]).stop_reason == "early_stop"


def fail(service, name, retryable=False):
    row = service.store.get_training_job(name)
    row.retryable = retryable
    row.doc["FailureReason"] = "InternalServerError: lost" if retryable else "ClientError: bad"
    service.records.move(row, "Failed")


def launched(commands):
    return [c.job for c in commands if isinstance(c, Launch)]


async def test_internal_failures_are_retried_a_bounded_number_of_times(tuner):
    service, store, clock, commands = tuner
    create(
        store,
        clock,
        "lost",
        HyperParameterTuningJobConfig={
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 1, "MaxParallelTrainingJobs": 1}
        },
        TrainingJobDefinition={"RetryStrategy": {"MaximumRetryAttempts": 2}},
    )
    commands += service.on_tuning_changed("lost")
    for _ in range(10):
        running = [
            n
            for n in launched(commands)
            if store.get_training_job(n).doc["TrainingJobStatus"] == "InProgress"
        ]
        if not running:
            break
        fail(service, running[0], retryable=True)
        clock.advance(1)
        commands += service.on_tuning_changed("lost")
    names = launched(commands)
    assert len(names) == 3  # the first attempt and MaximumRetryAttempts retries
    assert len({str(store.get_training_job(n).tuned) for n in names}) == 1
    doc = store.get_tuning_job("lost").doc
    assert doc["TrainingJobStatusCounters"]["RetryableError"] == 3
    assert doc["HyperParameterTuningJobStatus"] == "Failed"
    assert doc["FailureReason"].startswith("No training job succeeded after 1 attempts.")


async def test_five_failures_before_any_success_fail_the_tuning_job(tuner):
    service, store, clock, commands = tuner
    create(
        store,
        clock,
        "bad",
        HyperParameterTuningJobConfig={
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 20, "MaxParallelTrainingJobs": 3}
        },
    )
    commands += service.on_tuning_changed("bad")
    for name in launched(commands)[:3]:
        clock.advance(1)
        fail(service, name)
        commands += service.on_tuning_changed("bad")
    # two more fail; the jobs launched meanwhile still run and are not stopped
    for name in launched(commands)[3:5]:
        clock.advance(1)
        fail(service, name)
        commands += service.on_tuning_changed("bad")
    doc = store.get_tuning_job("bad").doc
    assert doc["HyperParameterTuningJobStatus"] == "InProgress"
    assert not [c for c in commands if isinstance(c, Stop)]
    running = [
        n
        for n in launched(commands)
        if store.get_training_job(n).doc["TrainingJobStatus"] == "InProgress"
    ]
    assert len(launched(commands)) == 5 + len(running)
    for name in running:
        finish(service, name, "Completed", 0.5)
    clock.advance(1)
    commands += service.on_tuning_changed("bad")
    doc = store.get_tuning_job("bad").doc
    assert doc["HyperParameterTuningJobStatus"] == "Failed"
    assert doc["FailureReason"] == (
        "No training job succeeded after 5 attempts. Please take a look at the training job "
        "failures to get more details."
    )
    assert doc["TrainingJobStatusCounters"]["NonRetryableError"] == 5
    assert doc["HyperParameterTuningEndTime"] == clock.now()


async def test_a_success_before_the_fifth_failure_keeps_the_tuning_job_going(tuner):
    service, store, clock, commands = tuner
    create(
        store,
        clock,
        "mixed",
        HyperParameterTuningJobConfig={
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 7, "MaxParallelTrainingJobs": 1}
        },
    )
    commands += service.on_tuning_changed("mixed")
    for i in range(7):
        clock.advance(1)
        name = launched(commands)[i]
        if i == 2:
            finish(service, name, "Completed", 0.5)
        else:
            fail(service, name)
        commands += service.on_tuning_changed("mixed")
    doc = store.get_tuning_job("mixed").doc
    assert doc["HyperParameterTuningJobStatus"] == "Completed"
    assert "FailureReason" not in doc


async def test_a_failed_parent_warm_starts_and_a_deleted_one_is_left_out(tuner):
    service, store, clock, commands = tuner
    one_job = {"ResourceLimits": {"MaxNumberOfTrainingJobs": 1, "MaxParallelTrainingJobs": 1}}
    create(store, clock, "parent", HyperParameterTuningJobConfig=one_job)
    commands += service.on_tuning_changed("parent")
    fail(service, launched(commands)[0])
    commands += service.on_tuning_changed("parent")
    assert store.get_tuning_job("parent").doc["HyperParameterTuningJobStatus"] == "Failed"
    warm = {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "parent"}],
        "WarmStartType": "IdenticalDataAndAlgorithm",
    }
    create(store, clock, "child", WarmStartConfig=warm)
    commands += service.on_tuning_changed("child")
    assert len(launched(commands)) == 3  # the parent's one job, and two of the child's
    store.delete_tuning_job("parent")  # deleting a parent leaves its child running
    for i in range(4):
        clock.advance(1)
        finish(service, launched(commands)[1 + i], "Completed", 0.1 * (i + 1))
        commands += service.on_tuning_changed("child")
    doc = store.get_tuning_job("child").doc
    assert doc["HyperParameterTuningJobStatus"] == "Completed"
    assert doc["OverallBestTrainingJob"] == doc["BestTrainingJob"]


async def test_a_tuning_job_an_older_release_left_completing_ends_completed_on_resume(tuner):
    """Releases before the state machine kept the end in meta `ending` while the status still
    showed InProgress: after an upgrade the tuner stops its running children and ends it."""
    service, store, clock, commands = tuner
    create(store, clock, "old", HyperParameterTuningJobConfig={"RandomSeed": 5})
    commands += service.on_tuning_changed("old")
    running = launched(commands)
    store._db.execute(
        "UPDATE tuning_jobs SET meta = ?",
        ('{"launched": 2, "seed": 5, "ending": "Completed", "completion_reason": "x"}',),
    )
    clock.advance(30)
    commands += service.resume()
    assert {c.job for c in commands if isinstance(c, Stop)} == set(running)
    assert store.get_tuning_job("old").doc["HyperParameterTuningJobStatus"] == "InProgress"
    for name in running:
        service.records.move(store.get_training_job(name), "Stopped")
    commands += service.on_tuning_changed("old")
    job = store.get_tuning_job("old")
    assert (job.status, job.completion_reason) == ("Completed", "x")
    assert job.doc["HyperParameterTuningEndTime"] == clock.now()
    assert len(launched(commands)) == len(running)  # nothing launched meanwhile


class RecordedRequests(InProcess):
    """Answers at once, keeping every request."""

    def __init__(self) -> None:
        self.requests: list[SuggestionRequest] = []

    def ask(self, request: SuggestionRequest) -> SuggestionAnswer | None:
        self.requests.append(request)
        return super().ask(request)


async def test_the_history_lists_jobs_in_the_order_they_ended_so_it_only_grows(tuner):
    """Jobs ending out of launch order: each request's observations start with the previous
    request's (the kernel fit is cached by the first observations, see `gp.hyperparameters`)."""
    _, store, clock, commands = tuner
    recorded = RecordedRequests()
    service = TunerService(store, JobRecords(store, clock, "us-east-1", "1" * 12), clock, recorded)
    create(
        store,
        clock,
        "ordered",
        HyperParameterTuningJobConfig={
            "Strategy": "Bayesian",
            "RandomSeed": 3,
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 6, "MaxParallelTrainingJobs": 3},
        },
    )
    commands += service.on_tuning_changed("ordered")
    first = launched(commands)
    for name, value in zip((first[2], first[0], first[1]), (0.3, 0.1, 0.2), strict=True):
        clock.advance(10)
        finish(service, name, "Completed", value)
        commands += service.on_tuning_changed("ordered")
    histories = [r.history.observations for r in recorded.requests]
    assert [o.value for o in histories[-1]][:3] == [0.3, 0.1, 0.2]
    for earlier, later in itertools.pairwise(histories):
        assert later[: len(earlier)] == earlier
