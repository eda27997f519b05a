"""Composition root: the server as `amt serve` runs it, and as tests and the plugin embed it."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING

from aiohttp import web

from agents.agent import Agent
from agents.resources import discover_gpus
from agents.runner import AgentContext
from agents.runtime.choice import engine_for
from agents.runtime.container import sweep
from emulator.api.app import Component, create_app
from emulator.api.aws_services import AWS, AwsServices
from emulator.api.keys import HEALTH_PROVIDERS, RESET_HOOKS
from emulator.bus.base import Bus
from emulator.bus.factory import open_bus
from emulator.clock import Clock, ScaledClock, SystemClock
from emulator.cloudwatch import CloudWatchSink
from emulator.context import CONTEXT
from emulator.control_plane import ControlPlane, job_scopes, running
from emulator.settings import Settings
from emulator.store.sqlite import Store

if TYPE_CHECKING:
    from emulator.simulator.agent import OriginLookup

log = logging.getLogger(__name__)


def endpoint_url(settings: Settings) -> str:
    return settings.endpoint


def local_agents_component(settings: Settings) -> Component:
    """cleanup_ctx: the in-process agents, sharing the server's bus and clock."""

    async def component(app: web.Application) -> AsyncIterator[None]:
        ctx = app[CONTEXT]
        gpus = tuple(await asyncio.to_thread(discover_gpus))
        engine = await asyncio.to_thread(engine_for, settings.runtime, settings.container_cli)
        if engine is not None:
            await sweep(engine, str(settings.jobs_dir.absolute()), ctx.clock)
        async with AsyncExitStack() as stack:
            for index in range(settings.agents):
                agent_ctx = AgentContext(
                    work_dir=settings.jobs_dir,
                    clock=ctx.clock,
                    images=dict(settings.images),
                    s3_endpoint_url=endpoint_url(settings),
                    region=settings.region,
                    stop_grace_seconds=settings.stop_grace_seconds,
                    credentials=settings.agent_credentials,
                    num_cpus=os.cpu_count() or 1,
                    runtime_kind=settings.runtime,
                    engine=engine,
                )
                agent = Agent(
                    f"local-{index + 1}",
                    ctx.bus,
                    agent_ctx,
                    slots=settings.agent_slots,
                    host="local",
                    gpus=gpus if index == 0 else (),
                    accept_gpu_types=True,
                )
                await stack.enter_async_context(agent.running_context())
            yield

    return component


def simulated_agents_component(settings: Settings) -> Component:
    """cleanup_ctx (`--simulate`): agents replaying the curve set, on the server's clock.

    The simulator is imported here, not with this module: a server that simulates nothing
    (and every test session that embeds one) starts without it."""
    from emulator.simulator.agent import CurveDrawer, Replay, SimulatedAgent  # noqa: PLC0415 - only `--simulate` needs the simulator
    from emulator.simulator.curves import load_set  # noqa: PLC0415 - only `--simulate` needs the simulator
    from emulator.simulator.engine import SimulationSettings  # noqa: PLC0415 - only `--simulate` needs the simulator

    async def component(app: web.Application) -> AsyncIterator[None]:
        ctx = app[CONTEXT]
        assert settings.simulate is not None
        curve_set = await asyncio.to_thread(load_set, settings.simulate)
        replay = Replay(
            CurveDrawer(curve_set, replay=settings.replay),
            origin_lookup(ctx.store),
            SimulationSettings(
                startup_seconds=settings.startup_seconds, epoch_seconds=settings.epoch_seconds
            ),
        )
        app[HEALTH_PROVIDERS].append(lambda: {"simulation": simulation_health(settings, ctx.clock)})
        async with AsyncExitStack() as stack:
            for index in range(max(1, settings.agents)):
                agent_ctx = AgentContext(work_dir=settings.jobs_dir, clock=ctx.clock)
                agent = SimulatedAgent(
                    f"local-sim-{index + 1}", ctx.bus, agent_ctx, replay, slots=settings.agent_slots
                )
                await stack.enter_async_context(agent.running_context())
            yield

    return component


def origin_lookup(store: Store) -> OriginLookup:
    """A training job's parent tuning job, launch number and definition, from the store."""
    from emulator.simulator.agent import JobOrigin  # noqa: PLC0415 - only `--simulate` needs the simulator

    def origin(job: str) -> JobOrigin:
        child = store.get_training_job(job)
        tuning = child.tuning_job if child else None
        parent = store.get_tuning_job(tuning) if tuning else None
        if child is None or parent is None:
            return JobOrigin()
        index = store.child_names(parent.name).index(child.name)
        return JobOrigin(parent.doc, index + 1, child.definition)

    return origin


