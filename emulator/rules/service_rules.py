"""The service-side rules of the Create operations that the shapes cannot express.

`validation.validate_input` has already checked every shape constraint (required members,
lengths, patterns, enums, list sizes such as 1..30 values per categorical range or 1..5 warm
start parents); these functions check what AWS documents on top of them (reference §4) and
raise `ValidationException` with a message that says what to change.

Choices where the documentation leaves room, so the emulator answers consistently:

- Single definition (`TrainingJobDefinition`): the objective and the ranges may sit in
  `HyperParameterTuningJobConfig` (what the SageMaker SDK sends) or in the definition, but not
  in both. Several definitions (`TrainingJobDefinitions`, multi-algorithm tuning): every
  definition names itself (`DefinitionName`, unique) and carries its own `TuningObjective` and
  `HyperParameterRanges`; the job-level objective and ranges must then be absent, and all
  objectives share one `Type` (the best job is chosen across definitions).
- Grid: `MaxNumberOfTrainingJobs` may be omitted; when given it must *equal* the number of
  combinations ("should equal" in the docs), so a job never silently runs fewer or more.
- Random, Bayesian, Hyperband: when every range is discrete (integer and categorical), the
  number of distinct configurations (summed over the definitions) must be at least
  `MaxNumberOfTrainingJobs`, with AWS's own message (quoted in public reports of real AWS
  answers). Autotune and AutoParameters leave the ranges to the service: not checked.
- Warm start from a parent that does not exist answers `ResourceNotFound` with the wording AWS
  uses for unknown tuning jobs. Hyperparameter changes are compared per definition (matched by
  `DefinitionName`; a single-definition job matches the parent's only definition).
- Limits that AWS lets accounts raise are enforced at their hard maximum (100 parallel jobs).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from emulator.domain.status import TERMINAL_TUNING
from emulator.errors import ResourceNotFound, ValidationException
from emulator.tuner.hyperband import EPOCH_KEYS, MAX_EPOCHS, infer_max_resource
from emulator.tuner.space import CategoricalParam, SearchSpace
from emulator.tuner.warm_start import INTERNAL_HYPERPARAMETERS, Definition, validate_warm_start

Doc = Mapping[str, Any]
LookupTuningJob = Callable[[str], Doc | None]
BuiltinMetrics = Callable[[str], Collection[str]]

MAX_TUNABLE_HYPERPARAMETERS = 30
MAX_HYPERPARAMETERS = 100
MAX_PARALLEL_TRAINING_JOBS = 100
MAX_TRAINING_JOBS = 750
MAX_RANDOM_TRAINING_JOBS = 10_000
MAX_GRID_COMBINATIONS = 750
MAX_RUNTIME_SECONDS = 28 * 24 * 3600
MAX_ENVIRONMENT_VARIABLES = 48
WARM_START_STRATEGIES = ("Bayesian", "Random")
RANGE_KINDS = ("IntegerParameterRanges", "ContinuousParameterRanges", "CategoricalParameterRanges")


def _no_builtin_metrics(image: str) -> Collection[str]:
    return ()


def _duplicates(names: Sequence[Any]) -> str:
    """The names that occur more than once, comma-separated ("" when all are unique)."""
    return ", ".join(sorted({str(n) for n in names if names.count(n) > 1}))


# --- CreateHyperParameterTuningJob -------------------------------------------------------------


def check_create_tuning_job(
    params: Doc,
    *,
    lookup_tuning_job: LookupTuningJob,
    builtin_metrics: BuiltinMetrics = _no_builtin_metrics,
) -> None:
    """Raise ValidationException (or ResourceNotFound for a missing warm start parent) when a
    shape-valid CreateHyperParameterTuningJob request breaks a documented service rule."""
    config = params["HyperParameterTuningJobConfig"]
    definitions = _definitions(params)
    objectives = _objectives(params)
    ranges = _ranges(params)
    spaces = [_space(r, label) for label, r in ranges]
    autotune = (params.get("Autotune") or {}).get("Mode") == "Enabled"
    for definition, objective, space in zip(definitions, objectives, spaces, strict=True):
        _check_definition(definition, objective, space, builtin_metrics)
    _check_environment(definitions)
    _check_strategy(config, definitions, spaces)
    _check_resource_limits(config, spaces, autotune)
    if not autotune and not any(r.get("AutoParameters") for _label, r in ranges):
        _check_combinations(config, spaces)
    if params.get("WarmStartConfig"):
        _check_warm_start(params, lookup_tuning_job)


def _definitions(params: Doc) -> list[Doc]:
    """The training job definitions; exactly one of the two members, multi ones named."""
    single: Doc | None = params.get("TrainingJobDefinition")
    several: list[Doc] | None = params.get("TrainingJobDefinitions")
    if (single is None) == (several is None):
        raise ValidationException(
            "Specify exactly one of TrainingJobDefinition (one algorithm) or "
            "TrainingJobDefinitions (several algorithms)."
        )
    if several is None:
        return [single] if single is not None else []
    names = [d.get("DefinitionName") for d in several]
    if None in names:
        raise ValidationException(
            "Every entry of TrainingJobDefinitions needs a DefinitionName; add one to each."
        )
    duplicates = _duplicates(names)
    if duplicates:
        raise ValidationException(
            f"DefinitionName values must be unique within TrainingJobDefinitions; "
            f"{duplicates} appears more than once. Rename the duplicates."
        )
    return list(several)


def _objectives(job: Doc) -> list[Doc]:
    """The objective of each definition, per the placement rules of the module docstring."""
    config = job["HyperParameterTuningJobConfig"]
    job_level = config.get("HyperParameterTuningJobObjective")
    if job.get("TrainingJobDefinitions") is None:
        own = job["TrainingJobDefinition"].get("TuningObjective")
        if own is not None and job_level is not None and dict(own) != dict(job_level):
            raise ValidationException(
                "TrainingJobDefinition.TuningObjective differs from HyperParameterTuningJobConfig."
                "HyperParameterTuningJobObjective; specify the objective in one place only."
            )
        objective = own or job_level
        if objective is None:
            raise ValidationException(
                "Specify the objective metric in HyperParameterTuningJobConfig."
                "HyperParameterTuningJobObjective."
            )
        return [objective]
    if job_level is not None:
        raise ValidationException(
            "With TrainingJobDefinitions, specify the objective in each definition's "
            "TuningObjective and remove HyperParameterTuningJobConfig."
            "HyperParameterTuningJobObjective."
        )
    objectives = []
    for d in job["TrainingJobDefinitions"]:
        if d.get("TuningObjective") is None:
            raise ValidationException(
                f"Training job definition {d['DefinitionName']} has no TuningObjective; "
                "each entry of TrainingJobDefinitions needs its own."
            )
        objectives.append(d["TuningObjective"])
    if len({o["Type"] for o in objectives}) > 1:
        raise ValidationException(
            "All TuningObjective entries of TrainingJobDefinitions must have the same Type "
            "(Maximize or Minimize)."
        )
    return objectives


def _has_ranges(ranges: Doc | None) -> bool:
    return ranges is not None and any(ranges.get(kind) for kind in (*RANGE_KINDS, "AutoParameters"))


def _ranges(job: Doc) -> list[tuple[str, Doc]]:
    """(label for messages, ParameterRanges) of each definition, placed per the docstring."""
    job_level = job["HyperParameterTuningJobConfig"].get("ParameterRanges")
    if job.get("TrainingJobDefinitions") is None:
        own = job["TrainingJobDefinition"].get("HyperParameterRanges")
        if _has_ranges(own) and _has_ranges(job_level):
            raise ValidationException(
                "Specify the hyperparameter ranges either in HyperParameterTuningJobConfig."
                "ParameterRanges or in TrainingJobDefinition.HyperParameterRanges, not both."
            )
        if _has_ranges(own):
            return [("TrainingJobDefinition.HyperParameterRanges", own)]
        return [("HyperParameterTuningJobConfig.ParameterRanges", job_level or {})]
    if _has_ranges(job_level):
        raise ValidationException(
            "With TrainingJobDefinitions, specify ranges in each definition's "
            "HyperParameterRanges and remove HyperParameterTuningJobConfig.ParameterRanges."
        )
    return [
        (
            f"HyperParameterRanges of definition {d['DefinitionName']}",
            d.get("HyperParameterRanges") or {},
        )
        for d in job["TrainingJobDefinitions"]
    ]


def _space(ranges: Doc, label: str) -> SearchSpace:
    """The search space, with the tuner's own parser enforcing min/max/scaling rules."""
    count = sum(len(ranges.get(kind) or ()) for kind in RANGE_KINDS)
    if count > MAX_TUNABLE_HYPERPARAMETERS:
        raise ValidationException(
            f"{label} defines {count} tunable hyperparameters; a tuning job can search at most "
            f"{MAX_TUNABLE_HYPERPARAMETERS} (integer, continuous and categorical together)."
        )
    try:
        return SearchSpace.from_parameter_ranges(ranges)
    except ValueError as exc:
        raise ValidationException(f"Invalid {label}: {exc}.") from exc


