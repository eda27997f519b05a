"""Invalid requests over real HTTP: AWS's error code and message, HTTP 400, and a store that the
rejected request left exactly as it was.

Requests go through boto3 where botocore lets them out; requests that botocore's client-side
validation would refuse (missing required members, values below `min`, wrong types) are posted
as raw AWS JSON 1.1 instead, so the server's own checks are what is proven for every row.

The module runs its own emulator, seeded with a stopped tuning job and a stopped training job
and then left idle, so the whole-store snapshot can only change because of the request under test.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore import xform_name
from botocore.exceptions import ClientError
from botocore.validate import ParamValidator

from tests.conftest import Server, start_server, wait_for
from tests.requests import METRICS, merge, training_request, tuning_definition, tuning_request

SEED_TUNING = "seed-tune"
SEED_TRAINING = "seed-train"
ARN = "arn:aws:sagemaker:us-east-1:123456789012"
UNKNOWN_TUNING_ARN = f"{ARN}:hyper-parameter-tuning-job/no-such-tuning-job"
PATTERN = "failed to satisfy constraint: Member must satisfy regular expression pattern"
NOT_NULL = "failed to satisfy constraint: Member must not be null"


@dataclass(frozen=True)
class Case:
    id: str
    operation: str
    params: dict[str, Any]
    code: str
    message: str
    """A substring of the expected message."""


# --- request builders -------------------------------------------------------------------------


def tuning(**overrides: Any) -> dict[str, Any]:
    return tuning_request("bad-tune", **overrides)


def job_config(**config: Any) -> dict[str, Any]:
    return tuning(HyperParameterTuningJobConfig=config)


def limits(**values: Any) -> dict[str, Any]:
    return job_config(ResourceLimits=values)


def continuous(**spec: Any) -> dict[str, Any]:
    return job_config(ParameterRanges={"ContinuousParameterRanges": [{"Name": "lr", **spec}]})


def integer(**spec: Any) -> dict[str, Any]:
    return job_config(ParameterRanges={"IntegerParameterRanges": [{"Name": "n", **spec}]})


def definition(**overrides: Any) -> dict[str, Any]:
    return tuning(TrainingJobDefinition=overrides)


def grid(**config: Any) -> dict[str, Any]:
    """Grid over the base request's one categorical range (3 combinations)."""
    request = job_config(
        Strategy="Grid",
        ParameterRanges={"ContinuousParameterRanges": []},
        ResourceLimits={"MaxNumberOfTrainingJobs": None},
    )
    return merge(request, {"HyperParameterTuningJobConfig": config})


discrete_only: dict[str, Any] = {
    "ParameterRanges": {"ContinuousParameterRanges": []},  # the base's 3 categorical values left
    "ResourceLimits": {"MaxNumberOfTrainingJobs": 10},
}


def hyperband(statics: dict[str, Any] | None = None, **config: Any) -> dict[str, Any]:
    return tuning(
        HyperParameterTuningJobConfig={"Strategy": "Hyperband", **config},
        TrainingJobDefinition={"StaticHyperParameters": statics or {}},
    )


def multi(*names: str, **config: Any) -> dict[str, Any]:
    """Several algorithms: objective and ranges per definition, none at the job level."""
    definitions = [
        tuning_definition(
            DefinitionName=name,
            TuningObjective={"Type": "Maximize", "MetricName": "validation:accuracy"},
            HyperParameterRanges={
                "CategoricalParameterRanges": [{"Name": "loss", "Values": ["hinge", "log_loss"]}]
            },
        )
        for name in names
    ]
    request = tuning(
        TrainingJobDefinition=None,
        TrainingJobDefinitions=definitions,
        HyperParameterTuningJobConfig={"HyperParameterTuningJobObjective": None, **config},
    )
    del request["HyperParameterTuningJobConfig"]["ParameterRanges"]
    return request


def warm(parent: str, request: dict[str, Any] | None = None) -> dict[str, Any]:
    request = request if request is not None else tuning()
    request["WarmStartConfig"] = {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": parent}],
        "WarmStartType": "TransferLearning",
    }
    return request


def training(**overrides: Any) -> dict[str, Any]:
    return training_request("bad-train", **overrides)


