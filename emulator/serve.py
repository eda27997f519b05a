"""Composition root: the server as `amt serve` runs it, and as tests and the plugin embed it."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack

from aiohttp import web

from agents.agent import Agent
from agents.resources import discover_gpus
from agents.runner import AgentContext
from emulator.api.app import CONTEXT, Component, create_app
from emulator.bus.factory import open_bus
from emulator.clock import Clock
from emulator.control_plane import control_plane_component
from emulator.settings import Settings


def endpoint_url(settings: Settings) -> str:
    host = settings.host if settings.host not in ("0.0.0.0", "::") else "127.0.0.1"
    return f"http://{host}:{settings.port}"


def local_agents_component(settings: Settings) -> Component:
    """cleanup_ctx: the in-process agents, sharing the server's bus and clock."""

    async def component(app: web.Application) -> AsyncIterator[None]:
        ctx = app[CONTEXT]
        gpus = tuple(await asyncio.to_thread(discover_gpus))
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


def bus_component(url: str) -> Component:
    """cleanup_ctx: connect to an external broker before anything publishes on the bus."""

    async def component(app: web.Application) -> AsyncIterator[None]:
        async with open_bus(url, client_id="amt-control-plane", clock=app[CONTEXT].clock) as bus:
            app[CONTEXT].bus = bus
            yield

    return component


def build_app(settings: Settings, *, clock: Clock | None = None) -> web.Application:
    """The server: the embedded bus and local agents, or an external broker (`--bus`)."""
    components: list[Callable[[web.Application], AsyncIterator[None]]] = []
    if settings.bus_url:
        components.append(bus_component(settings.bus_url))
    components.append(control_plane_component)
    if settings.agents > 0:
        components.append(local_agents_component(settings))
    return create_app(settings, clock=clock, components=components)