def _statics(definition: Doc) -> dict[str, str]:
    return {
        k: v
        for k, v in (definition.get("StaticHyperParameters") or {}).items()
        if k not in INTERNAL_HYPERPARAMETERS
    }


def _check_definition(
    definition: Doc, objective: Doc, space: SearchSpace, builtin_metrics: BuiltinMetrics
) -> None:
    static = _statics(definition)
    both = sorted(set(space.names) & set(static))
    if both:
        raise ValidationException(
            f"Hyperparameters {', '.join(both)} are both tuned and static; remove them from "
            "StaticHyperParameters or from the parameter ranges."
        )
    total = len(static) + len(space.names) + len(INTERNAL_HYPERPARAMETERS)
    if total > MAX_HYPERPARAMETERS:
        raise ValidationException(
            f"The training job definition has {total} hyperparameters (static, tunable and "
            f"_tuning_objective_metric); the limit is {MAX_HYPERPARAMETERS}. Remove some."
        )
    spec = definition["AlgorithmSpecification"]
    check_algorithm_specification(spec)
    _check_objective_metric(spec, objective, builtin_metrics)
    _check_tuning_resources(definition)
    check_stopping_condition(
        definition["StoppingCondition"], bool(definition.get("EnableManagedSpotTraining"))
    )
    check_channels(definition.get("InputDataConfig") or ())


