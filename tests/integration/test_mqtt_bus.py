"""The MQTT bus against a real Mosquitto: delivery, sessions, crashes, last will, auth, TLS."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import paho.mqtt.publish
import pytest

from emulator.bus.factory import open_bus
from emulator.bus.memory import InProcessBus
from emulator.bus.mqtt import BusConnectError, MqttBus, TlsOptions, parse_url
from emulator.clock import SystemClock
from emulator.domain.events import (
    HEARTBEATS,
    AgentHeartbeat,
    Event,
    StopTraining,
    TrainingLog,
    TrainingMetric,
    agent_topic,
    training_topic,
)
from tests.broker import Broker
from tests.integration.conftest import BrokerFactory

ROOT = Path(__file__).resolve().parents[2]
METRICS = "amt/v1/training-jobs/+/metrics"
CLOCK = SystemClock()

Items = AsyncIterator[tuple[str, Event]]


def metric(seq: int, job: str = "job-1") -> TrainingMetric:
    return TrainingMetric(ts=0.0, job=job, seq=seq, name="loss", value=seq / 10)


def heartbeat(agent: str, online: bool = True) -> AgentHeartbeat:
    return AgentHeartbeat(ts=0.0, agent=agent, host="h", slots=2, free_slots=2, online=online)


async def take(items: Items, count: int, within: float = 10.0) -> list[tuple[str, Event]]:
    async def gather() -> list[tuple[str, Event]]:
        return [await anext(items) for _ in range(count)]

    return await asyncio.wait_for(gather(), within)


async def nothing_more(items: Items, wait: float = 0.3) -> bool:
    try:
        await asyncio.wait_for(anext(items), wait)
    except TimeoutError:
        return True
    return False


def bus(url: str, client_id: str, **options: object) -> MqttBus:
    return MqttBus(url, client_id=client_id, **options)  # type: ignore[arg-type]


# No broker needed.


def test_urls_carry_credentials_port_and_tls_options() -> None:
    plain = parse_url("mqtt://amt:p%40ss@broker.lan:1884")
    assert (plain.host, plain.port, plain.username, plain.password, plain.tls) == (
        "broker.lan",
        1884,
        "amt",
        "p@ss",
        None,
    )
    secure = parse_url("mqtts://broker.lan?ca_certs=/etc/ca.pem&insecure=1")
    assert secure.port == 8883
    assert secure.tls == TlsOptions(ca_certs="/etc/ca.pem", insecure=True)
    assert parse_url("mqtt://localhost").port == 1883
    with pytest.raises(ValueError, match="not an MQTT URL"):
        parse_url("http://localhost:1883")


async def test_factory_picks_the_implementation_from_the_url(broker: Broker) -> None:
    for url in (None, "memory://"):
        async with open_bus(url, client_id="x") as embedded:
            assert isinstance(embedded, InProcessBus)
    async with open_bus(broker.url, client_id="factory") as remote:
        assert isinstance(remote, MqttBus) and remote.connected
    with pytest.raises(ValueError, match="unsupported bus URL"):
        open_bus("amqp://localhost", client_id="x")


# Against a broker.


async def test_round_trip_with_wildcards_and_local_fan_out(broker: Broker) -> None:
    job1, job2 = metric(1, "job-1"), metric(2, "job-2")
    beat, marker = heartbeat("a1"), heartbeat("a9")
    async with (
        bus(broker.url, "sub") as sub,
        bus(broker.url, "pub") as pub,
        sub.subscribe(METRICS) as metrics,
        sub.subscribe("amt/v1/agents/#", training_topic("job-1", "+")) as mixed,
    ):
        await pub.publish(training_topic("job-1", "metrics"), job1)
        await pub.publish(training_topic("job-2", "logs"), TrainingLog(ts=0.0, job="job-2"))
        await pub.publish(agent_topic("a1", "heartbeat"), beat)
        await pub.publish(training_topic("job-2", "stop"), StopTraining(ts=0.0, job="job-2"))
        await pub.publish(training_topic("job-2", "metrics"), job2)
        await pub.publish(agent_topic("a9", "heartbeat"), marker)

        assert await take(mixed, 3) == [
            (training_topic("job-1", "metrics"), job1),
            (agent_topic("a1", "heartbeat"), beat),
            (agent_topic("a9", "heartbeat"), marker),
        ]
        assert await take(metrics, 2) == [
            (training_topic("job-1", "metrics"), job1),
            (training_topic("job-2", "metrics"), job2),
        ]
        assert await nothing_more(metrics)


async def test_retained_heartbeat_reaches_a_late_subscriber(broker: Broker) -> None:
    async with bus(broker.url, "agent-1") as agent:
        await agent.publish(agent_topic("a1", "heartbeat"), heartbeat("a1"), retain=True)
        newest = heartbeat("a1")
        await agent.publish(agent_topic("a1", "heartbeat"), newest, retain=True)
        await agent.flush()
    async with bus(broker.url, "late") as late, late.subscribe(HEARTBEATS) as beats:
        assert await take(beats, 1) == [(agent_topic("a1", "heartbeat"), newest)]
        assert await nothing_more(beats)


async def test_a_returning_subscriber_gets_what_was_published_while_it_was_away(
    broker: Broker,
) -> None:
    async with bus(broker.url, "control-plane") as sub, sub.subscribe(METRICS):
        pass  # the broker now keeps this subscription for the client id
    sent = [metric(i) for i in range(5)]
    async with bus(broker.url, "agent") as pub:
        for event in sent:
            await pub.publish(training_topic("job-1", "metrics"), event)
        await pub.flush()
    async with bus(broker.url, "control-plane") as sub, sub.subscribe(METRICS) as items:
        assert [event for _, event in await take(items, 5)] == sent
    async with bus(broker.url, "stranger") as other, other.subscribe(METRICS) as items:
        assert await nothing_more(items)  # the session, not retention, kept them


async def test_publishing_through_a_broker_crash_loses_nothing(broker: Broker) -> None:
    """SIGKILL the broker mid-stream: every numbered event arrives, in order of first arrival.

    The broker has acknowledged many events it has not yet passed on or saved when it dies;
    the publisher's replay window is what brings those back.
    """
    total = 2000
    topic = training_topic("job-1", "metrics")
    async with bus(broker.url, "control-plane") as sub, sub.subscribe(METRICS) as items:
        broker.save()  # the subscription is on disk before the crash
        async with bus(broker.url, "agent", backoff=(0.05, 0.5)) as pub:
            for seq in range(total):
                await pub.publish(topic, metric(seq))
            seen = [_seq(event) for _, event in await take(items, total // 4)]
            broker.kill()
            await CLOCK.sleep(0.3)
            broker.start()
            while set(seen) != set(range(total)):
                seen += [_seq(event) for _, event in await take(items, 1)]
    assert list(dict.fromkeys(seen)) == list(range(total))


def _seq(event: Event) -> int:
    assert isinstance(event, TrainingMetric)
    return event.seq


async def test_events_published_while_the_broker_is_down_wait_in_the_outbox(broker: Broker) -> None:
    sent = [metric(i) for i in range(3)]
    async with (
        bus(broker.url, "control-plane", backoff=(0.05, 0.2)) as sub,
        sub.subscribe(METRICS) as items,
    ):
        broker.stop()
        async with bus(broker.url, "agent", backoff=(0.05, 0.2)) as pub:
            assert not pub.connected  # unreachable is not an error: it keeps trying
            for event in sent:
                await pub.publish(training_topic("job-1", "metrics"), event)
            broker.start()
            await asyncio.wait_for(pub.flush(), 10)
            assert [event for _, event in await take(items, 3)] == sent


WILL_CLIENT = """
import asyncio, sys
from emulator.bus.mqtt import MqttBus
from emulator.domain.events import AgentHeartbeat, agent_topic

