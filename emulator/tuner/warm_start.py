"""Warm start: parents' training jobs as prior observations of the child tuning job, plus the
checks AWS makes on how the hyperparameters may change between parent and child.

Mapping a parent job's configuration into the child's space, for both warm-start types:

- a hyperparameter tunable in the child takes the parent job's value for it — its tuned value,
  or the parent's static value when it was static there; numbers outside the child's range are
  clipped into it, while a categorical value the child no longer lists drops the whole job (no
  nearest category exists); a value the parent never set (or that does not parse) becomes the
  midpoint of the child's range in its scaled axis;
- hyperparameters static in the child are dropped from the configuration (strategies only see
  tunables).

IdenticalDataAndAlgorithm keeps the parents' objective values as they are: same data and
algorithm, so the numbers are directly comparable with the child's.

TransferLearning replaces each parent's values by normalised ranks within that parent: `0` for
its lowest value, `1` for its highest (ties share their mean rank; a single job gets 0.5). Data
or algorithm differ between tasks, so only the *order* of configurations carries over: a loss of
0.3 on one dataset and 3.0 on another say nothing about each other, but "this configuration was
the best of its task" does. The ranks are monotone in the raw values, so "better" keeps its
direction for both objective types. Learning curves are dropped for the same reason.

Jobs without a final objective value teach nothing about the objective and are left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from emulator.tuner.model import Config, Observation
from emulator.tuner.space import (
    CategoricalParam,
    ContinuousParam,
    IntegerParam,
    Param,
    SearchSpace,
    clip_value,
    midpoint,
)

IDENTICAL = "IdenticalDataAndAlgorithm"
TRANSFER = "TransferLearning"
MAX_STATIC_CHANGES = 10
INTERNAL_HYPERPARAMETERS = frozenset({"_tuning_objective_metric"})
"""Added by the service itself; never part of what the user changed."""


@dataclass(frozen=True)
class Definition:
    """The hyperparameters of one (parent or child) tuning job's training job definition."""

    space: SearchSpace
    static: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ParentJobs:
    """A parent tuning job's finished training jobs, with the definition they ran under."""

    observations: Sequence[Observation]
    static: Mapping[str, str] = field(default_factory=dict)


# --- mapping observations ---------------------------------------------------------------------


def map_config(config: Config, static: Mapping[str, str], space: SearchSpace) -> Config | None:
    """A parent job's configuration in the child's space; None when it cannot be placed."""
    mapped: Config = {}
    for p in space.params:
        text = config.get(p.name, static.get(p.name))
        value = clip_value(p, text) if text is not None else None
        if value is None and text is not None and isinstance(p, CategoricalParam):
            return None
        mapped[p.name] = value if value is not None else midpoint(p)
    return mapped


def _mapped(parent: ParentJobs, space: SearchSpace) -> list[Observation]:
    out = []
    for o in parent.observations:
        config = map_config(o.config, parent.static, space) if o.value is not None else None
        if config is not None:
            out.append(replace(o, config=config))
    return out


def normalised_ranks(values: Sequence[float]) -> list[float]:
    """Each value's rank among `values` scaled to [0, 1] (ties averaged; one value -> 0.5)."""
    if len(values) == 1:
        return [0.5]
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for i in order[start : end + 1]:
            ranks[i] = (start + end) / 2 / (len(values) - 1)
        start = end + 1
    return ranks


def ranked(observations: Sequence[Observation]) -> list[Observation]:
    """Values replaced by normalised ranks; failed jobs (no value) are left out."""
    observations = [o for o in observations if o.value is not None]
    ranks = normalised_ranks([o.value for o in observations if o.value is not None])
    return [replace(o, value=r, curve=()) for o, r in zip(observations, ranks, strict=True)]


def prior_observations(
    warm_start_type: str, parents: Sequence[ParentJobs], space: SearchSpace
) -> tuple[Observation, ...]:
    """The parents' jobs as the child's `History.prior`, per the module docstring."""
    if warm_start_type not in (IDENTICAL, TRANSFER):
        raise ValueError(f"unknown WarmStartType {warm_start_type!r}")
    prior: list[Observation] = []
    for parent in parents:
        mapped = _mapped(parent, space)
        prior += ranked(mapped) if warm_start_type == TRANSFER and mapped else mapped
    return tuple(prior)


# --- validating the change from parent to child -----------------------------------------------


def _kind(p: Param) -> str:
    if isinstance(p, ContinuousParam):
        return "continuous"
    return "integer" if isinstance(p, IntegerParam) else "categorical"


def _static(definition: Definition) -> dict[str, str]:
    return {k: v for k, v in definition.static.items() if k not in INTERNAL_HYPERPARAMETERS}


def _count(definition: Definition) -> int:
    return len(definition.space.params) + len(_static(definition))


def _type_change(parent: Definition, child: Definition) -> str | None:
    for p in child.space.params:
        if p.name in parent.space.names:
            before, after = _kind(parent.space.param(p.name)), _kind(p)
            if before != after:
                return (
                    f"The type of hyperparameter {p.name} changed from {before} to {after}; "
                    "warm start requires each hyperparameter to keep its type."
                )
    return None


def static_changes(parent: Definition, child: Definition) -> int:
    """Tunable->static changes (a categorical counts its values) plus changed static values."""
    parent_static, child_static = _static(parent), _static(child)
    count = 0
    for name in child_static:
        if name in parent.space.names:
            p = parent.space.param(name)
            count += len(p.values) if isinstance(p, CategoricalParam) else 1
        elif name in parent_static and parent_static[name] != child_static[name]:
            count += 1
    return count


def validate_warm_start(parent: Definition, child: Definition) -> str | None:
    """Why AWS would reject warm-starting `child` from `parent`, or None when it is allowed."""
    if _count(parent) != _count(child):
        return (
            f"The total number of static and tunable hyperparameters must not change; the parent "
            f"has {_count(parent)} and this job has {_count(child)}."
        )
    type_error = _type_change(parent, child)
    if type_error:
        return type_error
    changes = static_changes(parent, child)
    if changes > MAX_STATIC_CHANGES:
        return (
            f"{changes} changes from tunable to static hyperparameters and of static values "
            f"exceed the limit of {MAX_STATIC_CHANGES}."
        )
    return None