def _check_objective_metric(spec: Doc, objective: Doc, builtin_metrics: BuiltinMetrics) -> None:
    name = objective["MetricName"]
    defined = [m["Name"] for m in spec.get("MetricDefinitions") or ()]
    image = spec.get("TrainingImage") or spec.get("AlgorithmName") or ""
    if name in defined or name in builtin_metrics(image):
        return
    known = ", ".join(defined) or "none"
    raise ValidationException(
        f"The objective metric {name} is not defined. Add a MetricDefinition named {name} to "
        f"AlgorithmSpecification.MetricDefinitions (defined: {known})."
    )


def _check_tuning_resources(definition: Doc) -> None:
    plain, flexible = (
        definition.get("ResourceConfig"),
        definition.get("HyperParameterTuningResourceConfig"),
    )
    if (plain is None) == (flexible is None):
        raise ValidationException(
            "Specify exactly one of ResourceConfig or HyperParameterTuningResourceConfig in the "
            "training job definition."
        )
    if flexible and flexible.get("InstanceConfigs"):
        fixed = [k for k in ("InstanceType", "InstanceCount", "VolumeSizeInGB") if k in flexible]
        if fixed:
            raise ValidationException(
                "HyperParameterTuningResourceConfig takes either InstanceConfigs or "
                f"InstanceType/InstanceCount/VolumeSizeInGB, not both; remove {', '.join(fixed)}."
            )