async def main(url):
    topic = agent_topic("doomed", "heartbeat")
    will = (topic, AgentHeartbeat(ts=0.0, agent="doomed", online=False))
    async with MqttBus(url, client_id="doomed", will=will) as bus:
        await bus.publish(topic, AgentHeartbeat(ts=0.0, agent="doomed"), retain=True)
        await bus.flush()
        print("ready", flush=True)
        await asyncio.Event().wait()

asyncio.run(main(sys.argv[1]))
"""


async def test_last_will_is_published_when_a_client_process_dies(
    broker: Broker, tmp_path: Path
) -> None:
    script = tmp_path / "doomed.py"
    script.write_text(WILL_CLIENT)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    async with bus(broker.url, "watcher") as watcher, watcher.subscribe(HEARTBEATS) as beats:
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(script), broker.url, env=env, stdout=asyncio.subprocess.PIPE
        )
        assert process.stdout is not None
        assert await asyncio.wait_for(process.stdout.readline(), 20) == b"ready\n"
        (_, online), *_ = await take(beats, 1)
        assert isinstance(online, AgentHeartbeat) and online.online
        process.send_signal(signal.SIGKILL)
        await process.wait()
        (topic, will), *_ = await take(beats, 1)
        assert topic == agent_topic("doomed", "heartbeat")
        assert isinstance(will, AgentHeartbeat) and not will.online
    async with bus(broker.url, "late") as late, late.subscribe(HEARTBEATS) as beats:
        (_, retained), *_ = await take(beats, 1)
        assert retained == will  # the will replaced the retained "online" heartbeat


async def test_user_name_and_password(broker_factory: BrokerFactory) -> None:
    broker = broker_factory(users={"amt": "s3cret"})
    event = metric(1)
    async with bus(broker.url_for("amt", "s3cret"), "auth") as ok, ok.subscribe(METRICS) as items:
        await ok.publish(training_topic("j", "metrics"), event)
        assert await take(items, 1) == [(training_topic("j", "metrics"), event)]


async def test_a_wrong_password_or_no_password_is_refused_clearly(
    broker_factory: BrokerFactory,
) -> None:
    broker = broker_factory(users={"amt": "s3cret"})
    for url in (broker.url_for("amt", "wrong"), broker.url):
        with pytest.raises(BusConnectError, match=r"refused client 'intruder'.*password"):
            async with bus(url, "intruder"):
                pass


async def test_tls_listener_with_a_self_signed_ca(broker_factory: BrokerFactory) -> None:
    broker = broker_factory(tls=True)
    async with bus(broker.tls_url, "tls") as secure, secure.subscribe(METRICS) as items:
        event = metric(7)
        await secure.publish(training_topic("j", "metrics"), event)
        assert await take(items, 1) == [(training_topic("j", "metrics"), event)]
    untrusted = f"mqtts://127.0.0.1:{broker.tls_port}"  # system CAs do not know this cert
    async with bus(untrusted, "untrusting", close_timeout=0.1) as doubtful:
        assert not doubtful.connected


async def test_an_undecodable_message_is_dropped_and_the_bus_goes_on(broker: Broker) -> None:
    async with bus(broker.url, "robust") as robust, robust.subscribe(METRICS) as items:
        topic = training_topic("j", "metrics")
        await asyncio.to_thread(
            paho.mqtt.publish.single, topic, b"{not json", qos=1, port=broker.port
        )
        good = metric(3)
        await robust.publish(topic, good)
        assert await take(items, 1) == [(topic, good)]
