"""Several training job definitions in one tuning job, as one search space.

The choice of definition is one more categorical dimension, `_definition`; each definition's
hyperparameters become dimensions named `<DefinitionName>.<name>`. A configuration of one
definition is embedded with the other definitions' dimensions at their range midpoints, so a
strategy (Bayesian included) learns across definitions without knowing they exist: only the
definition dimension and that definition's own dimensions vary between its jobs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from emulator.tuner.model import Config, History, Observation
from emulator.tuner.space import CategoricalParam, Param, SearchSpace, midpoint

DEFINITION = "_definition"


def joint_space(spaces: Mapping[str, SearchSpace]) -> SearchSpace:
    params: list[Param] = [CategoricalParam(DEFINITION, tuple(spaces))]
    for name, space in spaces.items():
        params += [replace(p, name=f"{name}.{p.name}") for p in space.params]
    return SearchSpace(tuple(params))


def embed(definition: str, config: Config, spaces: Mapping[str, SearchSpace]) -> Config:
    """A definition's own configuration as a point of the joint space."""
    joint: Config = {DEFINITION: definition}
    for name, space in spaces.items():
        for p in space.params:
            own = config.get(p.name) if name == definition else None
            joint[f"{name}.{p.name}"] = own if own is not None else midpoint(p)
    return joint


def split(joint: Config) -> tuple[str, Config]:
    """(definition, its own configuration) of a joint-space point."""
    definition = joint[DEFINITION]
    prefix = f"{definition}."
    own = {k[len(prefix) :]: v for k, v in joint.items() if k.startswith(prefix)}
    return definition, own


def joint_history(
    history_by_definition: Mapping[str, History], spaces: Mapping[str, SearchSpace]
) -> History:
    """Merge per-definition histories (same objective type) into one over the joint space."""
    first = next(iter(history_by_definition.values()))
    observations: list[Observation] = []
    pending: list[Config] = []
    for name, history in history_by_definition.items():
        observations += [
            replace(o, config=embed(name, o.config, spaces)) for o in history.observations
        ]
        pending += [embed(name, c, spaces) for c in history.pending]
    return History(
        objective_type=first.objective_type,
        observations=tuple(observations),
        pending=tuple(pending),
        launched=sum(h.launched for h in history_by_definition.values()),
    )