def _check_environment(definitions: Sequence[Doc]) -> None:
    total = sum(len(d.get("Environment") or {}) for d in definitions)
    if total > MAX_ENVIRONMENT_VARIABLES:
        raise ValidationException(
            f"The training job definitions set {total} environment variables in total; the "
            f"limit is {MAX_ENVIRONMENT_VARIABLES} across all definitions."
        )


def _check_strategy(config: Doc, definitions: Sequence[Doc], spaces: Sequence[SearchSpace]) -> None:
    strategy = config["Strategy"]
    early_stopping = config.get("TrainingJobEarlyStoppingType", "Off")
    if early_stopping == "Auto" and len(definitions) > 1:
        raise ValidationException(
            "TrainingJobEarlyStoppingType Auto is only available when tuning a single "
            "algorithm; set it to Off or use TrainingJobDefinition."
        )
    if config.get("StrategyConfig") and strategy != "Hyperband":
        raise ValidationException(
            f"StrategyConfig is only allowed with the Hyperband strategy, not {strategy}; "
            "remove StrategyConfig or set Strategy to Hyperband."
        )
    if strategy == "Grid":
        _check_grid(spaces)
    if strategy == "Hyperband":
        if early_stopping != "Off":
            raise ValidationException(
                "The Hyperband strategy has its own early stopping; set "
                "TrainingJobEarlyStoppingType to Off."
            )
        _check_hyperband(config.get("StrategyConfig") or {}, definitions)


def _check_grid(spaces: Sequence[SearchSpace]) -> None:
    if not all(space.params for space in spaces):
        raise ValidationException(
            "The Grid strategy needs at least one CategoricalParameterRange to search."
        )
    if not all(space.is_categorical for space in spaces):
        raise ValidationException(
            "The Grid strategy only supports categorical hyperparameters; replace the integer "
            "and continuous ranges with CategoricalParameterRanges or choose another strategy."
        )
    combinations = grid_combinations(spaces)
    if combinations > MAX_GRID_COMBINATIONS:
        raise ValidationException(
            f"The categorical ranges give {combinations} combinations; Grid search allows at "
            f"most {MAX_GRID_COMBINATIONS}. Remove values or hyperparameters."
        )


def grid_combinations(spaces: Sequence[SearchSpace]) -> int:
    """Training jobs a Grid search runs: the combinations of every definition, summed."""
    return sum(
        math.prod(len(p.values) for p in space.params if isinstance(p, CategoricalParam))
        for space in spaces
    )


def _check_hyperband(strategy_config: Doc, definitions: Sequence[Doc]) -> None:
    hyperband = strategy_config.get("HyperbandStrategyConfig") or {}
    max_resource = hyperband.get("MaxResource")
    if max_resource is not None and max_resource > MAX_EPOCHS:
        raise ValidationException(
            f"HyperbandStrategyConfig.MaxResource is {max_resource}; the maximum is {MAX_EPOCHS}."
        )
    for definition in definitions:
        resolved = max_resource or infer_max_resource(_statics(definition))
        if resolved is None:
            raise ValidationException(
                "Hyperband needs the maximum number of epochs: set StrategyConfig."
                "HyperbandStrategyConfig.MaxResource or one of the static hyperparameters "
                f"{', '.join(EPOCH_KEYS)}."
            )
        min_resource = hyperband.get("MinResource", 1)
        if min_resource > resolved:
            raise ValidationException(
                f"HyperbandStrategyConfig.MinResource ({min_resource}) must not exceed "
                f"MaxResource ({resolved})."
            )


