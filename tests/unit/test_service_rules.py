"""The documented service-side rules of CreateHyperParameterTuningJob and CreateTrainingJob."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import pytest

from emulator.errors import ResourceNotFound, ValidationException
from emulator.rules.service_rules import (
    check_create_training_job,
    check_create_tuning_job,
    grid_combinations,
)
from emulator.rules.validation import validate_input
from emulator.tuner.space import SearchSpace
from tests.requests import training_request, tuning_definition, tuning_request

Doc = dict[str, Any]


def check(request: Doc, jobs: Mapping[str, Doc] | None = None, **kwargs: Any) -> None:
    """Shape validation first (as the server does), then the service rules."""
    validate_input("CreateHyperParameterTuningJob", request)
    check_create_tuning_job(request, lookup_tuning_job=(jobs or {}).get, **kwargs)


def rejected(request: Doc, jobs: Mapping[str, Doc] | None = None, **kwargs: Any) -> str:
    with pytest.raises(ValidationException) as exc:
        check(request, jobs, **kwargs)
    return exc.value.message


def config(**overrides: Any) -> Doc:
    return {"HyperParameterTuningJobConfig": overrides}


def ranges(**kinds: Any) -> Doc:
    empty: Doc = {"IntegerParameterRanges": [], "ContinuousParameterRanges": []}
    return config(ParameterRanges={**empty, "CategoricalParameterRanges": [], **kinds})


def categorical(name: str, n: int) -> Doc:
    return {"Name": name, "Values": [f"{name}{i}" for i in range(n)]}


def multi(*names: str, **job_config: Any) -> Doc:
    """A two-algorithm request: objective and ranges per definition, none at job level."""
    definitions = [
        tuning_definition(
            DefinitionName=name,
            TuningObjective={"Type": "Maximize", "MetricName": "validation:accuracy"},
            HyperParameterRanges={"CategoricalParameterRanges": [categorical("loss", 2)]},
        )
        for name in names
    ]
    request = tuning_request(
        TrainingJobDefinition=None,
        TrainingJobDefinitions=definitions,
        HyperParameterTuningJobConfig={"HyperParameterTuningJobObjective": None, **job_config},
    )
    request["HyperParameterTuningJobConfig"].pop("ParameterRanges")
    return request


# --- the valid baseline -----------------------------------------------------------------------


def test_valid_requests_pass() -> None:
    check(tuning_request())
    check(multi("a", "b"))
    check(tuning_request(**config(Strategy="Bayesian", TrainingJobEarlyStoppingType="Auto")))


# --- definitions and objectives ---------------------------------------------------------------


def test_exactly_one_kind_of_definition() -> None:
    assert "exactly one of TrainingJobDefinition" in rejected(
        tuning_request(TrainingJobDefinition=None)
    )
    both = multi("a")
    both["TrainingJobDefinition"] = tuning_definition()
    assert "exactly one of TrainingJobDefinition" in rejected(both)


def test_definition_names_are_required_and_unique() -> None:
    assert "appears more than once" in rejected(multi("a", "a"))
    request = multi("a", "b")
    del request["TrainingJobDefinitions"][1]["DefinitionName"]
    assert "needs a DefinitionName" in rejected(request)


def test_each_of_several_definitions_has_its_own_objective_and_no_job_level_one() -> None:
    request = multi("a", "b")
    del request["TrainingJobDefinitions"][1]["TuningObjective"]
    assert "definition b has no TuningObjective" in rejected(request)
    request = multi("a", "b")
    request["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"] = {
        "Type": "Maximize",
        "MetricName": "validation:accuracy",
    }
    assert "remove HyperParameterTuningJobConfig.HyperParameterTuningJobObjective" in rejected(
        request
    )


def test_objectives_of_several_definitions_share_a_type() -> None:
    request = multi("a", "b")
    request["TrainingJobDefinitions"][1]["TuningObjective"] = {
        "Type": "Minimize",
        "MetricName": "validation:loss",
    }
    assert "same Type" in rejected(request)


def test_single_definition_needs_an_objective_in_one_place() -> None:
    no_objective = tuning_request(**config(HyperParameterTuningJobObjective=None))
    assert "Specify the objective metric" in rejected(no_objective)
    own = {"Type": "Maximize", "MetricName": "validation:accuracy"}
    check(
        tuning_request(
            HyperParameterTuningJobConfig={"HyperParameterTuningJobObjective": None},
            TrainingJobDefinition={"TuningObjective": own},
        )
    )
    other = {"Type": "Minimize", "MetricName": "validation:loss"}
    assert "in one place only" in rejected(
        tuning_request(TrainingJobDefinition={"TuningObjective": other})
    )


def test_ranges_in_one_place_only() -> None:
    request = tuning_request(
        TrainingJobDefinition={
            "HyperParameterRanges": {"CategoricalParameterRanges": [categorical("c", 2)]}
        }
    )
    assert "not both" in rejected(request)
    request = multi("a")
    request["HyperParameterTuningJobConfig"]["ParameterRanges"] = {
        "CategoricalParameterRanges": [categorical("c", 2)]
    }
    assert "remove HyperParameterTuningJobConfig.ParameterRanges" in rejected(request)


def test_objective_metric_must_be_defined_or_built_in() -> None:
    request = tuning_request(
        **config(HyperParameterTuningJobObjective={"Type": "Minimize", "MetricName": "val:rmse"})
    )
    text = rejected(request)
    assert "objective metric val:rmse is not defined" in text
    assert "validation:accuracy" in text

    def builtin(image: str) -> Collection[str]:
        return ("val:rmse",) if image == "local/sklearn-sgd:latest" else ()

    check(request, builtin_metrics=builtin)


# --- ranges -----------------------------------------------------------------------------------


def test_at_most_thirty_tunable_hyperparameters_in_total() -> None:
    request = tuning_request(
        **ranges(
            CategoricalParameterRanges=[categorical(f"c{i}", 2) for i in range(20)],
            IntegerParameterRanges=[
                {"Name": f"i{i}", "MinValue": "1", "MaxValue": "5"} for i in range(11)
            ],
        )
    )
    assert "31 tunable hyperparameters" in rejected(request)


@pytest.mark.parametrize(
    ("kind", "spec", "expected"),
    [
        ("IntegerParameterRanges", {"MinValue": "1.5", "MaxValue": "4"}, "not an integer"),
        ("IntegerParameterRanges", {"MinValue": "a", "MaxValue": "4"}, "could not convert"),
        ("ContinuousParameterRanges", {"MinValue": "0.5", "MaxValue": "0.1"}, "greater than"),
        (
            "ContinuousParameterRanges",
            {"MinValue": "0", "MaxValue": "1", "ScalingType": "Logarithmic"},
            "Logarithmic scaling requires",
        ),
        (
            "IntegerParameterRanges",
            {"MinValue": "0", "MaxValue": "1", "ScalingType": "ReverseLogarithmic"},
            "not supported for integer",
        ),
        (
            "ContinuousParameterRanges",
            {"MinValue": "0", "MaxValue": "1", "ScalingType": "ReverseLogarithmic"},
            "within 0 <= x < 1.0",
        ),
    ],
)
def test_numeric_range_rules(kind: str, spec: Doc, expected: str) -> None:
    text = rejected(tuning_request(**ranges(**{kind: [{"Name": "h", **spec}]})))
    assert text.startswith(
        "Invalid HyperParameterTuningJobConfig.ParameterRanges: hyperparameter h"
    )
    assert expected in text


def test_reverse_logarithmic_inside_unit_interval_is_fine() -> None:
    spec = {"Name": "m", "MinValue": "0", "MaxValue": "0.99", "ScalingType": "ReverseLogarithmic"}
    check(tuning_request(**ranges(ContinuousParameterRanges=[spec])))


def test_tuned_hyperparameter_may_not_be_static() -> None:
    request = tuning_request(TrainingJobDefinition={"StaticHyperParameters": {"loss": "hinge"}})
    assert "loss are both tuned and static" in rejected(request)


def test_hyperparameter_total_includes_the_objective_hyperparameter() -> None:
    statics = {f"s{i}": "1" for i in range(96)}  # + epochs, 2 tunable, _tuning_objective_metric
    check(tuning_request(TrainingJobDefinition={"StaticHyperParameters": statics}))
    statics["s96"] = "1"
    text = rejected(tuning_request(TrainingJobDefinition={"StaticHyperParameters": statics}))
    assert "101 hyperparameters" in text


# --- strategies -------------------------------------------------------------------------------


def grid(max_jobs: int | None, *sizes: int) -> Doc:
    limits = {"MaxParallelTrainingJobs": 2, "MaxNumberOfTrainingJobs": max_jobs}
    request = tuning_request(**config(Strategy="Grid", ResourceLimits=limits))
    request["HyperParameterTuningJobConfig"]["ParameterRanges"] = {
        "CategoricalParameterRanges": [categorical(f"c{i}", n) for i, n in enumerate(sizes)]
    }
    return request


def test_grid_without_max_jobs_or_with_exactly_the_combinations() -> None:
    check(grid(None, 3, 4))
    check(grid(12, 3, 4))
    assert "must equal the number of categorical combinations, 12" in rejected(grid(10, 3, 4))


def test_grid_only_with_categorical_ranges() -> None:
    request = tuning_request(**config(Strategy="Grid"))
    assert "only supports categorical" in rejected(request)
    assert "at least one CategoricalParameterRange" in rejected(grid(None))


def test_grid_at_most_750_combinations() -> None:
    check(grid(None, 30, 25))
    assert "900 combinations" in rejected(grid(None, 30, 30))


def test_grid_combinations_of_several_definitions_add_up() -> None:
    space = SearchSpace.from_parameter_ranges(
        {"CategoricalParameterRanges": [categorical("a", 3), categorical("b", 5)]}
    )
    assert grid_combinations([space, space]) == 30


def discrete(strategy: str, max_jobs: int, *ranges_: tuple[str, Doc]) -> Doc:
    request = tuning_request(
        **config(Strategy=strategy, ResourceLimits={"MaxNumberOfTrainingJobs": max_jobs})
    )
    request["HyperParameterTuningJobConfig"]["ParameterRanges"] = {
        kind: [spec for k, spec in ranges_ if k == kind]
        for kind in ("IntegerParameterRanges", "CategoricalParameterRanges")
    }
    return request


@pytest.mark.parametrize("strategy", ["Random", "Bayesian", "Hyperband"])
def test_too_few_discrete_combinations_is_refused_with_aws_message(strategy: str) -> None:
    loss = ("CategoricalParameterRanges", categorical("loss", 3))
    assert rejected(discrete(strategy, 10, loss)) == (
        "You don't have enough combinations of hyperparameter ranges. The total number of "
        "hyperparameter combinations for the provided ranges [3.0] must be equal or greater "
        "than the value of MaxNumberOfJobs, [10]. Provide additional ranges."
    )
    check(discrete(strategy, 3, loss))
    depth = ("IntegerParameterRanges", {"Name": "depth", "MinValue": "2", "MaxValue": "5"})
    check(discrete(strategy, 12, loss, depth))  # 3 x 4 configurations
    assert "ranges [12.0]" in rejected(discrete(strategy, 13, loss, depth))


def test_a_continuous_range_never_runs_out_of_combinations() -> None:
    request = tuning_request(**config(ResourceLimits={"MaxNumberOfTrainingJobs": 500}))
    check(request)  # the base request tunes a continuous learning_rate and 3 losses


def hyperband(**hyperband_config: Any) -> Doc:
    strategy = {"HyperbandStrategyConfig": hyperband_config} if hyperband_config else None
    return tuning_request(**config(Strategy="Hyperband", StrategyConfig=strategy))


def test_hyperband_infers_max_resource_from_static_epochs() -> None:
    check(hyperband())  # the base request has the static hyperparameter epochs=4
    request = hyperband()
    request["TrainingJobDefinition"]["StaticHyperParameters"] = {"num_epochs": '"25"'}
    check(request)


def test_hyperband_needs_a_max_resource() -> None:
    request = hyperband()
    request["TrainingJobDefinition"]["StaticHyperParameters"] = {"iterations": "9"}
    assert "MaxResource or one of the static hyperparameters epochs" in rejected(request)
    request = hyperband(MaxResource=9)
    request["TrainingJobDefinition"]["StaticHyperParameters"] = {"iterations": "9"}
    check(request)


def test_hyperband_resource_bounds() -> None:
    assert "the maximum is 20000" in rejected(hyperband(MaxResource=20_001))
    assert "MinResource (5) must not exceed MaxResource (4)" in rejected(hyperband(MinResource=5))


def test_hyperband_requires_early_stopping_off() -> None:
    request = hyperband()
    request["HyperParameterTuningJobConfig"]["TrainingJobEarlyStoppingType"] = "Auto"
    assert "set TrainingJobEarlyStoppingType to Off" in rejected(request)


def test_strategy_config_only_with_hyperband() -> None:
    request = tuning_request(
        **config(StrategyConfig={"HyperbandStrategyConfig": {"MaxResource": 10}})
    )
    assert "only allowed with the Hyperband strategy, not Random" in rejected(request)


def test_auto_early_stopping_not_with_several_definitions() -> None:
    assert "single algorithm" in rejected(multi("a", "b", TrainingJobEarlyStoppingType="Auto"))


# --- resource limits --------------------------------------------------------------------------


def limits(strategy: str = "Random", **values: Any) -> Doc:
    return tuning_request(**config(Strategy=strategy, ResourceLimits=values))


def test_parallel_jobs_at_most_100() -> None:
    check(limits(MaxParallelTrainingJobs=100))
    assert "at most 100 training jobs in parallel" in rejected(limits(MaxParallelTrainingJobs=101))


def test_max_training_jobs_per_strategy() -> None:
    check(limits("Random", MaxNumberOfTrainingJobs=10_000))
    assert "Random strategy allows at most 10000" in rejected(
        limits("Random", MaxNumberOfTrainingJobs=10_001)
    )
    check(limits("Bayesian", MaxNumberOfTrainingJobs=750))
    assert "Bayesian strategy allows at most 750" in rejected(
        limits("Bayesian", MaxNumberOfTrainingJobs=751)
    )


def test_max_training_jobs_required_unless_grid_or_autotune() -> None:
    request = limits("Bayesian", MaxNumberOfTrainingJobs=None)
    assert "MaxNumberOfTrainingJobs is required for the Bayesian strategy" in rejected(request)
    request["Autotune"] = {"Mode": "Enabled"}
    check(request)


# --- definition contents ----------------------------------------------------------------------


def test_metric_regex_must_compile_and_capture() -> None:
    broken = [{"Name": "validation:accuracy", "Regex": "acc=([0-9"}]
    request = tuning_request(TrainingJobDefinition={"AlgorithmSpecification": {}})
    request["TrainingJobDefinition"]["AlgorithmSpecification"]["MetricDefinitions"] = broken
    assert "not a valid regular expression" in rejected(request)
    no_group = [{"Name": "validation:accuracy", "Regex": "acc=[0-9.]+"}]
    request["TrainingJobDefinition"]["AlgorithmSpecification"]["MetricDefinitions"] = no_group
    assert "has no capture group" in rejected(request)


def test_resource_config_or_flexible_config() -> None:
    both = tuning_request(
        TrainingJobDefinition={
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1}
        }
    )
    assert "exactly one of ResourceConfig or HyperParameterTuningResourceConfig" in rejected(both)
    mixed = tuning_request(
        TrainingJobDefinition={
            "HyperParameterTuningResourceConfig": {
                "InstanceConfigs": [
                    {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5}
                ]
            }
        }
    )
    assert "remove InstanceType, InstanceCount, VolumeSizeInGB" in rejected(mixed)


def test_environment_at_most_48_across_definitions() -> None:
    request = multi("a", "b")
    for i, definition in enumerate(request["TrainingJobDefinitions"]):
        definition["Environment"] = {f"V{i}_{j}": "x" for j in range(25)}
    assert "50 environment variables" in rejected(request)


def test_training_image_xor_algorithm_name_in_definitions() -> None:
    request = tuning_request(
        TrainingJobDefinition={"AlgorithmSpecification": {"AlgorithmName": "x"}}
    )
    assert "exactly one of TrainingImage or AlgorithmName" in rejected(request)


# --- warm start -------------------------------------------------------------------------------


def parent(status: str = "Completed", **overrides: Any) -> Doc:
    """A parent as DescribeHyperParameterTuningJob returns it (objective hp added)."""
    doc = tuning_request("parent", **overrides)
    doc["HyperParameterTuningJobStatus"] = status
    doc["TrainingJobDefinition"]["StaticHyperParameters"]["_tuning_objective_metric"] = (
        "validation:accuracy"
    )
    return doc


def warm(*names: str, **overrides: Any) -> Doc:
    parents = [{"HyperParameterTuningJobName": n} for n in names]
    return tuning_request(
        WarmStartConfig={
            "ParentHyperParameterTuningJobs": parents,
            "WarmStartType": "IdenticalDataAndAlgorithm",
        },
        **overrides,
    )


def test_warm_start_from_finished_parents() -> None:
    check(warm("parent", "other"), {"parent": parent(), "other": parent("Failed")})


def test_warm_start_unknown_parent_is_resource_not_found() -> None:
    with pytest.raises(ResourceNotFound, match="can't find a tuning job called ghost"):
        check(warm("ghost"), {"parent": parent()})


@pytest.mark.parametrize("status", ["InProgress", "Stopping"])
def test_warm_start_parent_must_be_terminal(status: str) -> None:
    assert f"Parent tuning job parent is {status}" in rejected(
        warm("parent"), {"parent": parent(status)}
    )


def test_warm_start_parents_listed_once() -> None:
    assert "lists parent more than once" in rejected(warm("parent", "parent"), {"parent": parent()})


@pytest.mark.parametrize("strategy", ["Grid", "Hyperband"])
def test_warm_start_only_with_bayesian_or_random(strategy: str) -> None:
    request = grid(None, 3) if strategy == "Grid" else hyperband()
    check(request)
    request["WarmStartConfig"] = warm("parent")["WarmStartConfig"]
    assert f"Bayesian and Random strategies, not {strategy}" in rejected(
        request, {"parent": parent()}
    )


def test_warm_start_objective_must_match() -> None:
    other = {"Type": "Minimize", "MetricName": "validation:loss"}
    jobs = {"parent": parent(**config(HyperParameterTuningJobObjective=other))}
    assert "objective metric must be the same" in rejected(warm("parent"), jobs)


def test_warm_start_hyperparameter_type_must_not_change() -> None:
    as_integer = {"Name": "loss", "MinValue": "1", "MaxValue": "3"}
    child = warm("parent")
    child["HyperParameterTuningJobConfig"]["ParameterRanges"]["CategoricalParameterRanges"] = []
    child["HyperParameterTuningJobConfig"]["ParameterRanges"]["IntegerParameterRanges"] = [
        as_integer
    ]
    text = rejected(child, {"parent": parent()})
    assert text.startswith("Cannot warm start from parent tuning job parent: The type of")


def test_warm_start_more_than_ten_static_changes() -> None:
    parent_doc = parent(**ranges(CategoricalParameterRanges=[categorical("c", 11)]))
    child = warm("parent", **ranges())
    child["TrainingJobDefinition"]["StaticHyperParameters"]["c"] = "c0"
    assert "11 changes" in rejected(child, {"parent": parent_doc})


def test_warm_start_from_a_stored_document() -> None:
    from emulator.domain.documents import new_tuning_doc

    doc = new_tuning_doc(tuning_request("parent"), "arn:parent", 0.0)
    doc["HyperParameterTuningJobStatus"] = "Stopped"
    check(warm("parent"), {"parent": doc})


# --- CreateTrainingJob ------------------------------------------------------------------------


def rejected_training(request: Doc) -> str:
    validate_input("CreateTrainingJob", request)
    with pytest.raises(ValidationException) as exc:
        check_create_training_job(request)
    return exc.value.message


def test_valid_training_job_passes() -> None:
    check_create_training_job(training_request())
    spot = training_request(
        EnableManagedSpotTraining=True,
        StoppingCondition={"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200},
    )
    check_create_training_job(spot)


def test_training_image_xor_algorithm_name() -> None:
    both = training_request(AlgorithmSpecification={"AlgorithmName": "xgboost"})
    assert "exactly one of TrainingImage or AlgorithmName" in rejected_training(both)
    neither = training_request(AlgorithmSpecification={"TrainingImage": None})
    assert "exactly one of TrainingImage or AlgorithmName" in rejected_training(neither)
    assert "AlgorithmSpecification is required" in rejected_training(
        training_request(AlgorithmSpecification=None)
    )


def test_training_metric_definitions() -> None:
    metrics = [{"Name": "a", "Regex": "a=(.*)"}, {"Name": "a", "Regex": "b=(.*)"}]
    request = training_request(AlgorithmSpecification={"MetricDefinitions": metrics})
    assert "a is defined more than once" in rejected_training(request)
    metrics = [{"Name": "a", "Regex": "a=.*"}]
    request = training_request(AlgorithmSpecification={"MetricDefinitions": metrics})
    assert "no capture group" in rejected_training(request)


def test_max_wait_time_only_with_spot_and_not_below_runtime() -> None:
    wait = {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200}
    assert "only allowed with managed spot training" in rejected_training(
        training_request(StoppingCondition=wait)
    )
    short = {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 60}
    assert "(60) must be greater than or equal to MaxRuntimeInSeconds (3600)" in rejected_training(
        training_request(EnableManagedSpotTraining=True, StoppingCondition=short)
    )


def test_max_runtime_at_most_28_days() -> None:
    request = training_request(StoppingCondition={"MaxRuntimeInSeconds": 28 * 86400 + 1})
    assert "the maximum is 2419200 (28 days)" in rejected_training(request)


def test_channel_names_unique() -> None:
    channel = {
        "ChannelName": "train",
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/train"}},
    }
    request = training_request(InputDataConfig=[channel, channel])
    assert "train is used more than once" in rejected_training(request)
