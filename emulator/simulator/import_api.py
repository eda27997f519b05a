"""Finished training jobs of tuning jobs, read through the SageMaker and CloudWatch APIs.

The calls are the ones a user's own tools make, so the same code reads our emulator and AWS
(with the caller's credentials): DescribeHyperParameterTuningJob for the objective and the
ranges, ListTrainingJobsForHyperParameterTuningJob for the jobs, DescribeTrainingJob for each
one's hyperparameters, times, status and FinalMetricDataList, and CloudWatch
GetMetricStatistics (namespace `/aws/sagemaker/TrainingJobs`, dimension `TrainingJobName`,
as the SDK's `TrainingJobAnalytics` asks) for every point of every metric.

Periods: the SDK asks for 60 s; we ask for the shortest CloudWatch still answers for a job of
that age (`period_for`: 1 s within 3 hours of its start, then 60 s, 300 s after 15 days, 3600 s
after 63 days, as GetMetricStatistics documents), so that each epoch keeps its own point where
it can. Where a period still held several points of a metric (SampleCount), their average is
all that is left: the job's `merged` count says so and the import warns.
AWS errors (an unknown tuning job, missing permissions) are not caught here: they reach the
caller as botocore's `ClientError`, code and message as AWS sent them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from emulator.domain.documents import TUNING_OBJECTIVE_HP
from emulator.simulator.importer import (
    CurveImportError,
    FinishedJob,
    Objective,
    Point,
    merge_spaces,
    space_from_ranges,
)

NAMESPACE = "/aws/sagemaker/TrainingJobs"
PERIODS_BY_AGE = ((3 * 3600, 1), (15 * 86400, 60), (63 * 86400, 300))
"""(age in seconds below which, the shortest period GetMetricStatistics answers); 3600 beyond."""
MAX_DATAPOINTS = 1440
"""GetMetricStatistics answers at most this many datapoints per call."""


def period_for(start: datetime, now: float) -> int:
    """The shortest period CloudWatch answers for points stamped `start`, at `now`."""
    age = now - start.timestamp()
    return next((period for limit, period in PERIODS_BY_AGE if age < limit), 3600)


def read_tuning_jobs(
    sagemaker: Any,
    cloudwatch: Any,
    names: Sequence[str],
    *,
    now: float,
    period: int | None = None,
    definition_name: str | None = None,
) -> tuple[list[FinishedJob], Objective, list[dict[str, Any]], dict[str, Any]]:
    """Every training job of the named tuning jobs, their shared objective, the search space
    covering their ranges, and what to record of the source (image, metric definitions).
    `now`: the caller's clock, to choose each job's period unless `period` is given.
    `definition_name`: of a tuning job with several training job definitions, the one whose
    jobs to read (a curve set covers one search space and one set of static values)."""
    jobs: list[FinishedJob] = []
    objectives: set[tuple[str, str]] = set()
    spaces: list[list[dict[str, Any]]] = []
    source: dict[str, Any] = {"tuning_jobs": list(names)}
    if definition_name is not None:
        source["definition"] = definition_name
    for name in names:
        tuning = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        definition = _definition(tuning, definition_name)
        objective = definition.get("TuningObjective") or tuning[
            "HyperParameterTuningJobConfig"
        ].get("HyperParameterTuningJobObjective")
        if not objective:
            raise CurveImportError(f"tuning job {name} has no objective metric")
        objectives.add((objective["MetricName"], objective["Type"]))
        ranges = definition.get("HyperParameterRanges") or tuning[
            "HyperParameterTuningJobConfig"
        ].get("ParameterRanges", {})
        spaces.append(space_from_ranges(ranges))
        algorithm = definition.get("AlgorithmSpecification", {})
        source.setdefault("image", algorithm.get("TrainingImage") or algorithm.get("AlgorithmName"))
        source.setdefault("metric_definitions", algorithm.get("MetricDefinitions", []))
        for summary in _summaries(sagemaker, name, definition_name):
            job = sagemaker.describe_training_job(TrainingJobName=summary["TrainingJobName"])
            jobs.append(_finished(cloudwatch, job, objective["MetricName"], period, now))
    if len(objectives) > 1:
        listed = ", ".join(f"{t} {m}" for m, t in sorted(objectives))
        raise CurveImportError(f"the tuning jobs have different objectives: {listed}")
    metric, kind = objectives.pop()
    return jobs, Objective(metric, kind), merge_spaces(spaces), source


def _definition(tuning: dict[str, Any], wanted: str | None) -> dict[str, Any]:
    """The training job definition to import: the only one, or the one named `wanted`."""
    listed = tuning.get("TrainingJobDefinitions") or [tuning.get("TrainingJobDefinition")]
    definitions = [d for d in listed if d]
    name = tuning["HyperParameterTuningJobName"]
    names = [str(d.get("DefinitionName")) for d in definitions]
    if wanted is None:
        if len(definitions) != 1:
            raise CurveImportError(
                f"tuning job {name} has {len(definitions)} training job definitions "
                f"({', '.join(names)}); import one of them with --definition NAME"
            )
        return dict(definitions[0])
    for definition in definitions:
        if definition.get("DefinitionName") == wanted:
            return dict(definition)
    raise CurveImportError(
        f"tuning job {name} has no training job definition named {wanted!r} "
        f"(its definitions: {', '.join(names)})"
    )


def _summaries(sagemaker: Any, name: str, definition: str | None) -> Iterator[dict[str, Any]]:
    """The tuning job's training jobs (of `definition`, if named) in launch order (their
    creation times)."""
    paginator = sagemaker.get_paginator("list_training_jobs_for_hyper_parameter_tuning_job")
    pages = paginator.paginate(HyperParameterTuningJobName=name)
    summaries = [
        s
        for page in pages
        for s in page["TrainingJobSummaries"]
        if definition is None or s.get("TrainingJobDefinitionName") == definition
    ]
    yield from sorted(summaries, key=lambda s: (s["CreationTime"], s["TrainingJobName"]))


def _finished(
    cloudwatch: Any, job: dict[str, Any], objective: str, period: int | None, now: float
) -> FinishedJob:
    """The job as described, with every metric point CloudWatch has of it, in seconds since
    its training started (none when it ended before training began)."""
    hyperparameters = {
        str(k): str(v)
        for k, v in job.get("HyperParameters", {}).items()
        if k != TUNING_OBJECTIVE_HP  # added by the service, not the user's
    }
    points: list[Point] = []
    merged = 0
    start = job.get("TrainingStartTime")
    if start is not None:
        end = job.get("TrainingEndTime") or job.get("LastModifiedTime") or start
        definitions = job.get("AlgorithmSpecification", {}).get("MetricDefinitions", [])
        metrics = {objective, *(d["Name"] for d in definitions)}
        metrics |= {m["MetricName"] for m in job.get("FinalMetricDataList", [])}
        origin = start.replace(microsecond=0)  # the points' periods start on whole seconds
        seconds = period or period_for(start, now)
        for metric in sorted(metrics):
            for stamp, value, count in _datapoints(
                cloudwatch, job["TrainingJobName"], metric, start, end, seconds
            ):
                points.append(Point((stamp - origin).total_seconds(), metric, value))
                merged += count > 1
    return FinishedJob(
        name=job["TrainingJobName"],
        hyperparameters=hyperparameters,
        status=job["TrainingJobStatus"],
        points=tuple(points),
        failure=job.get("FailureReason") or None,
        final={m["MetricName"]: float(m["Value"]) for m in job.get("FinalMetricDataList", [])},
        merged=merged,
    )


def _datapoints(
    cloudwatch: Any, job: str, metric: str, start: datetime, end: datetime, period: int
) -> Iterator[tuple[datetime, float, float]]:
    """(period start, average) of one metric over the job's training, in windows small enough
    for one call each; the first window opens a period early (points are stamped to the
    second, the start time is not)."""
    window = timedelta(seconds=period * MAX_DATAPOINTS)
    begin = start - timedelta(seconds=period)
    stop = end + timedelta(seconds=60)
    while begin < stop:
        answer = cloudwatch.get_metric_statistics(
            Namespace=NAMESPACE,
            MetricName=metric,
            Dimensions=[{"Name": "TrainingJobName", "Value": job}],
            StartTime=begin,
            EndTime=min(begin + window, stop),
            Period=period,
            Statistics=["Average", "SampleCount"],
        )
        for point in sorted(answer["Datapoints"], key=lambda p: p["Timestamp"]):
            yield point["Timestamp"], float(point["Average"]), float(point["SampleCount"])
        begin += window