def _check_resource_limits(config: Doc, spaces: Sequence[SearchSpace], autotune: bool) -> None:
    limits, strategy = config["ResourceLimits"], config["Strategy"]
    parallel = limits["MaxParallelTrainingJobs"]
    if parallel > MAX_PARALLEL_TRAINING_JOBS:
        raise ValidationException(
            f"MaxParallelTrainingJobs is {parallel}; a tuning job runs at most "
            f"{MAX_PARALLEL_TRAINING_JOBS} training jobs in parallel."
        )
    total = limits.get("MaxNumberOfTrainingJobs")
    if total is None:
        if strategy != "Grid" and not autotune:
            raise ValidationException(
                f"ResourceLimits.MaxNumberOfTrainingJobs is required for the {strategy} strategy "
                "(it may only be omitted for Grid)."
            )
        return
    cap = MAX_RANDOM_TRAINING_JOBS if strategy == "Random" else MAX_TRAINING_JOBS
    if total > cap:
        raise ValidationException(
            f"MaxNumberOfTrainingJobs is {total}; the {strategy} strategy allows at most {cap}."
        )
    if strategy == "Grid" and total != grid_combinations(spaces):
        raise ValidationException(
            f"For the Grid strategy MaxNumberOfTrainingJobs must equal the number of "
            f"categorical combinations, {grid_combinations(spaces)}; set it to that or omit it."
        )


def _check_combinations(config: Doc, spaces: Sequence[SearchSpace]) -> None:
    """Random, Bayesian and Hyperband cannot run more jobs than a discrete space holds."""
    total = config["ResourceLimits"].get("MaxNumberOfTrainingJobs")
    combinations = discrete_combinations(spaces)
    if config["Strategy"] == "Grid" or total is None or combinations is None:
        return
    if total > combinations:
        raise ValidationException(
            "You don't have enough combinations of hyperparameter ranges. The total number of "
            f"hyperparameter combinations for the provided ranges [{float(combinations)}] must "
            f"be equal or greater than the value of MaxNumberOfJobs, [{total}]. Provide "
            "additional ranges."
        )


def discrete_combinations(spaces: Sequence[SearchSpace]) -> int | None:
    """Distinct configurations of all definitions together when every range is discrete
    (integer or categorical); None when any is continuous, as such a space never runs out."""
    counts = [space.combinations for space in spaces]
    if not counts or None in counts:
        return None
    return sum(c for c in counts if c is not None)


# --- warm start --------------------------------------------------------------------------------


def _check_warm_start(params: Doc, lookup_tuning_job: LookupTuningJob) -> None:
    warm = params["WarmStartConfig"]
    strategy = params["HyperParameterTuningJobConfig"]["Strategy"]
    if strategy not in WARM_START_STRATEGIES:
        raise ValidationException(
            f"Warm start is only supported with the Bayesian and Random strategies, not "
            f"{strategy}; change Strategy or remove WarmStartConfig."
        )
    names = [p["HyperParameterTuningJobName"] for p in warm["ParentHyperParameterTuningJobs"]]
    duplicates = _duplicates(names)
    if duplicates:
        raise ValidationException(
            f"ParentHyperParameterTuningJobs lists {duplicates} more than once; list each "
            "parent once."
        )
    for name in names:
        _check_parent(params, name, lookup_tuning_job(name))


def _check_parent(child: Doc, name: str, parent: Doc | None) -> None:
    if parent is None:
        raise ResourceNotFound(
            f"Amazon SageMaker can't find a tuning job called {name}. Correct the name in "
            "WarmStartConfig.ParentHyperParameterTuningJobs."
        )
    status = parent["HyperParameterTuningJobStatus"]
    if status not in TERMINAL_TUNING:
        raise ValidationException(
            f"Parent tuning job {name} is {status}; a warm start parent must be Completed, "
            "Stopped or Failed. Wait for it to finish or stop it."
        )
    if _objective_set(_objectives(parent)) != _objective_set(_objectives(child)):
        raise ValidationException(
            f"The objective metric must be the same as that of parent tuning job {name} "
            "(same MetricName and Type)."
        )
    parents = _definition_map(parent)
    for key, definition in _definition_map(child).items():
        match = parents.get(key) if len(parents) > 1 else next(iter(parents.values()))
        if match is None:
            continue
        reason = validate_warm_start(match, definition)
        if reason:
            raise ValidationException(f"Cannot warm start from parent tuning job {name}: {reason}")


def _objective_set(objectives: Sequence[Doc]) -> set[tuple[str, str]]:
    return {(o["MetricName"], o["Type"]) for o in objectives}


