"""Requests sent to workers over a bus: re-sent when unanswered, applied once, failed when no
worker ever answers. The in-process bus and a manual clock; no broker."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial

from emulator.bus.base import topic_matches
from emulator.bus.memory import InProcessBus
from emulator.clock import Clock, ManualClock, SystemClock
from emulator.domain.events import (
    SHARED_SUGGESTION_REQUESTS,
    TUNER_STATUS,
    SuggestionAnswered,
    SuggestionRequested,
    SuggestionTaken,
    TunerGone,
    TunerOnline,
    tuner_topic,
)
from emulator.suggest.codec import decode_request, encode_answer
from emulator.suggest.remote import RemoteSuggestions
from emulator.suggest.worker import answer_requests
from emulator.tuner.suggestion import SuggestionAnswer, SuggestionRequest, answer
from tests.unit.test_suggestion import bayesian_request


def test_a_shared_subscription_matches_as_its_filter():
    assert topic_matches("$share/g/amt/v1/suggestions/requests", "amt/v1/suggestions/requests")
    assert topic_matches("$share/g/amt/+/x", "amt/v1/x")
    assert not topic_matches("$share/g/amt/v1/other", "amt/v1/suggestions/requests")


class Outcomes:
    def __init__(self) -> None:
        self.answers: list[SuggestionAnswer] = []
        self.failures: list[str] = []
        self.done = asyncio.Event()

    async def deliver(self, reply: SuggestionAnswer) -> None:
        self.answers.append(reply)
        self.done.set()

    async def fail(self, request: SuggestionRequest, reason: str) -> None:
        self.failures.append(reason)
        self.done.set()


async def reply(
    bus: InProcessBus, clock: Clock, event: SuggestionRequested, copies: int = 1
) -> None:
    """Answer `event` as a worker does, `copies` times."""
    encoded = encode_answer(answer(decode_request(event.request)))
    for _ in range(copies):
        await bus.publish(event.reply_to, SuggestionAnswered(ts=clock.now(), answer=encoded))


First = Callable[[SuggestionRequested], Awaitable[None]]


async def worker_that(
    bus: InProcessBus, clock: Clock, first: First, *, copies: int = 1, late: bool = False
) -> None:
    """A fake worker: does `first` with the first request instead of answering it, and
    answers every later one `copies` times. `late`: it subscribes only after the request
    was published (to nobody), then says it is online."""
    if late:
        for _ in range(10):
            await asyncio.sleep(0)
    async with bus.subscribe(SHARED_SUGGESTION_REQUESTS) as requests:
        if late:
            online = TunerOnline(ts=clock.now(), worker="w2")
            await bus.publish(tuner_topic("w2"), online, retain=True)
        seen = 0
        async for _topic, event in requests:
            assert isinstance(event, SuggestionRequested)
            seen += 1
            if seen == 1:
                await first(event)
            else:
                await reply(bus, clock, event, copies)


async def gone(bus: InProcessBus, clock: Clock, worker: str) -> None:
    """`worker`'s last will, as the broker publishes it."""
    await bus.publish(tuner_topic(worker), TunerGone(ts=clock.now(), worker=worker))


async def run(remote: RemoteSuggestions, worker, outcomes: Outcomes) -> None:
    async with asyncio.TaskGroup() as tasks:
        runner = tasks.create_task(remote.run())
        helper = tasks.create_task(worker) if worker else None
        await asyncio.sleep(0)  # subscribed before the first request
        remote.ask(bayesian_request())
        await asyncio.wait_for(outcomes.done.wait(), 30)
        for _ in range(20):  # a second delivery would come within these turns
            await asyncio.sleep(0)
        runner.cancel()
        if helper:
            helper.cancel()


async def test_an_unanswered_request_is_sent_again_and_its_answer_applied_once():
    bus, clock, outcomes = InProcessBus(), ManualClock(), Outcomes()
    remote = RemoteSuggestions(bus, clock, outcomes.deliver, outcomes.fail, timeout_seconds=2)

    async def deaf(event: SuggestionRequested) -> None:
        pass

    await run(remote, worker_that(bus, clock, deaf, copies=2), outcomes)
    assert outcomes.failures == []
    assert outcomes.answers == [answer(bayesian_request())]
    assert remote.resent == 1


async def test_a_request_no_worker_answers_fails_after_the_attempts():
    bus, clock, outcomes = InProcessBus(), ManualClock(), Outcomes()
    remote = RemoteSuggestions(
        bus, clock, outcomes.deliver, outcomes.fail, attempts=2, timeout_seconds=2
    )
    await run(remote, None, outcomes)
    (reason,) = outcomes.failures
    assert reason.startswith("InternalServerError: No suggestion worker answered")
    assert remote.resent == 1


