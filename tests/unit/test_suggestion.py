"""Suggestions as requests and answers: pure, picklable, answered once, wherever answered."""

from __future__ import annotations

import json
import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor

from emulator.clock import ManualClock
from emulator.domain.commands import Launch, TuningEnded
from emulator.records import JobRecords
from emulator.store.sqlite import Store
from emulator.suggest.codec import decode_answer, decode_request, encode_answer, encode_request
from emulator.tuner.model import History, Observation
from emulator.tuner.service import TunerService
from emulator.tuner.space import CategoricalParam, ContinuousParam, IntegerParam, SearchSpace
from emulator.tuner.suggestion import SuggestionAnswer, SuggestionRequest, answer, needs_worker
from tests.unit.test_tuner_service import create, finish

SPACE = SearchSpace(
    (
        ContinuousParam("lr", 1e-4, 1.0, "Logarithmic"),
        IntegerParam("layers", 1, 8, "Linear"),
        CategoricalParam("opt", ("sgd", "adam")),
    )
)


def bayesian_request(request_id: str = "r1") -> SuggestionRequest:
    observations = tuple(
        Observation({"lr": str(0.001 * (i + 1)), "layers": str(i % 8 + 1), "opt": "sgd"}, v)
        for i, v in enumerate([0.3, 0.5, 0.2, 0.7, 0.6, None])
    )
    history = History(
        "Maximize",
        observations=observations,
        pending=({"lr": "0.5", "layers": "3", "opt": "adam"},),
        launched=7,
    )
    return SuggestionRequest("t", request_id, "Bayesian", SPACE, history, 3, seed=42, stream=7)


def test_a_request_survives_pickling_and_gets_the_same_answer():
    request = bayesian_request()
    copy = pickle.loads(pickle.dumps(request))
    assert copy == request
    assert answer(copy) == answer(request)
    assert len(answer(request).configs) == 3


def test_two_worker_processes_answer_a_request_alike():
    request = bayesian_request()
    context = multiprocessing.get_context("spawn")
    with (
        ProcessPoolExecutor(1, mp_context=context) as one,
        ProcessPoolExecutor(1, mp_context=context) as other,
    ):
        first = one.submit(answer, request).result(timeout=120)
        second = other.submit(answer, request).result(timeout=120)
    assert first == second == answer(request)


def test_the_seed_and_the_stream_position_choose_the_draws():
    request = SuggestionRequest(**{**bayesian_request().__dict__, "strategy": "Random"})
    resent = SuggestionRequest(**{**request.__dict__, "request_id": "r2"})
    assert answer(resent).configs == answer(request).configs
    assert answer(SuggestionRequest(**{**request.__dict__, "seed": 43})) != answer(request)
    later = SuggestionRequest(**{**request.__dict__, "stream": 8})
    assert answer(later).configs != answer(request).configs


class Later:
    """Keeps every request; answers none until the test says so."""

    def __init__(self) -> None:
        self.requests: list[SuggestionRequest] = []

    def ask(self, request: SuggestionRequest) -> SuggestionAnswer | None:
        self.requests.append(request)
        return None


def deferred_tuner() -> tuple[TunerService, Store, ManualClock, Later]:
    clock = ManualClock()
    store = Store(":memory:")
    later = Later()
    records = JobRecords(store, clock, "us-east-1", "1" * 12)
    return TunerService(store, records, clock, later), store, clock, later


def launched(commands):
    return [c.job for c in commands if isinstance(c, Launch)]


def test_a_late_answer_launches_its_configurations_once_and_like_an_immediate_one():
    service, store, clock, later = deferred_tuner()
    create(store, clock, "t", HyperParameterTuningJobConfig={"RandomSeed": 5})
    assert launched(service.on_tuning_changed("t")) == []
    assert service.on_tuning_changed("t") == []  # one request out at a time
    (request,) = later.requests
    reply = answer(request)
    started = launched(service.on_suggestions(reply))
    assert len(started) == 2
    assert service.on_suggestions(reply) == []  # never applied twice
    tuned = [store.get_training_job(n).tuned for n in started]
    assert tuned == list(reply.configs)

    # The same tuning job with answers given at once launches the same configurations.
    clock2 = ManualClock()
    store2 = Store(":memory:")
    at_once = TunerService(store2, JobRecords(store2, clock2, "us-east-1", "1" * 12), clock2)
    create(store2, clock2, "t", HyperParameterTuningJobConfig={"RandomSeed": 5})
    names = launched(at_once.on_tuning_changed("t"))
    assert [store2.get_training_job(n).tuned for n in names] == tuned


def test_an_answer_for_a_stopped_tuning_job_is_dropped():
    service, store, clock, later = deferred_tuner()
    create(store, clock, "t", HyperParameterTuningJobConfig={"RandomSeed": 5})
    service.on_tuning_changed("t")
    row = store.get_tuning_job("t")
    service.records.move_tuning(row, "Stopping")
    store.update_tuning_job(row)
    ended = service.on_tuning_changed("t")
    assert ended == [TuningEnded("t", "Stopped")]
    assert service.on_suggestions(answer(later.requests[0])) == []
    assert store.children("t") == []


def test_an_unanswerable_request_fails_its_tuning_job_with_the_reason():
    service, store, clock, later = deferred_tuner()
    create(store, clock, "t", HyperParameterTuningJobConfig={"RandomSeed": 5})
    service.on_tuning_changed("t")
    commands = service.on_suggestions_failed(later.requests[0], "InternalServerError: lost")
    assert commands == [TuningEnded("t", "Failed")]
    doc = store.get_tuning_job("t").doc
    assert doc["FailureReason"] == "InternalServerError: lost"


def test_an_answer_asks_again_when_jobs_ended_while_it_was_computed():
    service, store, clock, later = deferred_tuner()
    create(store, clock, "t", HyperParameterTuningJobConfig={"RandomSeed": 5})
    service.on_tuning_changed("t")
    first = launched(service.on_suggestions(answer(later.requests[0])))
    assert len(later.requests) == 1
    finish(service, first[0], "Completed", 0.4)
    service.on_tuning_changed("t")
    assert len(later.requests) == 2
    finish(service, first[1], "Completed", 0.6)
    assert service.on_tuning_changed("t") == []  # the second request is still out
    assert later.requests[1].n == 1
    started = launched(service.on_suggestions(answer(later.requests[1])))
    assert len(started) == 1
    assert len(later.requests) == 3  # room for one more: asked at once
    assert later.requests[2].stream == 3
    assert len(later.requests[2].history.observations) == 2


def test_a_request_and_its_answer_cross_as_json_unchanged():
    base = bayesian_request()
    prior = (Observation({"lr": "0.01", "layers": "2", "opt": "adam"}, 0.4, (0.1, 0.4), "a"),)
    request = SuggestionRequest(
        **{**base.__dict__, "history": History("Minimize", base.history.observations, prior=prior)}
    )
    wire = json.loads(json.dumps(encode_request(request)))
    assert decode_request(wire) == request
    reply = answer(request)
    assert decode_answer(json.loads(json.dumps(encode_answer(reply)))) == reply


def test_only_a_model_is_worth_a_worker():
    base = bayesian_request()
    assert needs_worker(base)
    for strategy in ("Random", "Grid", "Hyperband"):
        assert not needs_worker(SuggestionRequest(**{**base.__dict__, "strategy": strategy}))