def _definition_map(job: Doc) -> dict[str | None, Definition]:
    """Each definition's hyperparameters for warm start checks, keyed by DefinitionName."""
    definitions = job.get("TrainingJobDefinitions") or [job["TrainingJobDefinition"]]
    return {
        d.get("DefinitionName"): Definition(_space(ranges, label), _statics(d))
        for d, (label, ranges) in zip(definitions, _ranges(job), strict=True)
    }


# --- CreateTrainingJob -------------------------------------------------------------------------


def check_create_training_job(params: Doc) -> None:
    """Raise ValidationException when a shape-valid CreateTrainingJob request breaks a rule."""
    spec = params.get("AlgorithmSpecification")
    if spec is None:
        raise ValidationException(
            "AlgorithmSpecification is required: give TrainingImage (or AlgorithmName) and "
            "TrainingInputMode."
        )
    check_algorithm_specification(spec)
    check_stopping_condition(
        params.get("StoppingCondition") or {}, bool(params.get("EnableManagedSpotTraining"))
    )
    check_channels(params.get("InputDataConfig") or ())


# --- rules shared by both operations ----------------------------------------------------------


def check_algorithm_specification(spec: Doc) -> None:
    """Exactly one of TrainingImage / AlgorithmName, and metric definitions that can work."""
    if ("TrainingImage" in spec) == ("AlgorithmName" in spec):
        raise ValidationException(
            "AlgorithmSpecification needs exactly one of TrainingImage or AlgorithmName."
        )
    check_metric_definitions(spec.get("MetricDefinitions") or ())


def check_metric_definitions(definitions: Sequence[Doc]) -> None:
    """Unique names; each regex compiles (Python `re`) and captures the value in a group."""
    names = [d["Name"] for d in definitions]
    duplicates = _duplicates(names)
    if duplicates:
        raise ValidationException(
            f"MetricDefinitions names must be unique; {duplicates} is defined more than once."
        )
    for d in definitions:
        try:
            groups = re.compile(d["Regex"]).groups
        except re.error as exc:
            raise ValidationException(
                f"The Regex of metric {d['Name']} is not a valid regular expression ({exc}): "
                f"{d['Regex']}"
            ) from exc
        if groups < 1:
            raise ValidationException(
                f"The Regex of metric {d['Name']} has no capture group; wrap the metric value in "
                f"parentheses, e.g. 'loss: ([0-9\\.]+)'. Regex: {d['Regex']}"
            )


def check_stopping_condition(stopping: Doc, managed_spot: bool) -> None:
    """MaxRuntimeInSeconds within 28 days; MaxWaitTimeInSeconds only for spot, >= runtime."""
    runtime = stopping.get("MaxRuntimeInSeconds")
    if runtime is not None and runtime > MAX_RUNTIME_SECONDS:
        raise ValidationException(
            f"StoppingCondition.MaxRuntimeInSeconds is {runtime}; the maximum is "
            f"{MAX_RUNTIME_SECONDS} (28 days)."
        )
    wait = stopping.get("MaxWaitTimeInSeconds")
    if wait is None:
        return
    if not managed_spot:
        raise ValidationException(
            "StoppingCondition.MaxWaitTimeInSeconds is only allowed with managed spot training; "
            "set EnableManagedSpotTraining to true or remove MaxWaitTimeInSeconds."
        )
    if runtime is not None and wait < runtime:
        raise ValidationException(
            f"StoppingCondition.MaxWaitTimeInSeconds ({wait}) must be greater than or equal to "
            f"MaxRuntimeInSeconds ({runtime})."
        )


def check_channels(channels: Sequence[Doc]) -> None:
    """Channel names are the directories under /opt/ml/input/data, so they must be unique."""
    names = [c["ChannelName"] for c in channels]
    duplicates = _duplicates(names)
    if duplicates:
        raise ValidationException(
            f"InputDataConfig channel names must be unique; {duplicates} is used more than once."
        )


__all__ = [
    "check_algorithm_specification",
    "check_channels",
    "check_create_training_job",
    "check_create_tuning_job",
    "check_metric_definitions",
    "check_stopping_condition",
    "grid_combinations",
]
