"""The emulator's own control surface, beside the AWS one: health, metric series, reset."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from emulator import __version__
from emulator.api.keys import HEALTH_PROVIDERS, RESET_HOOKS
from emulator.api.reset import reset
from emulator.context import CONTEXT


def add_routes(app: web.Application) -> None:
    app[HEALTH_PROVIDERS] = []
    app[RESET_HOOKS] = []
    app.router.add_get("/health", health)
    app.router.add_get("/_emulator/health", health)
    app.router.add_post("/_emulator/reset", reset)
    app.router.add_post("/moto-api/reset", reset)
    app.router.add_get("/_emulator/training-jobs/{name}/metrics", metric_series)


async def metric_series(request: web.Request) -> web.Response:
    """Every stored point of every metric of a training job: what learning curves are drawn from.

    CloudWatch's statistics aggregate by period; this answers the exact per-epoch series.
    """
    store = request.app[CONTEXT].store
    name = request.match_info["name"]
    row = store.get_training_job(name)
    if row is None:
        return web.json_response(
            {"__type": "ValidationException", "message": "Requested resource not found."},
            status=400,
        )
    job = row.doc["TrainingJobName"]
    metrics = {
        metric: [
            {"step": s, "timestamp": t, "value": v} for s, t, v in store.metric_series(job, metric)
        ]
        for metric, _ts, _value in store.final_metrics(job)
    }
    return web.json_response({"TrainingJobName": job, "Metrics": metrics})


async def health(request: web.Request) -> web.Response:
    body: dict[str, Any] = {"status": "ok", "version": __version__}
    for provider in request.app[HEALTH_PROVIDERS]:
        body.update(provider())
    return web.json_response(body)


def index(request: web.Request) -> web.Response:
    return web.json_response(
        {"service": "amt-emulator", "version": __version__, "health": "/health"}
    )