def simulation_health(settings: Settings, clock: Clock) -> dict[str, object]:
    """What /health says of simulated time: the set, the scale asked for and the one kept."""
    kept = clock.effective_scale() if isinstance(clock, ScaledClock) else settings.time_scale
    return {
        "curves": settings.simulate,
        "time_scale": settings.time_scale,
        "effective_time_scale": round(kept, 1),
        "virtual_time": clock.now(),
    }


CONTROL_PLANE = web.AppKey("control_plane", ControlPlane)


async def control_plane_component(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: run the control plane for the app's lifetime."""
    plane = ControlPlane(
        app[CONTEXT],
        CloudWatchSink(app[AWS], job_scopes(app[CONTEXT])),
        suggestion_bus=app.get(SUGGESTION_BUS),
    )
    app[CONTROL_PLANE] = plane
    app[HEALTH_PROVIDERS].append(plane.health)
    app[RESET_HOOKS].append(plane.forget)
    async with running(plane):
        yield


def load_cloudwatch(aws: AwsServices) -> None:
    """Load moto's CloudWatch Logs and metrics backends, which the control plane writes every
    log line and metric point to: moto takes a good part of a second to import, and on the
    event loop, under a training job's first lines, every point behind them would wait."""
    aws.logs_backend()
    aws.cloudwatch_backend()


class CloudWatchLoader:
    """Loads moto's CloudWatch on a worker thread, once, as the server sends its first answer:
    not during start-up, where it would compete with everything that comes before that answer
    (in an embedded server, the caller's own boto3 client too), and well before a training job
    can print its first line."""

    def __init__(self, aws: AwsServices) -> None:
        self._aws = aws
        self._loading: asyncio.Task[None] | None = None

    async def start(self, _request: web.Request, _response: web.StreamResponse) -> None:
        """on_response_prepare: begin with the first response."""
        if self._loading is None:
            self._loading = asyncio.create_task(
                asyncio.to_thread(load_cloudwatch, self._aws), name="loading moto's CloudWatch"
            )

    async def finish(self, _app: web.Application) -> None:
        """on_cleanup: a thread cannot be cancelled, so wait for it; its failure is only
        logged (the first write then loads moto itself)."""
        if self._loading is None:
            return
        try:
            await self._loading
        except Exception:
            log.exception("loading moto's CloudWatch failed")


def bus_component(url: str) -> Component:
    """cleanup_ctx: connect to an external broker before anything publishes on the bus."""

    async def component(app: web.Application) -> AsyncIterator[None]:
        async with open_bus(url, client_id="amt-control-plane", clock=app[CONTEXT].clock) as bus:
            app[CONTEXT].bus = bus
            yield

    return component


SUGGESTION_BUS = web.AppKey("suggestion_bus", Bus)


def suggestion_bus_component(url: str) -> Component:
    """cleanup_ctx (`--simulate --remote-tuners`): the broker, for suggestions only. The
    simulated agents share the server's virtual clock, so they and the control plane keep the
    in-process bus; `amt tuner` workers compute pure functions and need no clock of ours."""

    async def component(app: web.Application) -> AsyncIterator[None]:
        async with open_bus(url, client_id="amt-control-plane", clock=SystemClock()) as bus:
            app[SUGGESTION_BUS] = bus
            yield

    return component


def server_clock(settings: Settings) -> Clock:
    """Wall time, or virtual time `time_scale` times faster for `--simulate`."""
    return ScaledClock(settings.time_scale) if settings.simulate else SystemClock()


def build_app(settings: Settings, *, clock: Clock | None = None) -> web.Application:
    """The server: the embedded bus and local agents, or an external broker (`--bus`); with
    `simulate`, simulated agents on a virtual clock."""
    settings.check_simulation()
    components: list[Callable[[web.Application], AsyncIterator[None]]] = []
    if settings.bus_url and settings.simulate:
        components.append(suggestion_bus_component(settings.bus_url))
    elif settings.bus_url:
        components.append(bus_component(settings.bus_url))
    components.append(control_plane_component)
    if settings.simulate:
        components.append(simulated_agents_component(settings))
    elif settings.agents > 0:
        components.append(local_agents_component(settings))
    app = create_app(settings, clock=clock or server_clock(settings), components=components)
    loader = CloudWatchLoader(app[AWS])
    app.on_response_prepare.append(loader.start)
    app.on_cleanup.append(loader.finish)
    return app