def channel(name: str) -> dict[str, Any]:
    source = {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://b/{name}"}}
    return {"ChannelName": name, "DataSource": source}


def metrics(regex: str) -> dict[str, Any]:
    return {"AlgorithmSpecification": {"MetricDefinitions": [{**METRICS[0], "Regex": regex}]}}


def tags(n: int, key: str = "k", value: str = "v") -> list[dict[str, str]]:
    return [{"Key": f"{key}{i}", "Value": value} for i in range(n)]


def seed_arn(kind: str, name: str) -> str:
    return f"{ARN}:{kind}/{name}"


V = "ValidationException"
CREATE_TUNING = "CreateHyperParameterTuningJob"
CREATE_TRAINING = "CreateTrainingJob"

CASES = [
    # --- CreateHyperParameterTuningJob: shapes ---
    Case("tuning-name-too-long", CREATE_TUNING, tuning_request("a" * 33), V,
         "at 'hyperParameterTuningJobName' failed to satisfy constraint: Member must have length "
         "less than or equal to 32"),
    Case("tuning-name-pattern", CREATE_TUNING, tuning_request("bad_name"), V,
         f"Value 'bad_name' at 'hyperParameterTuningJobName' {PATTERN}"),
    Case("tuning-name-empty", CREATE_TUNING, tuning_request(""), V,
         "Member must have length greater than or equal to 1"),
    Case("tuning-config-missing", CREATE_TUNING, tuning(HyperParameterTuningJobConfig=None), V,
         f"Value null at 'hyperParameterTuningJobConfig' {NOT_NULL}"),
    Case("strategy-enum", CREATE_TUNING, job_config(Strategy="Annealing"), V,
         "Value 'Annealing' at 'hyperParameterTuningJobConfig.strategy' failed to satisfy "
         "constraint: Member must satisfy enum value set: [Bayesian, Random, Hyperband, Grid]"),
    Case("objective-type-enum", CREATE_TUNING,
         job_config(HyperParameterTuningJobObjective={"Type": "Biggest"}), V,
         "at 'hyperParameterTuningJobConfig.hyperParameterTuningJobObjective.type'"),
    Case("early-stopping-enum", CREATE_TUNING, job_config(TrainingJobEarlyStoppingType="On"), V,
         "Member must satisfy enum value set: [Off, Auto]"),
    Case("parallel-below-min", CREATE_TUNING, limits(MaxParallelTrainingJobs=0), V,
         "Value '0' at 'hyperParameterTuningJobConfig.resourceLimits.maxParallelTrainingJobs' "
         "failed to satisfy constraint: Member must have value greater than or equal to 1"),
    Case("parallel-missing", CREATE_TUNING, limits(MaxParallelTrainingJobs=None), V,
         f"Value null at 'hyperParameterTuningJobConfig.resourceLimits.maxParallelTrainingJobs' "
         f"{NOT_NULL}"),
    Case("parallel-wrong-type", CREATE_TUNING, limits(MaxParallelTrainingJobs="2"),
         "SerializationException",
         "Expected an integer at 'hyperParameterTuningJobConfig.resourceLimits."
         "maxParallelTrainingJobs' but found a string ('2')"),
    Case("runtime-below-min", CREATE_TUNING, limits(MaxRuntimeInSeconds=119), V,
         "Member must have value greater than or equal to 120"),
    Case("runtime-above-max", CREATE_TUNING, limits(MaxRuntimeInSeconds=15_768_001), V,
         "Member must have value less than or equal to 15768000"),
    Case("categorical-31-values", CREATE_TUNING,
         job_config(ParameterRanges={"CategoricalParameterRanges": [
             {"Name": "loss", "Values": [f"v{i}" for i in range(31)]}]}), V,
         "at 'hyperParameterTuningJobConfig.parameterRanges.categoricalParameterRanges.1.member."
         "values' failed to satisfy constraint: Member must have length less than or equal to 30"),
    Case("warm-start-six-parents", CREATE_TUNING,
         tuning(WarmStartConfig={"WarmStartType": "TransferLearning",
                                 "ParentHyperParameterTuningJobs": [
                                     {"HyperParameterTuningJobName": f"p{i}"} for i in range(6)]}),
         V, "Member must have length less than or equal to 5"),
    Case("tags-51", CREATE_TUNING, tuning(Tags=tags(51)), V,
         "at 'tags' failed to satisfy constraint: Member must have length less than or equal "
         "to 50"),
    Case("tag-key-pattern", CREATE_TUNING, tuning(Tags=[{"Key": "a#b", "Value": "v"}]), V,
         f"Value 'a#b' at 'tags.1.member.key' {PATTERN}"),
    Case("several-violations", CREATE_TUNING,
         job_config(Strategy="Annealing", TrainingJobEarlyStoppingType="On"), V,
         "2 validation errors detected: "),
    # --- CreateHyperParameterTuningJob: service rules ---
    Case("parallel-above-100", CREATE_TUNING, limits(MaxParallelTrainingJobs=101), V,
         "MaxParallelTrainingJobs is 101; a tuning job runs at most 100"),
    Case("bayesian-751-jobs", CREATE_TUNING,
         job_config(Strategy="Bayesian", ResourceLimits={"MaxNumberOfTrainingJobs": 751}), V,
         "the Bayesian strategy allows at most 750"),
    Case("random-10001-jobs", CREATE_TUNING, limits(MaxNumberOfTrainingJobs=10_001), V,
         "the Random strategy allows at most 10000"),
    Case("max-jobs-missing", CREATE_TUNING, limits(MaxNumberOfTrainingJobs=None), V,
         "MaxNumberOfTrainingJobs is required for the Random strategy"),
    Case("objective-not-defined", CREATE_TUNING,
         job_config(HyperParameterTuningJobObjective={"MetricName": "val:f1"}), V,
         "The objective metric val:f1 is not defined"),
    Case("logarithmic-from-zero", CREATE_TUNING,
         continuous(MinValue="0", MaxValue="1", ScalingType="Logarithmic"), V,
         "Logarithmic scaling requires a range with all values greater than 0"),
    Case("reverse-log-integer", CREATE_TUNING,
         integer(MinValue="0", MaxValue="1", ScalingType="ReverseLogarithmic"), V,
         "ReverseLogarithmic scaling is not supported for integer ranges"),
    Case("reverse-log-reaching-one", CREATE_TUNING,
         continuous(MinValue="0", MaxValue="1", ScalingType="ReverseLogarithmic"), V,
         "ReverseLogarithmic scaling requires a range within 0 <= x < 1.0"),
    Case("min-above-max", CREATE_TUNING, continuous(MinValue="0.5", MaxValue="0.1"), V,
         "hyperparameter lr: MinValue 0.5 is greater than MaxValue 0.1"),
    Case("integer-not-a-number", CREATE_TUNING, integer(MinValue="one", MaxValue="3"), V,
         "Invalid HyperParameterTuningJobConfig.ParameterRanges: hyperparameter n"),
    Case("31-tunable", CREATE_TUNING,
         job_config(ParameterRanges={
             "CategoricalParameterRanges": [{"Name": f"c{i}", "Values": ["a"]} for i in range(20)],
             "IntegerParameterRanges": [
                 {"Name": f"i{i}", "MinValue": "1", "MaxValue": "2"} for i in range(10)]}), V,
         "defines 31 tunable hyperparameters"),
    Case("tuned-and-static", CREATE_TUNING,
         definition(StaticHyperParameters={"loss": "hinge"}), V,
         "Hyperparameters loss are both tuned and static"),
    Case("metric-regex-no-group", CREATE_TUNING, definition(**metrics("acc=[0-9.]+")), V,
         "has no capture group"),
    Case("metric-regex-invalid", CREATE_TUNING, definition(**metrics("acc=([0-9")), V,
         "is not a valid regular expression"),
    Case("grid-with-continuous", CREATE_TUNING, job_config(Strategy="Grid"), V,
         "The Grid strategy only supports categorical hyperparameters"),
    Case("grid-max-jobs-differs", CREATE_TUNING,
         grid(ResourceLimits={"MaxNumberOfTrainingJobs": 4}),
         V, "must equal the number of categorical combinations, 3"),
    *(
        Case(f"too-few-combinations-{strategy.lower()}", CREATE_TUNING,
             hyperband({"epochs": "4"}, **discrete_only) if strategy == "Hyperband"
             else job_config(Strategy=strategy, **discrete_only), V,
             "You don't have enough combinations of hyperparameter ranges. The total number of "
             "hyperparameter combinations for the provided ranges [3.0] must be equal or greater "
             "than the value of MaxNumberOfJobs, [10]. Provide additional ranges.")
        for strategy in ("Random", "Bayesian", "Hyperband")
    ),
    Case("hyperband-auto-early-stopping", CREATE_TUNING,
         hyperband(TrainingJobEarlyStoppingType="Auto"), V,
         "set TrainingJobEarlyStoppingType to Off"),
    Case("hyperband-no-max-resource", CREATE_TUNING,
         hyperband({"epochs": None, "iterations": "9"}), V,
         "Hyperband needs the maximum number of epochs"),
    Case("hyperband-max-resource-above-limit", CREATE_TUNING,
         hyperband(StrategyConfig={"HyperbandStrategyConfig": {"MaxResource": 20_001}}), V,
         "MaxResource is 20001; the maximum is 20000"),
    Case("strategy-config-without-hyperband", CREATE_TUNING,
         job_config(StrategyConfig={"HyperbandStrategyConfig": {"MaxResource": 9}}), V,
         "StrategyConfig is only allowed with the Hyperband strategy"),
    Case("no-definition", CREATE_TUNING, tuning(TrainingJobDefinition=None), V,
         "Specify exactly one of TrainingJobDefinition"),
    Case("both-definition-kinds", CREATE_TUNING,
         tuning(TrainingJobDefinitions=[tuning_definition(DefinitionName="a")]), V,
         "Specify exactly one of TrainingJobDefinition"),
    Case("duplicate-definition-names", CREATE_TUNING, multi("algo", "algo"), V,
         "algo appears more than once"),
    Case("auto-early-stopping-multi", CREATE_TUNING,
         multi("a", "b", TrainingJobEarlyStoppingType="Auto"), V,
         "only available when tuning a single algorithm"),
    Case("duplicate-tuning-name", CREATE_TUNING, tuning_request(SEED_TUNING), "ResourceInUse",
         f"A hyperparameter tuning job with the name, {SEED_TUNING}, already exists"),
    Case("warm-start-unknown-parent", CREATE_TUNING, warm("ghost-parent"), "ResourceNotFound",
         "can't find a tuning job called ghost-parent"),
    Case("warm-start-with-grid", CREATE_TUNING, warm(SEED_TUNING, grid()), V,
         "only supported with the Bayesian and Random strategies, not Grid"),
    Case("warm-start-other-objective", CREATE_TUNING,
         warm(SEED_TUNING, job_config(HyperParameterTuningJobObjective={
             "Type": "Minimize", "MetricName": "validation:loss"})), V,
         f"must be the same as that of parent tuning job {SEED_TUNING}"),
    # --- Describe / List / Stop / Delete tuning jobs ---
    Case("describe-tuning-unknown", "DescribeHyperParameterTuningJob",
         {"HyperParameterTuningJobName": "no-such-job"}, "ResourceNotFound",
         "Amazon SageMaker can't find a tuning job called no-such-job"),
    Case("describe-tuning-name-too-long", "DescribeHyperParameterTuningJob",
         {"HyperParameterTuningJobName": "x" * 40}, V,
         "Member must have length less than or equal to 32"),
    Case("describe-tuning-name-missing", "DescribeHyperParameterTuningJob", {}, V,
         f"Value null at 'hyperParameterTuningJobName' {NOT_NULL}"),
    Case("list-tuning-max-results", "ListHyperParameterTuningJobs", {"MaxResults": 101}, V,
         "Value '101' at 'maxResults' failed to satisfy constraint: Member must have value less "
         "than or equal to 100"),
    Case("list-tuning-max-results-zero", "ListHyperParameterTuningJobs", {"MaxResults": 0}, V,
         "Member must have value greater than or equal to 1"),
    Case("list-tuning-sort-by", "ListHyperParameterTuningJobs", {"SortBy": "Size"}, V,
         "Member must satisfy enum value set: [Name, Status, CreationTime]"),
    Case("list-tuning-status", "ListHyperParameterTuningJobs", {"StatusEquals": "Running"}, V,
         "Value 'Running' at 'statusEquals'"),
    Case("list-tuning-name-contains", "ListHyperParameterTuningJobs", {"NameContains": "a_b"}, V,
         f"Value 'a_b' at 'nameContains' {PATTERN}"),
    Case("list-children-unknown", "ListTrainingJobsForHyperParameterTuningJob",
         {"HyperParameterTuningJobName": "no-such-job"}, "ResourceNotFound",
         "can't find a tuning job called no-such-job"),
    Case("list-children-sort-by", "ListTrainingJobsForHyperParameterTuningJob",
         {"HyperParameterTuningJobName": SEED_TUNING, "SortBy": "Accuracy"}, V,
         "Value 'Accuracy' at 'sortBy'"),
    Case("stop-tuning-unknown", "StopHyperParameterTuningJob",
         {"HyperParameterTuningJobName": "no-such-job"}, "ResourceNotFound",
         "can't find a tuning job called no-such-job"),
    Case("stop-tuning-stopped", "StopHyperParameterTuningJob",
         {"HyperParameterTuningJobName": SEED_TUNING}, V,
         "the tuning job is in status Stopped"),
    Case("delete-tuning-unknown", "DeleteHyperParameterTuningJob",
         {"HyperParameterTuningJobName": "no-such-job"}, "ResourceNotFound",
         "can't find a tuning job called no-such-job"),
    Case("delete-tuning-bad-name", "DeleteHyperParameterTuningJob",
         {"HyperParameterTuningJobName": "-x"}, V, "Value '-x' at 'hyperParameterTuningJobName'"),
    # --- CreateTrainingJob ---
    Case("training-name-too-long", CREATE_TRAINING, training_request("t" * 64), V,
         "at 'trainingJobName' failed to satisfy constraint: Member must have length less than "
         "or equal to 63"),
    Case("training-role-missing", CREATE_TRAINING, training(RoleArn=None), V,
         f"Value null at 'roleArn' {NOT_NULL}"),
    Case("training-role-pattern", CREATE_TRAINING, training(RoleArn="arn:aws:iam::12:user/bob"),
         V, f"at 'roleArn' {PATTERN}"),
    Case("training-input-mode", CREATE_TRAINING,
         training(AlgorithmSpecification={"TrainingInputMode": "Stream"}), V,
         "Value 'Stream' at 'algorithmSpecification.trainingInputMode'"),
    Case("training-instance-type", CREATE_TRAINING,
         training(ResourceConfig={"InstanceType": "ml.fake.large"}), V,
         "Value 'ml.fake.large' at 'resourceConfig.instanceType' failed to satisfy constraint: "
         "Member must satisfy enum value set: ["),
    Case("training-hyperparameter-too-long", CREATE_TRAINING,
         training(HyperParameters={"epochs": "9" * 2501}), V,
         "at 'hyperParameters' failed to satisfy constraint: Map value must satisfy constraint: "
         "[Member must have length less than or equal to 2500"),
    Case("training-hyperparameter-number", CREATE_TRAINING,
         training(HyperParameters={"epochs": 3}), "SerializationException",
         "Expected a string at 'hyperParameters.epochs' but found a number ('3')"),
    Case("training-environment-key", CREATE_TRAINING, training(Environment={"1X": "v"}), V,
         "at 'environment' failed to satisfy constraint: Map keys must satisfy constraint"),
    Case("training-runtime-zero", CREATE_TRAINING,
         training(StoppingCondition={"MaxRuntimeInSeconds": 0}), V,
         "Member must have value greater than or equal to 1"),
    Case("training-max-wait-without-spot", CREATE_TRAINING,
         training(StoppingCondition={"MaxWaitTimeInSeconds": 7200}), V,
         "MaxWaitTimeInSeconds is only allowed with managed spot training"),
    Case("training-max-wait-below-runtime", CREATE_TRAINING,
         training(EnableManagedSpotTraining=True, StoppingCondition={"MaxWaitTimeInSeconds": 60}),
         V, "MaxWaitTimeInSeconds (60) must be greater than or equal to MaxRuntimeInSeconds"),
    Case("training-duplicate-channels", CREATE_TRAINING,
         training(InputDataConfig=[channel("train"), channel("train")]), V,
         "train is used more than once"),
    Case("training-image-and-algorithm", CREATE_TRAINING,
         training(AlgorithmSpecification={"AlgorithmName": "xgboost"}), V,
         "exactly one of TrainingImage or AlgorithmName"),
    Case("training-duplicate-name", CREATE_TRAINING, training_request(SEED_TRAINING),
         "ResourceInUse", "a training job with this name already exists"),
    # --- Describe / List / Stop / Delete training jobs ---
    Case("describe-training-unknown", "DescribeTrainingJob", {"TrainingJobName": "no-such-job"},
         V, "Requested resource not found."),
    Case("describe-training-pattern", "DescribeTrainingJob", {"TrainingJobName": "a b"}, V,
         f"Value 'a b' at 'trainingJobName' {PATTERN}"),
    Case("list-training-max-results", "ListTrainingJobs", {"MaxResults": 1000}, V,
         "Member must have value less than or equal to 100"),
    Case("list-training-status", "ListTrainingJobs", {"StatusEquals": "Done"}, V,
         "Value 'Done' at 'statusEquals'"),
    Case("list-training-created-after-string", "ListTrainingJobs",
         {"CreationTimeAfter": "yesterday"}, "SerializationException",
         "Expected a timestamp in epoch seconds at 'creationTimeAfter'"),
    Case("stop-training-stopped", "StopTrainingJob", {"TrainingJobName": SEED_TRAINING}, V,
         "The request was rejected because the training job is in status Stopped."),
    Case("stop-training-unknown", "StopTrainingJob", {"TrainingJobName": "no-such-job"}, V,
         "Requested resource not found."),
    Case("delete-training-unknown", "DeleteTrainingJob", {"TrainingJobName": "no-such-job"}, V,
         "Requested resource not found."),
    # --- tags ---
    Case("add-tags-bad-arn", "AddTags", {"ResourceArn": "not-an-arn", "Tags": tags(1)}, V,
         f"Value 'not-an-arn' at 'resourceArn' {PATTERN}"),
    Case("add-tags-value-too-long", "AddTags",
         {"ResourceArn": seed_arn("training-job", SEED_TRAINING),
          "Tags": tags(1, value="v" * 257)}, V,
         "at 'tags.1.member.value' failed to satisfy constraint: Member must have length less "
         "than or equal to 256"),
    Case("add-tags-unknown-resource", "AddTags",
         {"ResourceArn": UNKNOWN_TUNING_ARN, "Tags": tags(1)}, V, "does not exist"),
    Case("add-tags-missing-tags", "AddTags", {"ResourceArn": UNKNOWN_TUNING_ARN}, V,
         f"Value null at 'tags' {NOT_NULL}"),
    Case("list-tags-max-results-below-50", "ListTags",
         {"ResourceArn": UNKNOWN_TUNING_ARN, "MaxResults": 10}, V,
         "Value '10' at 'maxResults' failed to satisfy constraint: Member must have value "
         "greater than or equal to 50"),
    Case("delete-tags-no-keys", "DeleteTags", {"ResourceArn": UNKNOWN_TUNING_ARN, "TagKeys": []},
         V, "Value '[]' at 'tagKeys' failed to satisfy constraint: Member must have length "
         "greater than or equal to 1"),
    Case("delete-tags-51-keys", "DeleteTags",
         {"ResourceArn": UNKNOWN_TUNING_ARN, "TagKeys": [f"k{i}" for i in range(51)]}, V,
         "Member must have length less than or equal to 50"),
]  # fmt: skip


# --- sending ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    code: str
    message: str
    via: str


def rejected_by_botocore(server: Server, operation: str, params: dict[str, Any]) -> bool:
    shape = server.sagemaker.meta.service_model.operation_model(operation).input_shape
    return ParamValidator().validate(params, shape).has_errors()


def send(server: Server, operation: str, params: dict[str, Any]) -> Answer:
    """Through boto3 when botocore lets the request out, else as raw AWS JSON 1.1."""
    if rejected_by_botocore(server, operation, params):
        return post_raw(server.endpoint, operation, params)
    try:
        getattr(server.sagemaker, xform_name(operation))(**params)
    except ClientError as exc:
        error, meta = exc.response["Error"], exc.response["ResponseMetadata"]
        return Answer(meta["HTTPStatusCode"], error["Code"], error["Message"], "boto3")
    pytest.fail(f"{operation} succeeded but should have been rejected")


def post_raw(endpoint: str, operation: str, params: dict[str, Any]) -> Answer:
    request = urllib.request.Request(
        endpoint + "/",
        data=json.dumps(params).encode(),
        method="POST",
        headers={
            "X-Amz-Target": f"SageMaker.{operation}",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            pytest.fail(f"{operation} answered {response.status} but should have been rejected")
    except urllib.error.HTTPError as exc:
        body = json.loads(exc.read())
        code = body["__type"].split("#")[-1]
        return Answer(exc.code, code, body.get("message") or body.get("Message", ""), "http")


# --- the emulator under test ------------------------------------------------------------------


def seed(server: Server) -> None:
    """A stopped tuning job (with its stopped children) and a stopped training job."""
    sm = server.sagemaker
    sm.create_hyper_parameter_tuning_job(
        **tuning_request(
            SEED_TUNING,
            HyperParameterTuningJobConfig={
                "ResourceLimits": {"MaxNumberOfTrainingJobs": 1, "MaxParallelTrainingJobs": 1}
            },
        )
    )
    sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=SEED_TUNING)
    sm.create_training_job(**training_request(SEED_TRAINING))
    sm.stop_training_job(TrainingJobName=SEED_TRAINING)
    server.wait_tuning(SEED_TUNING, timeout=60)
    server.wait_training(SEED_TRAINING, timeout=60)
    stopping = sm.get_paginator("list_training_jobs")  # a page filters only the jobs it took
    wait_for(
        lambda: {
            "jobs": [
                job
                for page in stopping.paginate(StatusEquals="Stopping")
                for job in page["TrainingJobSummaries"]
            ]
        },
        lambda page: not page["jobs"],
        timeout=60,
    )


def wait_until_idle(server: Server, timeout: float = 30) -> None:
    """Two snapshots a second apart that agree: nothing is left running in the background."""
    previous: list[Any] = [server.snapshot()]

    def unchanged() -> dict[str, Any]:
        current = server.snapshot()
        same, previous[0] = current == previous[0], current
        return {"same": same}

    wait_for(unchanged, lambda r: r["same"], timeout=timeout, interval=1.0)


@contextmanager
def seeded_idle_server(data_dir: Path) -> Iterator[Server]:
    """An emulator of its own, seeded with stopped jobs, then idle: its snapshot only changes
    if a request changes it (shared by this table and the fuzz suite)."""
    server = start_server(data_dir, extra_args=["--stop-grace", "3"])
    try:
        seed(server)
        wait_until_idle(server)
        yield server
    finally:
        server.process.stop()


@pytest.fixture(scope="module")
def idle_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """An emulator of this module's own, seeded, then idle (see the module docstring)."""
    with seeded_idle_server(tmp_path_factory.mktemp("invalid")) as server:
        yield server


# --- the tests --------------------------------------------------------------------------------


def test_the_table_covers_every_operation_group() -> None:
    assert len(CASES) >= 45
    assert len({c.id for c in CASES}) == len(CASES)
    operations = {c.operation for c in CASES}
    assert {CREATE_TUNING, "DescribeHyperParameterTuningJob", "ListHyperParameterTuningJobs",
            "StopHyperParameterTuningJob", "DeleteHyperParameterTuningJob", CREATE_TRAINING,
            "DescribeTrainingJob", "ListTrainingJobs", "StopTrainingJob", "DeleteTrainingJob",
            "AddTags", "ListTags", "DeleteTags"} <= operations  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_invalid_request_is_rejected_and_changes_nothing(idle_server: Server, case: Case) -> None:
    before = idle_server.snapshot()
    answer = send(idle_server, case.operation, case.params)
    assert (answer.status, answer.code) == (400, case.code), answer
    assert case.message in answer.message, answer
    assert idle_server.snapshot() == before


def test_both_transports_are_exercised(idle_server: Server) -> None:
    """Rows botocore refuses still reach the server (raw), the others go through boto3."""
    raw = [c.id for c in CASES if rejected_by_botocore(idle_server, c.operation, c.params)]
    assert "parallel-missing" in raw
    assert "list-tags-max-results-below-50" in raw
    assert "parallel-wrong-type" in raw
    assert "tuning-name-too-long" not in raw
    assert 5 <= len(raw) < len(CASES) - 30
