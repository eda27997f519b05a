"""Requests for suggestions and their answers as JSON-ready dicts, for workers on other hosts.

Pickle serves the local pool; across a broker only plain data travels (a worker must not run
what a message says). `decode_request(encode_request(r)) == r` for every request.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from emulator.tuner.model import History, ObjectiveType, Observation
from emulator.tuner.space import CategoricalParam, ContinuousParam, IntegerParam, Param, SearchSpace
from emulator.tuner.suggestion import SuggestionAnswer, SuggestionRequest

_PARAM_TYPES: dict[str, type[Param]] = {
    "continuous": ContinuousParam,
    "integer": IntegerParam,
    "categorical": CategoricalParam,
}
_TYPE_NAMES = {cls: name for name, cls in _PARAM_TYPES.items()}


def encode_request(request: SuggestionRequest) -> dict[str, Any]:
    return {
        "tuning_job": request.tuning_job,
        "request_id": request.request_id,
        "strategy": request.strategy,
        "space": [{"type": _TYPE_NAMES[type(p)], **asdict(p)} for p in request.space.params],
        "history": _encode_history(request.history),
        "n": request.n,
        "seed": request.seed,
        "stream": request.stream,
    }


def decode_request(data: dict[str, Any]) -> SuggestionRequest:
    return SuggestionRequest(
        tuning_job=str(data["tuning_job"]),
        request_id=str(data["request_id"]),
        strategy=str(data["strategy"]),
        space=SearchSpace(tuple(_decode_param(p) for p in data["space"])),
        history=_decode_history(data["history"]),
        n=int(data["n"]),
        seed=int(data["seed"]),
        stream=int(data["stream"]),
    )


def encode_answer(answer: SuggestionAnswer) -> dict[str, Any]:
    return {
        "tuning_job": answer.tuning_job,
        "request_id": answer.request_id,
        "configs": [dict(c) for c in answer.configs],
    }


def decode_answer(data: dict[str, Any]) -> SuggestionAnswer:
    configs = tuple({str(k): str(v) for k, v in c.items()} for c in data["configs"])
    return SuggestionAnswer(str(data["tuning_job"]), str(data["request_id"]), configs)


def _decode_param(data: dict[str, Any]) -> Param:
    fields = {k: v for k, v in data.items() if k != "type"}
    if data["type"] == "categorical":
        return CategoricalParam(str(fields["name"]), tuple(str(v) for v in fields["values"]))
    cls = _PARAM_TYPES[data["type"]]
    return cls(**fields)


def _encode_observation(o: Observation) -> dict[str, Any]:
    return {
        "config": o.config,
        "value": o.value,
        "curve": list(o.curve),
        "definition": o.definition,
    }


def _decode_observation(data: dict[str, Any]) -> Observation:
    value = data["value"]
    return Observation(
        config={str(k): str(v) for k, v in data["config"].items()},
        value=None if value is None else float(value),
        curve=tuple(float(v) for v in data["curve"]),
        definition=data["definition"],
    )


def _encode_history(history: History) -> dict[str, Any]:
    return {
        "objective_type": history.objective_type,
        "observations": [_encode_observation(o) for o in history.observations],
        "pending": [dict(c) for c in history.pending],
        "launched": history.launched,
        "prior": [_encode_observation(o) for o in history.prior],
    }


def _decode_history(data: dict[str, Any]) -> History:
    objective: ObjectiveType = "Maximize" if data["objective_type"] == "Maximize" else "Minimize"
    return History(
        objective_type=objective,
        observations=tuple(_decode_observation(o) for o in data["observations"]),
        pending=tuple({str(k): str(v) for k, v in c.items()} for c in data["pending"]),
        launched=int(data["launched"]),
        prior=tuple(_decode_observation(o) for o in data["prior"]),
    )
