"""The emulator's own control surface, beside the AWS one: health and agent listing."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from emulator import __version__

HEALTH_PROVIDERS = web.AppKey("health_providers", list)


def add_routes(app: web.Application) -> None:
    app[HEALTH_PROVIDERS] = []
    app.router.add_get("/health", health)
    app.router.add_get("/_emulator/health", health)


async def health(request: web.Request) -> web.Response:
    body: dict[str, Any] = {"status": "ok", "version": __version__}
    for provider in request.app[HEALTH_PROVIDERS]:
        body.update(provider())
    return web.json_response(body)


def index(request: web.Request) -> web.Response:
    return web.json_response(
        {"service": "amt-emulator", "version": __version__, "health": "/health"}
    )
