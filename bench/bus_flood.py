"""Synthetic agents for bench/bus.py: MQTT clients that publish `TrainingMetric` events, as fast
as the bus takes them, exactly as `amt agent` publishes them (same `MqttBus`, topic and codec).

One process runs several clients (one `MqttBus` each, i.e. one MQTT connection and client id
per simulated agent), so that eight agents do not need eight Python processes on a small
machine. Each client streams points for its own training job; the value of each point is its
send time, so the stored series also says how late each point landed.

    python bench/bus_flood.py --bus mqtt://127.0.0.1:PORT --job JOB1 --job JOB2 --events N

Prints one JSON line: events published and the seconds it took (to the last PUBACK).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402

from emulator.bus.mqtt import MqttBus  # noqa: E402
from emulator.clock import Clock, SystemClock  # noqa: E402
from emulator.domain.events import TrainingMetric, training_topic  # noqa: E402

METRIC = "sent"
BATCH = 200
"""Events queued per turn of the event loop: small enough that sending overlaps queueing."""


async def publish_job(url: str, job: str, events: int, clock: Clock) -> None:
    """One simulated agent streaming `events` metric points of `job`, in order."""
    topic = training_topic(job, "metrics")
    async with MqttBus(url, client_id=f"bench-flood-{job}", clock=clock) as bus:
        for seq in range(1, events + 1):
            now = clock.now()
            await bus.publish(
                topic, TrainingMetric(ts=now, job=job, seq=seq, name=METRIC, value=now)
            )
            if seq % BATCH == 0:
                await clock.sleep(0)  # let the drain task send while we keep producing
        await bus.flush()


async def flood(url: str, jobs: list[str], events: int, clock: Clock) -> dict[str, float]:
    started = clock.monotonic()
    await asyncio.gather(*(publish_job(url, job, events, clock) for job in jobs))
    return {"events": float(events * len(jobs)), "seconds": clock.monotonic() - started}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bus", required=True)
    parser.add_argument("--job", action="append", required=True, help="one client per job")
    parser.add_argument("--events", type=int, required=True, help="events per job")
    args = parser.parse_args(argv)
    result = asyncio.run(flood(args.bus, args.job, args.events, SystemClock()))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