async def test_the_worker_answers_what_the_control_plane_asks():
    # Real time: a manual clock would run out the timeout while the worker computes.
    bus, clock, outcomes = InProcessBus(), SystemClock(), Outcomes()
    remote = RemoteSuggestions(bus, clock, outcomes.deliver, outcomes.fail)
    await run(remote, answer_requests(bus, clock), outcomes)
    assert outcomes.answers == [answer(bayesian_request())]


async def test_an_answer_that_cannot_be_read_is_skipped():
    bus, clock, outcomes = InProcessBus(), ManualClock(), Outcomes()
    remote = RemoteSuggestions(bus, clock, outcomes.deliver, outcomes.fail, timeout_seconds=2)

    async def garbled_then_answered(event: SuggestionRequested) -> None:
        garbled = SuggestionAnswered(ts=clock.now(), answer={"configs": 3})
        await bus.publish(event.reply_to, garbled)
        await reply(bus, clock, event)

    await run(remote, worker_that(bus, clock, garbled_then_answered), outcomes)
    assert outcomes.answers == [answer(bayesian_request())]


async def test_a_request_whose_worker_goes_is_sent_again_at_once_not_after_the_timeout():
    bus, clock, outcomes = InProcessBus(), ManualClock(), Outcomes()
    remote = RemoteSuggestions(bus, clock, outcomes.deliver, outcomes.fail, timeout_seconds=3600)

    async def taken_by_one_that_goes(event: SuggestionRequested) -> None:
        """w1 takes it; another worker goes (its will concerns nothing outstanding: w1 holds
        the request), then w1 goes."""
        request_id = decode_request(event.request).request_id
        taken = SuggestionTaken(ts=clock.now(), worker="w1", request_id=request_id)
        await bus.publish(event.reply_to, taken)
        await gone(bus, clock, "w0")
        await gone(bus, clock, "w1")

    await run(remote, worker_that(bus, clock, taken_by_one_that_goes), outcomes)
    assert outcomes.failures == []
    assert outcomes.answers == [answer(bayesian_request())]
    assert remote.resent == 1
    assert clock.monotonic() < 600  # the will, not the 3600 s timeout, sent it again


def queued_for_one_that_goes(bus: InProcessBus, clock: Clock) -> First:
    """The first request sits unread with worker w1, which goes before taking it."""

    async def first(event: SuggestionRequested) -> None:
        await gone(bus, clock, "w1")

    return first


async def test_a_request_no_worker_took_is_sent_again_when_a_worker_goes():
    bus, clock, outcomes = InProcessBus(), ManualClock(), Outcomes()
    remote = RemoteSuggestions(bus, clock, outcomes.deliver, outcomes.fail, timeout_seconds=3600)
    await run(remote, worker_that(bus, clock, queued_for_one_that_goes(bus, clock)), outcomes)
    assert outcomes.answers == [answer(bayesian_request())]
    assert remote.resent == 1
    assert clock.monotonic() < 600


async def test_a_request_sent_while_no_worker_listened_is_sent_again_when_one_comes():
    bus, clock, outcomes = InProcessBus(), ManualClock(), Outcomes()
    remote = RemoteSuggestions(bus, clock, outcomes.deliver, outcomes.fail, timeout_seconds=3600)
    await run(remote, worker_that(bus, clock, partial(reply, bus, clock), late=True), outcomes)
    assert outcomes.answers == [answer(bayesian_request())]
    assert remote.resent == 1
    assert clock.monotonic() < 600  # the worker's arrival, not the 3600 s timeout


async def test_a_will_of_a_worker_that_held_nothing_costs_the_request_no_attempt():
    """One attempt only: the request no worker took is sent again when some worker's will
    comes (maybe one delivered again, retained), and that must not fail the tuning job."""
    bus, clock, outcomes = InProcessBus(), ManualClock(), Outcomes()
    remote = RemoteSuggestions(
        bus, clock, outcomes.deliver, outcomes.fail, attempts=1, timeout_seconds=3600
    )
    await run(remote, worker_that(bus, clock, queued_for_one_that_goes(bus, clock)), outcomes)
    assert outcomes.failures == []
    assert outcomes.answers == [answer(bayesian_request())]


async def test_a_worker_that_stops_says_it_is_gone_as_its_will_would():
    """A clean disconnect sends no last will: without the worker's own goodbye, the requests
    it held would wait for the control plane's timeout."""
    bus, clock = InProcessBus(), SystemClock()
    async with bus.subscribe(TUNER_STATUS) as status:
        worker = asyncio.create_task(answer_requests(bus, clock, "w1", processes=1))
        _topic, online = await asyncio.wait_for(anext(status), 30)
        assert online == TunerOnline(ts=online.ts, worker="w1", event_id=online.event_id)
        worker.cancel()
        _topic, gone = await asyncio.wait_for(anext(status), 30)
        assert isinstance(gone, TunerGone) and gone.worker == "w1"
    assert worker.cancelled()
